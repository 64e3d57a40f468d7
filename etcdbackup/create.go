// Package etcdbackup takes a backup of the bare-metal etcd cluster on demand,
// exactly as CSM's kube-etcdbackup CronJob makes one, and stores it in S3: an
// object `<prefix>etcd-backup-<UTC time>.tar.gz` holding
// `etcd-backup-<time>/etcd-dump.bin`, which `ncnpush etcd restore` (and CSM's
// manual runbook) can restore. It is a library, kept apart from the CLI
// (cmd/backups_create.go), like etcdrestore.
//
// The steps are the built-in task etcd-backup-create and its templates: every
// master checks its own member's health, the first healthy one (in inventory
// order) is picked, `etcdctl snapshot save` runs there into a private
// directory, and this package supplies the Go actions the task names: the
// pick, and the stream of the dump over SCP straight into the S3 upload (no
// file on the workstation) followed by a full verification of the stored
// object. The task etcd-backup-create-finish then always removes the
// snapshot from the member, whether the backup worked or not.
package etcdbackup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// Built-in task names.
const (
	TaskCreate = "etcd-backup-create"
	TaskFinish = "etcd-backup-create-finish"
)

// Action names the task files use.
const (
	actionPick   = "etcd-backup-pick"
	actionUpload = "etcd-backup-upload"
)

// Register names the task files use.
const (
	factHealth   = "local_health"
	factSnapshot = "snapshot"
)

// Sentinels, for errors.Is.
var (
	// ErrS3: the S3 bucket could not be listed before anything started on a
	// node (endpoint, credentials, bucket); nothing was changed.
	ErrS3 = errors.New("S3 check failed")
	// ErrNoHealthyMember: no master's etcd member passed `etcdctl endpoint
	// health`; nothing was changed.
	ErrNoHealthyMember = errors.New("no healthy etcd member")
	// ErrUpload: the snapshot could not be streamed into S3; no object was
	// created.
	ErrUpload = errors.New("backup upload failed")
	// ErrVerify: the stored object did not verify (it is deleted when it is
	// known bad, kept when only the check itself failed).
	ErrVerify = errors.New("backup verification failed")
	// ErrCleanup: the snapshot could not be removed from the member.
	ErrCleanup = errors.New("snapshot not removed from the member")
)

// Store is what a backup needs of the S3 catalogue; *backups.Client is one.
type Store interface {
	Bucket() string
	List(ctx context.Context) ([]backups.Backup, error)
	Upload(ctx context.Context, name string, r io.Reader, size int64) (backups.Backup, error)
	Verify(ctx context.Context, b backups.Backup) (backups.VerifyResult, error)
	Delete(ctx context.Context, keys []string) error
}

var _ Store = (*backups.Client)(nil)

// Options configure one backup.
type Options struct {
	// Env is the phase environment: the master hosts (connected; a host
	// without a connection is reported and never picked), templates, output,
	// logger. Its Vars and Actions are set by Run.
	Env *phases.Env
	// Backups is the S3 catalogue the backup is stored in.
	Backups Store
	// Vars override the task's variables (-e key=value): pki_dir, tmp_dir,
	// snapshot_timeout.
	Vars map[string]any
	// Progress draws the transfer (nil: none).
	Progress ProgressFunc
	// Now gives the backup's time stamp, hence its name (default time.Now).
	Now func() time.Time
}

// ProgressFunc starts a transfer display for host of total bytes and
// returns the function to report bytes done and the one to end it (err nil
// on success).
type ProgressFunc func(host string, total int64) (update func(done int64), end func(err error))

// Result is what a backup made, beside the report.
type Result struct {
	// Name is the backup's name, etcd-backup-<UTC time>.
	Name string `json:"name"`
	// Host is the master the snapshot was taken on ("" if none was picked).
	Host string `json:"host,omitempty"`
	// Backup is the stored object; nil unless it was stored.
	Backup *backups.Backup `json:"backup,omitempty"`
	// Verify is the verification of the stored object; nil unless it ran.
	Verify *backups.VerifyResult `json:"verify,omitempty"`
	// NodeSHA256 is the dump's sha256 as sha256sum printed it on the node;
	// Verify.SHA256 equals it when the backup is good.
	NodeSHA256 string `json:"nodeSha256,omitempty"`
}

// run is one backup's shared state.
type run struct {
	opts  Options
	env   *phases.Env
	runID string
	name  string

	mu     sync.Mutex
	picked *hosts.Host
	once   []*phases.TemplatePhase // the running task's phases that run on the picked member
	res    Result
}

// Run takes a backup with the built-in tasks and returns the report of every
// phase that ran (the backup, then the snapshot's removal). The error wraps
// ErrS3, ErrNoHealthyMember, ErrUpload, ErrVerify or ErrCleanup, or is a
// phase's error (the snapshot could not be taken).
func Run(ctx context.Context, o Options) (*output.Report, Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	r := &run{opts: o, env: o.Env, name: backups.NameFor(now),
		runID: now.UTC().Format("20060102T150405Z") + "-" + randomHex(3)}
	r.res.Name = r.name

	create, err := tasks.LoadBuiltin(TaskCreate)
	if err != nil {
		return nil, r.result(), err
	}
	if r.env.Logger == nil {
		r.env.Logger = slog.New(slog.DiscardHandler)
	}
	r.env.InitVars(create.Vars, o.Vars)
	r.env.SetVar("run_id", r.runID)
	r.env.SetVar("backup_name", r.name)
	r.env.Actions = map[string]phases.ActionFunc{
		actionPick:   r.pickPhase,
		actionUpload: r.uploadPhase,
	}

	// Fail on a bad endpoint, bucket or credentials before any node is
	// touched.
	if _, err := o.Backups.List(ctx); err != nil {
		return nil, r.result(), fmt.Errorf("%w: nothing was changed: %w", ErrS3, err)
	}

	rep, runErr := r.runTask(ctx, create, nil)
	if h := r.pickedHost(); h != nil {
		// The snapshot holds every Kubernetes Secret: remove it on every
		// path, also after Ctrl-C.
		fin, err := tasks.LoadBuiltin(TaskFinish)
		if err != nil {
			return rep, r.result(), err
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		var finErr error
		rep, finErr = r.runTask(fctx, fin, rep)
		cancel()
		if finErr != nil {
			finErr = fmt.Errorf("%w: the snapshot directory %s/ncnpush-etcd-backup-%s.* is still on %s: %w",
				ErrCleanup, r.env.Vars["tmp_dir"], r.runID, h.Name, finErr)
			if runErr == nil {
				runErr = finErr
			} else {
				runErr = fmt.Errorf("%w; %w", runErr, finErr)
			}
		}
	}
	if rep != nil {
		rep.Action = TaskCreate
		rep.Status = output.StatusOK
		rep.Error = ""
		if runErr != nil {
			rep.Status = output.StatusFailed
			rep.Error = runErr.Error()
		}
	}
	return rep, r.result(), runErr
}

// runTask runs task t and appends its phases to prev. The task's phases with
// strategy once run on the picked member.
func (r *run) runTask(ctx context.Context, t *tasks.Task, prev *output.Report) (*output.Report, error) {
	ps, err := phases.FromTask(r.env, t)
	if err != nil {
		return prev, err
	}
	r.mu.Lock()
	r.once = nil
	for _, p := range ps {
		if tp, ok := p.(*phases.TemplatePhase); ok && tp.Spec.Strategy == tasks.Once {
			r.once = append(r.once, tp)
		}
	}
	picked := r.picked
	r.mu.Unlock()
	if picked != nil {
		if err := r.pick(picked); err != nil {
			return prev, err
		}
	}
	m := &phases.Manager{Action: t.Name, Phases: ps, Hosts: r.env.Hosts.Names(), Out: r.env.Out, Logger: r.env.Logger}
	rep, err := m.Run(ctx)
	return phases.AppendReport(prev, rep), err
}

// pick makes h the member the snapshot is taken on: the first host of every
// once-phase of the running task, so that they run there.
func (r *run) pick(h *hosts.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.picked = h
	r.res.Host = h.Name
	for _, tp := range r.once {
		i := slices.IndexFunc(tp.Hosts, func(x *hosts.Host) bool { return x.Name == h.Name })
		if i < 0 {
			return fmt.Errorf("phase %q does not run on the picked member %s (hosts: %q)", tp.Title(), h.Name, tp.Spec.Hosts)
		}
		tp.Hosts = slices.Concat(hosts.Hosts{tp.Hosts[i]}, tp.Hosts[:i], tp.Hosts[i+1:])
	}
	return nil
}

func (r *run) pickedHost() *hosts.Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.picked
}

func (r *run) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// TaskPush is the built-in task `ncnpush backups push` runs.
const TaskPush = "backup-push"

// actionStream is the Go action tasks/backup-push.yaml names.
const actionStream = "backup-push-stream"

// ErrPush is matched (errors.Is) when the snapshot could not be streamed to
// every host; a host's failed phase (directory, check) wraps the phase's own
// error.
var ErrPush = errors.New("snapshot push failed")

// Options configure one `backups push`.
type Options struct {
	// Env is the phase environment: the connected hosts, templates, output,
	// logger. Its Vars and Actions are set by Run.
	Env *phases.Env
	// Backups is the S3 catalogue the snapshot is streamed from.
	Backups *backups.Client
	// Backup is the backup to stage (already selected).
	Backup backups.Backup
	// Dest is the private directory on every host (default: the task's
	// dest_dir, /var/lib/ncnpush-backups).
	Dest string
	// Vars override the task's variables (-e key=value).
	Vars map[string]any
	// MaxDumpSize is the largest snapshot accepted (0: backups' default).
	MaxDumpSize int64
	// DryRun renders the scripts and says what would be streamed; it
	// changes nothing on any host.
	DryRun bool
	// Prompt is where the dry run says what it would stream (nil: nowhere).
	Prompt io.Writer
	// Progress draws the per-host transfer bars (nil: none).
	Progress ProgressFunc
	// Verify reads every staged copy back on its host and compares its
	// sha256 (the task's verify_on_node). Without it the check on every host
	// is mode, owner and exact size: the stream already checked the
	// snapshot's own sha256 and SSH authenticated every byte.
	Verify bool
}

// Result is what a push staged, beside the report.
type Result struct {
	// Path is the snapshot's path on every host.
	Path string `json:"path"`
	// Bytes is the snapshot's size.
	Bytes int64 `json:"bytes"`
	// SHA256 is the snapshot's sha256 (verified in the stream against the
	// sum etcd appended to it, and read back on every host with Verify);
	// empty unless the stream ended.
	SHA256 string `json:"sha256,omitempty"`
	// Hosts are the hosts the snapshot was staged and checked on.
	Hosts []string `json:"hosts"`
}

// FileName is the staged snapshot's name for backup name.
func FileName(name string) string { return name + "-etcd-dump.bin" }

// Run stages o.Backup on every host of o.Env: a private directory, the
// stream from S3 to every host at once, and a check on every host (mode,
// owner, size; the sha256 too with o.Verify). The
// error wraps ErrPush or a phase's error.
func Run(ctx context.Context, o Options) (*output.Report, Result, error) {
	env := o.Env
	t, err := tasks.LoadBuiltin(TaskPush)
	if err != nil {
		return nil, Result{}, err
	}
	vars := map[string]any{}
	for k, v := range o.Vars {
		vars[k] = v
	}
	if o.Dest != "" {
		vars["dest_dir"] = o.Dest
	}
	if o.Verify {
		vars["verify_on_node"] = true
	}
	env.InitVars(t.Vars, vars)
	file := FileName(o.Backup.Name)
	env.SetVar("dump_file", file)
	env.SetVar("dump_sha256", "(sha256 of the snapshot, known once it is streamed)")
	env.SetVar("dump_bytes", "(size of the snapshot, known once it is streamed)")
	// The room needed is the snapshot's uncompressed size, from the tar
	// header at the start of the stream (the object's size is the gzip's:
	// real etcd data compresses 10-50 times).
	size, err := dumpSize(ctx, o)
	if err != nil {
		return nil, Result{}, err
	}
	env.SetVar("dump_size", fmt.Sprint(size))
	env.DryRun = o.DryRun
	// Each host's directory is resolved from its own variables, as its
	// scripts resolve it.
	targetFor := func(host string) string {
		return path.Join(fmt.Sprint(env.VarsFor(env.Hosts.Find(host), t)["dest_dir"]), file)
	}
	target := targetFor("")
	if len(env.Hosts) > 0 {
		target = targetFor(env.Hosts[0].Name)
	}
	res := Result{Path: target, Hosts: env.Hosts.Names()}
	env.Actions = map[string]phases.ActionFunc{
		actionStream: func(env *phases.Env, spec tasks.Phase) (phases.Phase, error) {
			gp, err := phases.NewGoPhase(env, spec)
			if err != nil {
				return nil, err
			}
			return &streamPhase{GoPhase: gp, o: &o, env: env, target: targetFor, res: &res}, nil
		},
	}
	rep, err := phases.RunTask(ctx, env, t)
	if rep != nil {
		rep.Action = TaskPush
	}
	return rep, res, err
}

// streamPhase opens the backup once and streams its snapshot to every host.
type streamPhase struct {
	*phases.GoPhase
	o      *Options
	env    *phases.Env
	target func(host string) string
	res    *Result
}

func (p *streamPhase) DryRun(context.Context) error {
	if p.o.Prompt != nil {
		var targets []string
		for _, h := range p.Hosts {
			targets = append(targets, h.Name+":"+p.target(h.Name))
		}
		fmt.Fprintf(p.o.Prompt, "dry-run: would stream s3://%s/%s through gzip and tar to %s (mode 0600)\n",
			p.o.Backups.Bucket(), p.o.Backup.Key, strings.Join(targets, ", "))
	}
	return nil
}

func (p *streamPhase) Run(ctx context.Context) error {
	start := time.Now()
	dump, err := p.o.Backups.Open(ctx, p.o.Backup, backups.OpenOptions{MaxDumpSize: p.o.MaxDumpSize})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPush, err)
	}
	defer dump.Close()
	size := dump.Size()
	err = Push(ctx, PushOptions{
		Hosts: p.Hosts, Dump: dump, PathFor: p.target, Mode: 0o600, Progress: p.o.Progress,
		Record: func(host string, start time.Time, err error) {
			p.Record(host, start, err, fmt.Sprintf("%d bytes", size))
		},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPush, err)
	}
	p.res.Bytes, p.res.SHA256 = size, dump.HexSum()
	p.env.SetVar("dump_sha256", dump.HexSum())
	p.env.SetVar("dump_bytes", fmt.Sprint(size))
	if p.env.Logger != nil {
		p.env.Logger.Info("snapshot pushed", "host", "-", "backup", p.o.Backup.Name, "bytes", size,
			"sha256", dump.HexSum(), "hosts", len(p.Hosts), "duration", time.Since(start))
	}
	return nil
}

// dumpSize reads the uncompressed size of o.Backup's snapshot from the tar
// header at the start of its stream, and closes the stream.
func dumpSize(ctx context.Context, o Options) (int64, error) {
	if o.Backups == nil {
		return o.Backup.Size, nil
	}
	dump, err := o.Backups.Open(ctx, o.Backup, backups.OpenOptions{MaxDumpSize: o.MaxDumpSize})
	if err != nil {
		return 0, fmt.Errorf("%w: read the snapshot's size: %w", ErrPush, err)
	}
	defer dump.Close()
	return dump.Size(), nil
}

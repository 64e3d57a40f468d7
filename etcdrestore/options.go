// Package etcdrestore restores a bare-metal etcd cluster from an S3 snapshot
// on every master node: CSM's runbook "Restore Bare-Metal etcd Clusters from
// an S3 Snapshot", made safe. It is a library, kept apart from the CLI
// (cmd/etcd_restore.go), like etcdutl's snapshot.Manager.
//
// The steps are the built-in task etcd-restore (tasks/etcd-restore.yaml) and
// its templates; this package supplies the Go actions the task names, for
// what a template cannot do: the S3 stream and its fan-out to every master,
// the cross-checks of every node's facts, the locks, the operator's
// confirmation and the verification. If anything fails after etcd was
// stopped, the task etcd-rollback puts every member back as it was; the task
// etcd-restore-finish always removes the staged snapshot and releases the
// locks.
package etcdrestore

import (
	"io"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/phases"
)

// Options configure one restore.
type Options struct {
	// Env is the phase environment: connected master hosts, templates,
	// output, logger. Its Vars and Actions are set by Run.
	Env *phases.Env
	// Backups is the S3 catalogue the snapshot is streamed from.
	Backups *backups.Client
	// Backup is the backup to restore (already selected).
	Backup backups.Backup
	// Vars override the task's variables (-e key=value): staging_dir,
	// data_dir, kubeadm_config, lock_file, pki_dir, cluster_token,
	// start_timeout.
	Vars map[string]any
	// BumpRevision restores with --bump-revision/--mark-compacted (etcdutl
	// 3.5.10+ on every node), so that Kubernetes informers never see the
	// revision go backwards.
	BumpRevision bool
	// Yes skips the typed confirmation.
	Yes bool
	// DryRun reads facts, cross-checks them and renders every script, but
	// changes nothing on any node.
	DryRun bool
	// Stdin is where the typed confirmation is read from.
	Stdin io.Reader
	// Prompt is where the plan and the confirmation prompt are written.
	Prompt io.Writer
	// Progress draws the per-host transfer bars (nil: none).
	Progress ProgressFunc
	// AfterVerify describes, in a few words, what the caller does once the
	// restore is verified (the CLI: ncnpush k8s heal); the plan shows it as
	// its last step. Empty: the plan ends with the verification.
	AfterVerify string
	// MaxDumpSize is the largest snapshot accepted (0: backups' default).
	MaxDumpSize int64
	// VerifyTimeout bounds how long the verification waits for every member
	// to agree (default 60s).
	VerifyTimeout time.Duration
	// Now gives the run's time stamp (default time.Now).
	Now func() time.Time
}

// ProgressFunc starts a transfer display for host of total bytes and
// returns the function to report bytes done and the one to end it (err nil
// on success).
type ProgressFunc func(host string, total int64) (update func(done int64), end func(err error))

// ConfirmWord is what the operator types to go ahead.
const ConfirmWord = "restore"

package etcdrestore

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/staging"
	"github.com/ncnpush/ncnpush/tasks"
)

// chunkSize is the unit the snapshot is fanned out in (see staging.Push).
const chunkSize = staging.ChunkSize

// DumpFile is the staged snapshot's name inside the staging directory.
const DumpFile = "etcd-dump.bin"

// pushPhase opens the backup once from S3 and streams the snapshot to every
// master at the same time over SCP, into the staging directory, mode 0600.
// Nothing is written on the workstation.
type pushPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) pushPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &pushPhase{GoPhase: gp, r: r}, nil
}

func (p *pushPhase) DryRun(context.Context) error {
	b := p.r.opts.Backup
	var targets []string
	for _, h := range p.Hosts {
		targets = append(targets, h.Name+":"+p.target(h.Name))
	}
	fmt.Fprintf(p.r.opts.Prompt, "dry-run: would stream s3://%s/%s through gzip and tar to %s (mode 0600)\n",
		p.r.opts.Backups.Bucket(), b.Key, strings.Join(targets, ", "))
	return nil
}

// target is the staged snapshot on host: in this run's staging directory
// there, as the templates see it.
func (p *pushPhase) target(host string) string {
	return path.Join(p.r.pathsOf(host).Staging, DumpFile)
}

func (p *pushPhase) Run(ctx context.Context) error {
	start := time.Now()
	dump, err := p.r.opts.Backups.Open(ctx, p.r.opts.Backup, backups.OpenOptions{MaxDumpSize: p.r.opts.MaxDumpSize})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPush, err)
	}
	defer dump.Close()
	if err := p.stream(ctx, dump); err != nil {
		return fmt.Errorf("%w: %w", ErrPush, err)
	}
	p.r.env.SetVar("dump_sha256", dump.HexSum())
	p.r.env.SetVar("dump_bytes", fmt.Sprint(dump.Size()))
	p.r.env.Logger.Info("snapshot pushed", "host", "-", "backup", p.r.opts.Backup.Name, "bytes", dump.Size(),
		"sha256", dump.HexSum(), "hosts", len(p.Hosts), "duration", time.Since(start))
	return nil
}

// stream fans dump out to every host's upload (staging.Push); it fails
// unless every host received the whole, verified snapshot.
func (p *pushPhase) stream(ctx context.Context, dump *backups.Dump) error {
	p.r.mu.Lock()
	p.r.dumpSize = dump.Size()
	p.r.mu.Unlock()
	size := dump.Size()
	return staging.Push(ctx, staging.PushOptions{
		Hosts:    p.Hosts,
		Dump:     dump,
		PathFor:  p.target,
		Mode:     0o600,
		Progress: staging.ProgressFunc(p.r.opts.Progress),
		Record: func(host string, start time.Time, err error) {
			p.Record(host, start, err, fmt.Sprintf("%d bytes", size))
		},
	})
}

package etcdrestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// chunkSize is the unit the snapshot is fanned out in; queueDepth chunks may
// wait for each host, so memory stays flat: hosts × queueDepth × chunkSize
// at most, whatever the snapshot's size.
const (
	chunkSize  = 1 << 20
	queueDepth = 4
)

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
	fmt.Fprintf(p.r.opts.Prompt, "dry-run: would stream s3://%s/%s through gzip and tar to %s on %d masters (mode 0600)\n",
		p.r.opts.Backups.Bucket(), b.Key, p.target(), len(p.Hosts))
	return nil
}

func (p *pushPhase) target() string {
	return path.Join(fmt.Sprint(p.r.env.Vars["staging_dir"]), DumpFile)
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
	p.r.env.Logger.Info("snapshot pushed", "host", "-", "backup", p.r.opts.Backup.Name, "bytes", dump.Size(),
		"sha256", dump.HexSum(), "hosts", len(p.Hosts), "duration", time.Since(start))
	return nil
}

// stream fans dump out to every host's upload; it fails unless every host
// received the whole, verified snapshot.
func (p *pushPhase) stream(ctx context.Context, dump *backups.Dump) error {
	size := dump.Size()
	p.r.mu.Lock()
	p.r.dumpSize = size
	p.r.mu.Unlock()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queues := make(map[*hosts.Host]chan []byte, len(p.Hosts))
	for _, h := range p.Hosts {
		queues[h] = make(chan []byte, queueDepth)
	}
	// Readers feed each host's upload from its queue.
	upErr := make(chan error, 1)
	go func() {
		upErr <- p.Hosts.ParallelEach(ctx, len(p.Hosts), func(ctx context.Context, h *hosts.Host) error {
			hstart := time.Now()
			update, end := p.progress(h.Name, size)
			err := h.Conn.Upload(ctx, &queueReader{ctx: ctx, q: queues[h]}, transport.UploadOptions{
				Path: p.target(), Size: size, Mode: 0o600, Progress: update,
			})
			end(err)
			p.Record(h.Name, hstart, err, fmt.Sprintf("%d bytes", size))
			if err != nil {
				cancel(err)
				return fmt.Errorf("push snapshot: %w", err)
			}
			return nil
		})
	}()
	readErr := p.fanOut(ctx, dump, queues)
	if readErr != nil {
		cancel(readErr)
	}
	if err := <-upErr; readErr == nil {
		return err
	}
	return readErr
}

// fanOut reads the dump to its end (which verifies it) and hands every chunk
// to every host's queue. The queues are closed at the end; on error they are
// closed and the uploads see the context's cause.
func (p *pushPhase) fanOut(ctx context.Context, dump *backups.Dump, queues map[*hosts.Host]chan []byte) error {
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	for {
		buf := make([]byte, chunkSize)
		n, err := io.ReadFull(dump, buf)
		if n > 0 {
			for _, q := range queues {
				select {
				case q <- buf[:n]:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// ReadFull can drop an error that comes with the last bytes: the
			// dump keeps it. Only a dump read to its verified end is pushed.
			if err := dump.Err(); err != nil {
				return err
			}
			if !dump.Verified() {
				return fmt.Errorf("snapshot stream of %s ended before it was verified", dump.Name())
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (p *pushPhase) progress(host string, total int64) (func(int64), func(error)) {
	if p.r.opts.Progress == nil {
		return nil, func(error) {}
	}
	return p.r.opts.Progress(host, total)
}

// queueReader reads chunks from a queue.
type queueReader struct {
	ctx context.Context
	q   <-chan []byte
	cur []byte
}

func (r *queueReader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		select {
		case c, ok := <-r.q:
			if !ok {
				if err := context.Cause(r.ctx); err != nil {
					return 0, err
				}
				return 0, io.EOF
			}
			r.cur = c
		case <-r.ctx.Done():
			return 0, context.Cause(r.ctx)
		}
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// snapshotRevision reads the revision the nodes' etcd tools report for the
// staged snapshot (registered as "dump" by etcd-check-dump.sh.tmpl).
func snapshotRevision(hs hosts.Hosts) int64 {
	for _, h := range hs {
		v, ok := h.Fact("dump")
		if !ok {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		var d struct {
			Status struct {
				Revision int64 `json:"revision"`
			} `json:"status"`
		}
		if json.Unmarshal(b, &d) == nil && d.Status.Revision > 0 {
			return d.Status.Revision
		}
	}
	return 0
}

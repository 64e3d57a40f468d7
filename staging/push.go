// Package staging streams a backup's etcd snapshot from S3 to many hosts at
// once and stages it there: the S3 body is read once, through gzip and tar
// and the dump's sha256, and every chunk goes to every host's SCP upload at
// the same time. Nothing is written on the workstation and memory stays flat
// whatever the snapshot's size. [Push] is the fan-out alone (the restore's
// push phase uses it); [Run] is `ncnpush backups push`: a private directory
// on every host, the stream, and a check on every host.
package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/transport"
)

// ChunkSize is the unit the snapshot is fanned out in; QueueDepth chunks may
// wait for each host, so memory stays flat: hosts × QueueDepth × ChunkSize at
// most, whatever the snapshot's size.
const (
	ChunkSize  = 1 << 20
	QueueDepth = 4
)

// ErrStopped is a host's error when its upload was stopped because another
// host's upload failed (errors.Is); Push's error names only the hosts that
// failed by themselves.
var ErrStopped = errors.New("stopped")

// ProgressFunc starts a transfer display for host of total bytes and
// returns the function to report bytes done and the one to end it (err nil
// on success).
type ProgressFunc func(host string, total int64) (update func(done int64), end func(err error))

// PushOptions configure one fan-out of a dump to hosts.
type PushOptions struct {
	// Hosts receive the dump; every one must be connected.
	Hosts hosts.Hosts
	// Dump is the opened backup (backups.Client.Open or OpenArchive). Push
	// reads it to its verified end; the caller closes it.
	Dump *backups.Dump
	// Path is the file each host receives (its directory must exist). The
	// transport writes a temporary file beside it and renames it into place
	// only when it is whole.
	Path string
	// PathFor, if set, gives each host its own file (by host name),
	// instead of Path: paths resolved from each host's variables.
	PathFor func(host string) string
	// Mode is the file's permission bits; 0 means 0600.
	Mode os.FileMode
	// Progress draws the per-host transfer bars (nil: none).
	Progress ProgressFunc
	// Record, if set, is called once per host when its upload ends, with
	// when it started and its error (nil on success).
	Record func(host string, start time.Time, err error)
}

// Push streams o.Dump to o.Path on every host of o.Hosts at the same time.
// It fails unless every host received the whole snapshot and the snapshot
// verified (sha256 and layout: backups.Dump's checks) at its end; one host's
// failure stops the others. Errors name the host.
func Push(ctx context.Context, o PushOptions) error {
	if o.Dump == nil {
		return errors.New("push snapshot: no dump")
	}
	if len(o.Hosts) == 0 {
		return errors.New("push snapshot: no hosts")
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o600
	}
	size := o.Dump.Size()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queues := make(map[*hosts.Host]chan []byte, len(o.Hosts))
	for _, h := range o.Hosts {
		queues[h] = make(chan []byte, QueueDepth)
	}
	// Readers feed each host's upload from its queue. The first upload to
	// fail stops the others and the reader (it is the context's cause).
	var (
		upMu      sync.Mutex
		firstUp   error
		firstHost string
	)
	upErr := make(chan error, 1)
	go func() {
		upErr <- o.Hosts.ParallelEach(ctx, len(o.Hosts), func(ctx context.Context, h *hosts.Host) error {
			start := time.Now()
			update, end := progress(o.Progress, h.Name, size)
			err := h.Conn.Upload(ctx, &queueReader{ctx: ctx, q: queues[h]}, transport.UploadOptions{
				Path: o.pathFor(h.Name), Size: size, Mode: mode, Progress: update,
			})
			var failed string
			if err != nil {
				upMu.Lock()
				if firstUp == nil {
					firstUp, firstHost = err, h.Name
					cancel(err)
				} else if errors.Is(err, firstUp) {
					// Stopped by another host's failure: that host's
					// error says why, once, and this one says so.
					failed = firstHost
				}
				upMu.Unlock()
			}
			if failed != "" {
				err = fmt.Errorf("%w: %s failed", ErrStopped, failed)
			}
			end(err)
			if o.Record != nil {
				o.Record(h.Name, start, err)
			}
			if err != nil && failed == "" {
				return fmt.Errorf("push snapshot: %w", err)
			}
			return nil
		})
	}()
	readErr := fanOut(ctx, o.Dump, queues)
	endQueues(queues, cancel, readErr)
	err := <-upErr
	upMu.Lock()
	byUpload := firstUp != nil && readErr == firstUp
	upMu.Unlock()
	if readErr == nil || byUpload {
		// The hosts' errors, each naming its host (the reader only saw
		// the cancellation a failed upload caused).
		return err
	}
	return readErr
}

// endQueues ends every host's queue once the dump is read: cleanly if err
// is nil, otherwise with err as the context's cause. On error the context
// is cancelled before the queues close: an upload that already has every
// byte waits for the end of its queue (Upload checks that the reader has no
// more), and must see the failure there, not a clean end that completes it
// (the dump's checks fail only after its last byte).
func endQueues(queues map[*hosts.Host]chan []byte, cancel context.CancelCauseFunc, err error) {
	if err != nil {
		cancel(err)
	}
	for _, q := range queues {
		close(q)
	}
}

// fanOut reads the dump to its end (which verifies it) and hands every chunk
// to every host's queue. It does not close the queues: on error the caller
// cancels first, so that the uploads see the context's cause rather than
// the end of their queue.
func fanOut(ctx context.Context, dump *backups.Dump, queues map[*hosts.Host]chan []byte) error {
	for {
		buf := make([]byte, ChunkSize)
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

func progress(f ProgressFunc, host string, total int64) (func(int64), func(error)) {
	if f == nil {
		return nil, func(error) {}
	}
	return f(host, total)
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

// pathFor is the file host receives.
func (o PushOptions) pathFor(host string) string {
	if o.PathFor != nil {
		return o.PathFor(host)
	}
	return o.Path
}

package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncnpush/ncnpush/shell"
)

// DownloadOptions controls Download.
type DownloadOptions struct {
	// Path is the remote file to read. A relative path is relative to the
	// remote user's home directory. Any characters but NUL are fine; the
	// path is quoted with shell.Quote.
	Path string
	// Progress, if set, is called with the number of bytes written to the
	// writer so far after each chunk, from another goroutine.
	Progress func(read int64)
}

// errDownloadEnded fails a write that comes after Download returned.
var errDownloadEnded = errors.New("download ended")

// Download streams the remote file opts.Path into w over SCP (`scp -f`),
// using the Client's connection, and returns the number of bytes written to
// w. The data streams (nothing is buffered beyond a 32 KiB chunk), so sizes
// in the GiB range are fine.
//
// It succeeds only when w received exactly the size the remote scp announced
// and the remote scp exited successfully. On failure w may have received part
// of the file: the caller must discard what it got. A missing or unreadable
// file, or one that is not a regular file, fails with the remote scp's
// message (e.g. "No such file or directory").
//
// The remote command is built like Upload's (see newSCP): the path is quoted
// with shell.Quote, never with go-scp's %q. The remote login shell must be
// POSIX (sh, bash), as it is for root on the nodes.
//
// If the connection is lost (on a silent link, within the keepalive bound:
// see Config.KeepAlive), the error wraps ErrConnectionLost as well as
// ErrDownload.
//
// If ctx is cancelled, the transfer stops at the next chunk. A Write on w
// that blocks is not interrupted: Download then returns after a few seconds
// without waiting for it. w is not written again after Download returns.
func (c *Client) Download(ctx context.Context, w io.Writer, opts DownloadOptions) (int64, error) {
	action := "download " + opts.Path
	fail := func(err error) error {
		return &opError{kind: ErrDownload, host: c.host, action: action, err: err}
	}
	if opts.Path == "" || strings.HasSuffix(opts.Path, "/") {
		return 0, fail(errors.New("the path must name a file"))
	}
	if err := shell.Validate(opts.Path); err != nil {
		return 0, fail(err)
	}
	sc, err := c.newSCP("scp -f -- " + shell.Quote(opts.Path))
	if err != nil {
		return 0, fail(err)
	}
	// Cancellation goes through the writer (see scpContext): its next Write
	// fails, and the remote scp exits on the closed session.
	scpCtx, stopSCP := scpContext(ctx)
	defer stopSCP()

	start := time.Now()
	dw := &downloadWriter{ctx: ctx, w: w, progress: opts.Progress}
	var announced atomic.Int64
	announced.Store(-1)
	err = sc.CopyFromRemotePassThru(scpCtx, dw, opts.Path, func(r io.Reader, size int64) io.Reader {
		announced.Store(size)
		return r
	})
	n := dw.stop()
	switch {
	case ctx.Err() != nil:
		return n, fail(context.Cause(ctx))
	case dw.failed() != nil:
		return n, fail(fmt.Errorf("write: %w", dw.failed()))
	case err != nil && c.connectionGone():
		return n, c.transferLost(ErrDownload, action, scpError(err))
	case err != nil:
		return n, fail(scpError(err))
	case n != announced.Load():
		return n, fail(fmt.Errorf("received %d of the %d bytes announced: %w", n, announced.Load(), io.ErrUnexpectedEOF))
	}
	elapsed := time.Since(start)
	c.log.Debug("downloaded", "path", opts.Path, "bytes", n,
		"duration", elapsed, "MiB_per_s", float64(n)/(1<<20)/max(elapsed.Seconds(), 1e-9))
	return n, nil
}

// downloadWriter passes the data go-scp receives to the caller's writer,
// reports progress, fails once the context is done, and refuses to write
// once Download has returned.
type downloadWriter struct {
	ctx      context.Context // Download's: once done, Write fails
	w        io.Writer
	progress func(int64)

	mu      sync.Mutex // held for the whole of a Write
	stopped atomic.Bool
	n       atomic.Int64
	err     atomic.Pointer[error] // the caller's writer's error
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped.Load() {
		return 0, errDownloadEnded
	}
	if err := d.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := d.w.Write(p)
	total := d.n.Add(int64(n))
	if n > 0 && d.progress != nil {
		d.progress(total)
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		d.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// failed returns the caller's writer's error, or nil.
func (d *downloadWriter) failed() error {
	if p := d.err.Load(); p != nil {
		return *p
	}
	return nil
}

// stop makes every later Write fail, waits (a few seconds at most) for a
// Write in progress, and returns the number of bytes written.
func (d *downloadWriter) stop() int64 {
	d.stopped.Store(true)
	idle := make(chan struct{})
	go func() {
		d.mu.Lock()
		d.mu.Unlock() // only waiting for a Write in progress to end
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(scpCancelGrace):
	}
	return d.n.Load()
}

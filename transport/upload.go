package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncnpush/ncnpush/shell"
)

// UploadOptions controls Upload.
type UploadOptions struct {
	// Path is the remote file to create or replace. A relative path is
	// relative to the remote user's home directory. Its directory must
	// exist. Any characters but NUL are fine; the path is quoted with
	// shell.Quote.
	Path string
	// Size is the exact number of bytes the reader yields. A reader that
	// ends early or has more makes the upload fail, and nothing is left at
	// Path.
	Size int64
	// Mode is the permission bits of the remote file (exactly, regardless
	// of the remote umask); 0 means 0600.
	Mode os.FileMode
	// Progress, if set, is called with the number of bytes sent so far
	// after each chunk, from another goroutine.
	Progress func(written int64)
}

// uploadTempPrefix starts the name of the temporary file an upload writes
// before moving it to its path.
const uploadTempPrefix = ".ncnpush-upload-"

// Upload copies Size bytes from r to opts.Path on the host over SCP, using
// the Client's connection. The data streams (nothing is buffered beyond a
// 32 KiB chunk), so sizes in the GiB range are fine.
//
// The file is written to a temporary name in the target directory with
// `scp -p -t` (mode applied exactly) and then renamed to Path with GNU
// mv -fT (a directory at Path is an error), so Path never holds a partial
// file: it is either the old file or the complete new one. Replacing a file
// this way gives it a new inode (hard links to the old file keep the old
// content) owned by the remote user. The remote login shell must be POSIX
// (sh, bash), as it is for root on the nodes.
//
// On every failure — cancellation before or after the last byte, a reader
// that fails or yields too few or too many bytes, an scp error, a failed
// rename — the temporary file is removed, with a fresh session on the same
// connection, before Upload returns; if that fails, the error says so and
// names the file. If the connection itself is lost, nothing can be removed:
// the error wraps ErrConnectionLost as well as ErrUpload and names the
// temporary file that may remain (the remote scp removes it itself if the
// transfer was cut short, once sshd notices the connection is gone).
//
// go-scp, the SCP library, builds the remote command as `scp -qt %q` with
// Go's %q, which is not shell quoting ($(...) and backticks would run). The
// remote command is therefore set entirely here, via go-scp's RemoteBinary:
// ours, quoted with shell.Quote, ends in a shell comment sign that turns
// go-scp's own arguments into a comment. The file name go-scp puts in the
// SCP protocol header is the temporary file's, which is always plain ASCII.
//
// If ctx is cancelled, the transfer stops at the next chunk; cancellation
// is honoured until the rename starts (a rename is not interrupted: once it
// ran, the upload is complete and Upload returns nil). A Read on r that
// blocks is not interrupted: Upload then returns after a few seconds
// without waiting for it, and r is not read again after Upload returns.
func (c *Client) Upload(ctx context.Context, r io.Reader, opts UploadOptions) error {
	action := "upload " + opts.Path
	fail := func(err error) error {
		return &opError{kind: ErrUpload, host: c.host, action: action, err: err}
	}
	mode := opts.Mode
	if mode == 0 {
		mode = 0o600
	}
	switch {
	case opts.Path == "" || strings.HasSuffix(opts.Path, "/"):
		return fail(errors.New("the path must name a file"))
	case opts.Size < 0:
		return fail(fmt.Errorf("invalid size %d", opts.Size))
	case mode&^os.ModePerm != 0:
		return fail(fmt.Errorf("mode %v has bits other than permissions", mode))
	}
	if err := shell.Validate(opts.Path); err != nil {
		return fail(err)
	}

	tmp := path.Join(path.Dir(opts.Path), uploadTempPrefix+randomHex(8))
	sc, err := c.newSCP(uploadCommand(tmp))
	if err != nil {
		return fail(err)
	}
	// abandon removes the temporary file after a failure and returns the
	// upload's error for cause.
	abandon := func(cause error) error {
		rmErr := c.removeTemp(ctx, tmp)
		switch {
		case rmErr == nil:
			return fail(cause)
		case errors.Is(rmErr, ErrConnectionLost):
			return c.transferLost(ErrUpload, action, fmt.Errorf("%w; the temporary file %s may remain on the host: without the connection it cannot be removed", cause, tmp))
		default:
			return fail(fmt.Errorf("%w; the temporary file %s could not be removed: %v", cause, tmp, rmErr))
		}
	}

	// Cancellation goes through the reader (see scpContext): its next Read
	// fails and the remote scp exits on the short file.
	scpCtx, stopSCP := scpContext(ctx)
	defer stopSCP()

	start := time.Now()
	ur := &uploadReader{ctx: ctx, r: r, size: opts.Size, progress: opts.Progress}
	err = sc.CopyPassThru(scpCtx, ur, tmp, fmt.Sprintf("%04o", mode), opts.Size, nil)
	ur.stopped.Store(true)
	switch {
	case ctx.Err() != nil:
		// Also after the last byte: the remote scp may have completed the
		// temporary file before the cancellation showed.
		return abandon(context.Cause(ctx))
	case ur.mismatch() != nil:
		return abandon(ur.mismatch())
	case err != nil:
		return abandon(scpError(err))
	}

	if err := c.moveIntoPlace(ctx, tmp, opts.Path); err != nil {
		return abandon(err)
	}
	elapsed := time.Since(start)
	c.log.Debug("uploaded", "path", opts.Path, "bytes", opts.Size, "mode", fmt.Sprintf("%04o", mode),
		"duration", elapsed, "MiB_per_s", float64(opts.Size)/(1<<20)/max(elapsed.Seconds(), 1e-9))
	return nil
}

// cleanupTimeout bounds the removal of an abandoned temporary file. It
// exceeds the default keepalive bound, so that on a link that went silent
// the removal fails as a lost connection rather than by this timeout.
const cleanupTimeout = 30 * time.Second

// uploadCommand is the remote command line of an upload to tmp.
//
// An SCP sink (`scp -t`) answers three times: a zero byte once it is ready,
// one when it has created the file, and one (or an error line, say "No space
// left on device") when the data is written and the file closed. go-scp reads
// only two answers, so it takes the ready byte for the second and never reads
// the last: a failed write showed only as scp's exit status 1, its reason
// lost. `dd bs=1 skip=1` drops the ready byte, so that go-scp reads the
// answers it expects, the last one included (one byte at a time: the answers
// are a few bytes, and dd passes each on at once, where tail would hold them
// in its output buffer until scp exits). A failed sink's partial file is removed.
// Without scp on the host, the command answers with an SCP error line itself
// ("scp: no scp on HOST").
func uploadCommand(tmp string) string {
	q := shell.Quote(tmp)
	return "if ! command -v scp >/dev/null 2>&1; then printf '\\001scp: no scp on %s\\n' \"$(hostname)\"; exit 1; fi; " +
		"{ scp -p -qt -- " + q + " || rm -f -- " + q + "; } | dd bs=1 skip=1 status=none"
}

// moveIntoPlace renames the uploaded temporary file to its path. The
// rename is not cancelled with ctx (it is one rename(2), and its outcome
// must be known); it is bounded by cleanupTimeout.
func (c *Client) moveIntoPlace(ctx context.Context, tmp, dest string) error {
	var stderr []string
	collect := func(line string) { stderr = append(stderr, line) }
	mvCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// -T: a directory at dest is an error, not a place to move into.
	_, err := c.Run(mvCtx, shell.Join("mv", "-fT", "--", tmp, dest), RunOptions{Stderr: collect})
	if err == nil {
		return nil
	}
	if len(stderr) > 0 {
		return fmt.Errorf("move into place: %s: %w", strings.Join(stderr, "; "), err)
	}
	return fmt.Errorf("move into place: %w", err)
}

// removeTemp removes an upload's temporary file with a fresh session (the
// upload's own may be gone), even if ctx is cancelled. An error wrapping
// ErrConnectionLost means the connection is gone.
func (c *Client) removeTemp(ctx context.Context, tmp string) error {
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := c.Run(rmCtx, shell.Join("rm", "-f", "--", tmp), RunOptions{})
	if err != nil {
		c.log.Warn("could not remove temporary upload file", "file", tmp, "err", err)
	}
	return err
}

// uploadReader passes exactly size bytes from r, reports progress, turns a
// short or long reader into an error, and stops reading once Upload has
// returned.
type uploadReader struct {
	ctx      context.Context // Upload's: once done, Read fails
	r        io.Reader
	size, n  int64
	progress func(int64)
	stopped  atomic.Bool
	err      atomic.Pointer[error] // set on a size mismatch or read error
}

// fail records err as the reason the upload failed and returns it.
func (u *uploadReader) fail(err error) error {
	u.err.CompareAndSwap(nil, &err)
	return err
}

// mismatch returns the error recorded by fail, or nil.
func (u *uploadReader) mismatch() error {
	if p := u.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (u *uploadReader) Read(p []byte) (int, error) {
	if u.stopped.Load() {
		return 0, errors.New("upload ended")
	}
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	if u.n == u.size {
		// All announced bytes are sent; make sure there are no more.
		// Its error counts: a reader that fails here (say, a stream whose
		// verification failed after its last byte) must fail the upload,
		// not let it complete.
		var probe [1]byte
		n, err := io.ReadAtLeast(u.r, probe[:], 1)
		switch {
		case n > 0:
			return 0, u.fail(fmt.Errorf("the reader has more than the %d bytes announced in Size", u.size))
		case errors.Is(err, io.EOF):
			return 0, io.EOF
		default:
			return 0, u.fail(fmt.Errorf("read after the last of %d bytes: %w", u.size, err))
		}
	}
	if rest := u.size - u.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if n > 0 && u.progress != nil {
		u.progress(u.n)
	}
	if errors.Is(err, io.EOF) && u.n < u.size {
		return n, u.fail(fmt.Errorf("the reader ended after %d of %d bytes: %w", u.n, u.size, io.ErrUnexpectedEOF))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, u.fail(fmt.Errorf("read: %w", err))
	}
	return n, nil
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

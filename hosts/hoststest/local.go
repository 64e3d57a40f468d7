// Package hoststest provides a hosts.Conn that runs scripts with the local
// bash, for tests of code built on hosts and phases without SSH.
package hoststest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/transport"
)

// Conn runs scripts as transport.Client does, but locally: the script is fed
// on stdin to `bash -euo pipefail -s`; a non-zero exit returns a
// *transport.ExitError with a RunResult carrying the code. Uploads write
// under Root, downloads read from there.
type Conn struct {
	// Host is the host name, used in errors and as $NCNPUSH_TEST_HOST.
	Host string
	// Root is the directory uploads are written under (Upload path
	// "/tmp/x" becomes Root/tmp/x). Empty means uploads fail.
	Root string
	// Env is added to the script's environment.
	Env []string

	closed atomic.Bool
	runs   atomic.Int64
}

var _ hosts.Conn = (*Conn)(nil)

// Runs returns how many scripts were started on c.
func (c *Conn) Runs() int64 { return c.runs.Load() }

// Closed reports whether Close was called.
func (c *Conn) Closed() bool { return c.closed.Load() }

// Run runs script with the local bash.
func (c *Conn) Run(ctx context.Context, script string, opts transport.RunOptions) (transport.RunResult, error) {
	start := time.Now()
	res := transport.RunResult{ExitCode: -1}
	if c.closed.Load() {
		return res, fmt.Errorf("%s: run script: %w: closed", c.Host, transport.ErrConnectionLost)
	}
	c.runs.Add(1)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-s")
	cmd.Env = append(append(os.Environ(), "NCNPUSH_TEST_HOST="+c.Host), c.Env...)
	// Like the transport's remote wrapper, a cancelled run ends the script's
	// whole process group, not only bash.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("%s: run script: %w", c.Host, err)
	}
	go func() {
		_, _ = io.WriteString(stdin, script)
		_ = stdin.Close()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); stream(stdout, opts.Stdout) }()
	go func() { defer wg.Done(); stream(stderr, opts.Stderr) }()
	wg.Wait()
	err = cmd.Wait()
	res.Duration = time.Since(start)
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s: run script: %w", c.Host, context.Cause(ctx))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
		return res, nil
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		return res, &transport.ExitError{Host: c.Host, Code: res.ExitCode}
	default:
		return res, fmt.Errorf("%s: run script: %w", c.Host, err)
	}
}

func stream(r io.Reader, emit func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if emit != nil {
			emit(sc.Text())
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Upload writes r to Root/opts.Path.
func (c *Conn) Upload(ctx context.Context, r io.Reader, opts transport.UploadOptions) error {
	if c.Root == "" {
		return fmt.Errorf("%s: upload: %w: no root directory", c.Host, transport.ErrUpload)
	}
	dst := filepath.Join(c.Root, filepath.Clean("/"+opts.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	mode := opts.Mode
	if mode == 0 {
		mode = 0o600
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	var written int64
	buf := make([]byte, 32<<10)
	for {
		if ctx.Err() != nil {
			// As the real transport: the cause, wrapped.
			f.Close()
			return fmt.Errorf("%s: upload: %w", c.Host, context.Cause(ctx))
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
			written += int64(n)
			if opts.Progress != nil {
				opts.Progress(written)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	if opts.Size > 0 && written != opts.Size {
		f.Close()
		return fmt.Errorf("%s: upload %s: %w: wrote %d bytes, want %d", c.Host, opts.Path, transport.ErrUpload, written, opts.Size)
	}
	return f.Close()
}

// Download copies Root/opts.Path into w.
func (c *Conn) Download(ctx context.Context, w io.Writer, opts transport.DownloadOptions) (int64, error) {
	if c.Root == "" {
		return 0, fmt.Errorf("%s: download %s: %w: no root directory", c.Host, opts.Path, transport.ErrDownload)
	}
	f, err := os.Open(filepath.Join(c.Root, filepath.Clean("/"+opts.Path)))
	if err != nil {
		return 0, fmt.Errorf("%s: download %s: %w: %w", c.Host, opts.Path, transport.ErrDownload, err)
	}
	defer f.Close()
	var read int64
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return read, fmt.Errorf("%s: download %s: %w: %w", c.Host, opts.Path, transport.ErrDownload, err)
		}
		n, rerr := f.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return read, fmt.Errorf("%s: download %s: %w: write: %w", c.Host, opts.Path, transport.ErrDownload, err)
			}
			read += int64(n)
			if opts.Progress != nil {
				opts.Progress(read)
			}
		}
		if rerr == io.EOF {
			return read, nil
		}
		if rerr != nil {
			return read, fmt.Errorf("%s: download %s: %w: %w", c.Host, opts.Path, transport.ErrDownload, rerr)
		}
	}
}

// Close marks c closed; later runs fail.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return nil
}

// Dial returns a hosts.DialFunc making a Conn per host, with uploads under
// root/<host name>.
func Dial(root string) hosts.DialFunc {
	return func(_ context.Context, h *hosts.Host) (hosts.Conn, error) {
		r := ""
		if root != "" {
			r = filepath.Join(root, h.Name)
		}
		return &Conn{Host: h.Name, Root: r}, nil
	}
}

// Hosts returns connected local hosts with the given names; groups[i], if
// present, are the groups of names[i] (besides "all").
func Hosts(names []string, groups ...[]string) hosts.Hosts {
	out := make(hosts.Hosts, len(names))
	for i, n := range names {
		g := []string{"all"}
		if i < len(groups) {
			g = append(g, groups[i]...)
		}
		h := hosts.New(&inventory.Host{Name: n, Address: "127.0.0.1", Groups: g, Vars: map[string]string{}})
		h.Conn = &Conn{Host: n}
		out[i] = h
	}
	return out
}

// Selector resolves "all", a group name or a host name among hs (a stand-in
// for inventory patterns).
type Selector struct {
	Hosts hosts.Hosts // the whole "inventory"
}

// Select implements hosts.Selector.
func (s Selector) Select(pattern string) ([]*inventory.Host, error) {
	var out []*inventory.Host
	for _, h := range s.Hosts {
		if pattern == "all" || pattern == h.Name {
			out = append(out, h.Host)
			continue
		}
		for _, g := range h.Groups {
			if g == pattern {
				out = append(out, h.Host)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no host matches %q", pattern)
	}
	return out, nil
}

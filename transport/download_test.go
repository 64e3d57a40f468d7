package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The sshd runs on this machine as root, so the remote files the tests
// download are local files they write first.

func download(t *testing.T, c *Client, path string) ([]byte, int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	n, err := c.Download(ctx, &buf, DownloadOptions{Path: path})
	return buf.Bytes(), n, err
}

func TestDownload(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := filepath.Join(t.TempDir(), "sub dir")
	os.Mkdir(dir, 0o700)

	data := make([]byte, 5<<20+123)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	src := filepath.Join(dir, "etcd-dump.bin")
	writeFile(t, src, data, 0o600)

	h := sha256.New()
	var last, calls atomic.Int64
	var monotonic atomic.Bool
	monotonic.Store(true)
	n, err := c.Download(context.Background(), h, DownloadOptions{
		Path: src,
		Progress: func(n int64) {
			if n < last.Load() {
				monotonic.Store(false)
			}
			last.Store(n)
			calls.Add(1)
		},
	})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("downloaded %d bytes with sha256 %x, want %d bytes with %x", n, h.Sum(nil), len(data), want)
	}
	if last.Load() != int64(len(data)) || calls.Load() < 2 || !monotonic.Load() {
		t.Errorf("progress: last %d after %d calls (monotonic %v), want %d", last.Load(), calls.Load(), monotonic.Load(), len(data))
	}

	// An empty file, and a path relative to the remote user's home.
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, nil, 0o600)
	if got, n, err := download(t, c, empty); err != nil || n != 0 || len(got) != 0 {
		t.Errorf("empty file: %d bytes %q, %v", n, got, err)
	}
	rel := "ncnpush-test-download-" + randomHex(6)
	writeFile(t, filepath.Join("/root", rel), []byte("in home"), 0o600)
	t.Cleanup(func() { os.Remove(filepath.Join("/root", rel)) })
	if got, _, err := download(t, c, rel); err != nil || string(got) != "in home" {
		t.Errorf("relative path: %q, %v", got, err)
	}
}

func TestDownloadPathIsQuoted(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	// Commands injected through a path would run in the remote user's
	// home: /root (see TestUploadPathIsQuoted).
	pwned := "ncnpush-test-pwned-" + randomHex(6)
	t.Cleanup(func() { os.Remove(filepath.Join("/root", pwned)) })
	hostileDir := filepath.Join(t.TempDir(), "d'ir $(touch "+pwned+") `touch "+pwned+"` \"$HOME\" \\")
	if err := os.Mkdir(hostileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{
		"a'b; $(touch " + pwned + ")",
		"`touch " + pwned + "` \"q\" $HOME *",
		"new\nline",
		"-n",
		"-r",
		"ünïcode ☃",
		"x #y",
	}
	for _, name := range names {
		src := filepath.Join(hostileDir, name)
		writeFile(t, src, []byte("content of "+name), 0o600)
		got, n, err := download(t, c, src)
		if err != nil || string(got) != "content of "+name || n != int64(len(got)) {
			t.Errorf("download %q: %q (%d bytes), %v", src, got, n, err)
		}
	}
	if _, err := os.Stat(filepath.Join("/root", pwned)); err == nil {
		t.Error("a path was executed as shell code")
	}
	// A glob must not widen the download to several files.
	_, _, err := download(t, c, filepath.Join(hostileDir, "*"))
	if !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "No such file or directory") {
		t.Errorf("download of a literal *: %v, want no such file", err)
	}
}

func TestDownloadFailures(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := t.TempDir()

	// A missing file: the error names the host and the path, and says why,
	// on one line.
	missing := filepath.Join(dir, "missing", "etcd-dump.bin")
	got, n, err := download(t, c, missing)
	want := "ncn-test: download " + missing + ": scp: " + missing + ": No such file or directory"
	if !errors.Is(err, ErrDownload) || err == nil || err.Error() != want || n != 0 || len(got) != 0 {
		t.Errorf("missing file: %d bytes, err %q, want %q", n, err, want)
	}
	// A directory is not a file.
	if _, _, err := download(t, c, dir); !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	// An unreadable file (mode 000 does not stop root: a FIFO with no writer
	// would block, so use a path through a file instead).
	file := filepath.Join(dir, "file")
	writeFile(t, file, []byte("x"), 0o600)
	if _, _, err := download(t, c, file+"/below"); !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "Not a directory") {
		t.Errorf("path below a file: %v", err)
	}
	// Invalid options are refused before anything is sent.
	for _, p := range []string{"", dir + "/", "a\x00b"} {
		if _, err := c.Download(context.Background(), io.Discard, DownloadOptions{Path: p}); !errors.Is(err, ErrDownload) {
			t.Errorf("path %q: %v", p, err)
		}
	}

	// The writer fails: Download stops and returns the writer's error.
	big := filepath.Join(dir, "big")
	writeFile(t, big, make([]byte, 8<<20), 0o600)
	boom := errors.New("disk full")
	fw := &failingWriter{after: 1 << 20, err: boom}
	n, err = c.Download(context.Background(), fw, DownloadOptions{Path: big})
	if !errors.Is(err, ErrDownload) || !errors.Is(err, boom) || n > 1<<20 || n != fw.n {
		t.Errorf("failing writer: %d bytes (writer took %d), %v", n, fw.n, err)
	}

	// The connection still works after all that.
	if got, _, err := download(t, c, file); err != nil || string(got) != "x" {
		t.Errorf("download after failures: %q, %v", got, err)
	}
}

// failingWriter accepts after bytes, then fails with err.
type failingWriter struct {
	n, after int64
	err      error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.after {
		k := w.after - w.n
		w.n = w.after
		return int(k), w.err
	}
	w.n += int64(len(p))
	return len(p), nil
}

func TestDownloadCancel(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	// A large sparse file: the remote scp has plenty left to send when the
	// download is cancelled.
	src := filepath.Join(t.TempDir(), "big-"+randomHex(6))
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &slowWriter{onProgress: func(n int64) {
		if n > 1<<20 {
			cancel()
		}
	}}
	start := time.Now()
	n, err := c.Download(ctx, w, DownloadOptions{Path: src})
	elapsed := time.Since(start)
	w.returned.Store(true)
	if !errors.Is(err, ErrDownload) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled download: %v", err)
	}
	// Through the writer, not go-scp's fallback after scpCancelGrace.
	if elapsed > scpCancelGrace-time.Second {
		t.Errorf("cancelled download returned after %v", elapsed)
	}
	if n != w.n.Load() || n < 1<<20 || n >= 4<<30 {
		t.Errorf("returned %d bytes, the writer took %d", n, w.n.Load())
	}
	// Nothing is written after Download returned, and the remote scp ends.
	time.Sleep(500 * time.Millisecond)
	if w.late.Load() {
		t.Error("the writer was called after Download returned")
	}
	waitGone(t, "scp -f -- "+src, 10*time.Second)

	// The connection is still usable.
	small := filepath.Join(t.TempDir(), "small")
	writeFile(t, small, []byte("still works"), 0o600)
	if got, _, err := download(t, c, small); err != nil || string(got) != "still works" {
		t.Errorf("download after a cancel: %q, %v", got, err)
	}

	// Cancelled before it starts: nothing is written.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	var buf bytes.Buffer
	if n, err := c.Download(cctx, &buf, DownloadOptions{Path: small}); !errors.Is(err, context.Canceled) || n != 0 || buf.Len() != 0 {
		t.Errorf("download with a cancelled context: %d bytes, %v", n, err)
	}
}

// slowWriter takes its input slowly and notes calls made after the test set
// returned.
type slowWriter struct {
	n          atomic.Int64
	onProgress func(int64)
	returned   atomic.Bool
	late       atomic.Bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Store(true)
	}
	time.Sleep(2 * time.Millisecond)
	n := w.n.Add(int64(len(p)))
	w.onProgress(n)
	return len(p), nil
}

package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The sshd runs on this machine as root, so the remote files the tests
// upload are local files they can stat and read.

// noTempFiles fails if an upload's temporary file is left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, uploadTempPrefix+"*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}

func upload(t *testing.T, c *Client, data []byte, opts UploadOptions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Size = int64(len(data))
	return c.Upload(ctx, bytes.NewReader(data), opts)
}

func TestUpload(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := filepath.Join(t.TempDir(), "sub dir")
	os.Mkdir(dir, 0o755)

	data := make([]byte, 5<<20+123)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	dest := filepath.Join(dir, "etcd snapshot.db")
	var last, calls atomic.Int64
	var monotonic atomic.Bool
	monotonic.Store(true)
	err := c.Upload(context.Background(), bytes.NewReader(data), UploadOptions{
		Path: dest, Size: int64(len(data)),
		Progress: func(n int64) {
			if n < last.Load() {
				monotonic.Store(false)
			}
			last.Store(n)
			calls.Add(1)
		},
	})
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	st, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != int64(len(data)) {
		t.Errorf("remote file mode %v size %d, want 0600 and %d", st.Mode().Perm(), st.Size(), len(data))
	}
	got, _ := os.ReadFile(dest)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Error("sha256 of the uploaded file differs")
	}
	if last.Load() != int64(len(data)) || calls.Load() < 2 || !monotonic.Load() {
		t.Errorf("progress: last %d after %d calls (monotonic %v), want %d", last.Load(), calls.Load(), monotonic.Load(), len(data))
	}
	noTempFiles(t, dir)

	// Replacing a file: the mode is exactly Mode whatever the old file's
	// mode and the remote umask were.
	writeFile(t, dest, []byte("old content"), 0o644)
	if err := upload(t, c, []byte("#!/bin/sh\necho new\n"), UploadOptions{Path: dest, Mode: 0o750}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dest); st.Mode().Perm() != 0o750 {
		t.Errorf("mode %v, want 0750", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(dest); string(b) != "#!/bin/sh\necho new\n" {
		t.Errorf("content %q", b)
	}

	// Empty file.
	empty := filepath.Join(dir, "empty")
	if err := upload(t, c, nil, UploadOptions{Path: empty}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(empty); err != nil || st.Size() != 0 {
		t.Errorf("empty upload: %v %v", st, err)
	}
	noTempFiles(t, dir)
}

func TestUploadPathIsQuoted(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := t.TempDir()
	// File names cannot hold "/", so the injected commands would create
	// their file in the remote user's home (sshd's, from the password
	// database): /root.
	pwned := "ncnpush-test-pwned-" + randomHex(6)
	t.Cleanup(func() { os.Remove(filepath.Join("/root", pwned)) })
	names := []string{
		"a'b; $(touch " + pwned + ")",
		"`touch " + pwned + "` \"q\" $HOME *",
		"new\nline",
		"-n",
		"ünïcode ☃",
	}
	for _, name := range names {
		dest := filepath.Join(dir, name)
		if err := upload(t, c, []byte(name), UploadOptions{Path: dest}); err != nil {
			t.Fatalf("upload to %q: %v", dest, err)
		}
		if b, err := os.ReadFile(dest); err != nil || string(b) != name {
			t.Errorf("%q: %q %v", dest, b, err)
		}
	}
	// The directory part reaches the scp command line (go-scp renders it
	// with Go's %q, i.e. in double quotes, where $(...) runs).
	hostileDir := filepath.Join(t.TempDir(), "d'ir $(touch "+pwned+") `touch "+pwned+"` \"$HOME\" \\")
	if err := os.Mkdir(hostileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := upload(t, c, []byte("in hostile dir"), UploadOptions{Path: filepath.Join(hostileDir, "f")}); err != nil {
		t.Fatalf("upload into %q: %v", hostileDir, err)
	}
	if b, err := os.ReadFile(filepath.Join(hostileDir, "f")); err != nil || string(b) != "in hostile dir" {
		t.Errorf("file in hostile dir: %q %v", b, err)
	}
	noTempFiles(t, hostileDir)
	if _, err := os.Stat(filepath.Join("/root", pwned)); err == nil {
		t.Error("a path was executed as shell code")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(names) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("directory holds %q, want exactly the %d uploaded files", got, len(names))
	}
}

func TestUploadFailures(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := t.TempDir()
	dest := filepath.Join(dir, "file")
	ctx := context.Background()

	// A reader shorter or longer than Size: error, nothing at the path.
	err := c.Upload(ctx, strings.NewReader(strings.Repeat("x", 500)), UploadOptions{Path: dest, Size: 1000})
	if !errors.Is(err, ErrUpload) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "ncn-test: upload "+dest+": ") {
		t.Errorf("short reader: %v", err)
	}
	err = c.Upload(ctx, strings.NewReader(strings.Repeat("x", 20)), UploadOptions{Path: dest, Size: 10})
	if !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("long reader: %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a failed upload left a file at the path")
	}

	// Invalid options are refused before anything is sent.
	for _, opts := range []UploadOptions{
		{Path: ""}, {Path: dir + "/"}, {Path: "a\x00b"}, {Path: dest, Size: -1}, {Path: dest, Mode: os.ModeSetuid | 0o755},
	} {
		if err := c.Upload(ctx, strings.NewReader(""), opts); !errors.Is(err, ErrUpload) {
			t.Errorf("%+v: %v", opts, err)
		}
	}

	// A missing directory: scp's message comes through.
	err = upload(t, c, []byte("x"), UploadOptions{Path: filepath.Join(dir, "missing", "file")})
	if !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "No such file or directory") {
		t.Errorf("missing directory: %v", err)
	}
	// The path is a directory: the move fails with mv's message.
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	os.WriteFile(filepath.Join(dir, "adir", "x"), nil, 0o600)
	err = upload(t, c, []byte("x"), UploadOptions{Path: filepath.Join(dir, "adir")})
	if !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "mv") {
		t.Errorf("path is a directory: %v", err)
	}
	noTempFiles(t, dir)

	// The file system fills up: the sink's reason is the error (go-scp
	// alone reads one answer short and showed only "Process exited with
	// status 1"), and its partial file is removed.
	full := filepath.Join(t.TempDir(), "full")
	os.Mkdir(full, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full).CombinedOutput(); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", full).Run() })
	err = upload(t, c, bytes.Repeat([]byte("x"), 3<<20), UploadOptions{Path: filepath.Join(full, "file")})
	if !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "No space left on device") || strings.Contains(err.Error(), "scp: scp:") {
		t.Errorf("file system full: %v", err)
	}
	noTempFiles(t, full)

	// Cancelled half way: Upload returns promptly, the temporary file is
	// removed, nothing appears at the path.
	cctx, cancel := context.WithCancel(ctx)
	r := &slowReader{size: 64 << 20, onProgress: func(n int64) {
		if n > 1<<20 {
			cancel()
		}
	}}
	start := time.Now()
	err = c.Upload(cctx, r, UploadOptions{Path: dest, Size: r.size})
	if !errors.Is(err, ErrUpload) || !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Errorf("cancelled upload: %v after %v", err, time.Since(start))
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(dir, uploadTempPrefix+"*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("temporary file left after cancel: %q", left)
			break
		}
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a cancelled upload left a file at the path")
	}
}

// slowReader yields size bytes in small chunks with pauses.
type slowReader struct {
	size, n    int64
	onProgress func(int64)
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n >= r.size {
		return 0, io.EOF
	}
	time.Sleep(5 * time.Millisecond)
	n := int64(min(len(p), 64<<10))
	n = min(n, r.size-r.n)
	clear(p[:n])
	r.n += n
	r.onProgress(r.n)
	return int(n), nil
}

// patternReader yields size pseudo-random bytes without holding them.
type patternReader struct {
	size, n int64
	rng     *rand.ChaCha8
}

func newPatternReader(size int64) *patternReader {
	return &patternReader{size: size, rng: rand.NewChaCha8([32]byte{1, 2, 3})}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n >= r.size {
		return 0, io.EOF
	}
	if rest := r.size - r.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	r.rng.Read(p)
	r.n += int64(len(p))
	return len(p), nil
}

// TestUploadStreams1GiB checks that a 1 GiB upload streams: the heap stays
// small and the content arrives intact.
func TestUploadStreams1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB upload skipped with -short")
	}
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	const size = 1 << 30
	dest := filepath.Join(t.TempDir(), "big")

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	h := sha256.New()
	start := time.Now()
	err := c.Upload(context.Background(), io.TeeReader(newPatternReader(size), h), UploadOptions{Path: dest, Size: size})
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1 GiB in %v: %.0f MiB/s, peak heap in use %d MiB", elapsed, float64(size)/(1<<20)/elapsed.Seconds(), peak.Load()>>20)
	if peak.Load() > 64<<20 {
		t.Errorf("peak heap %d MiB: the upload is buffered, not streamed", peak.Load()>>20)
	}
	f, err := os.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	remote := sha256.New()
	if n, err := io.Copy(remote, f); err != nil || n != size {
		t.Fatalf("remote file: %d bytes, %v", n, err)
	}
	if !bytes.Equal(remote.Sum(nil), h.Sum(nil)) {
		t.Error("sha256 of the uploaded file differs")
	}
	os.Remove(dest)
}

// BenchmarkUpload measures upload throughput to a local sshd.
func BenchmarkUpload(b *testing.B) {
	env := newTestEnv(b)
	c := dial(b, env.config(b, env.server(b)))
	const size = 256 << 20
	dest := filepath.Join(b.TempDir(), "bench")
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if err := c.Upload(context.Background(), newPatternReader(size), UploadOptions{Path: dest, Size: size}); err != nil {
			b.Fatal(err)
		}
	}
}

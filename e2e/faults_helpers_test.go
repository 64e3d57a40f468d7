package e2e

// Helpers of the fault-injection suite (faults_test.go): a live ncnpush
// process, an S3 proxy that can cut, stall or slow object downloads, sshd
// stopped and started from the host, and bad backup archives.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------- live run

// liveRun is an ncnpush process the test watches while it runs.
type liveRun struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	out, err safeBuffer
	done     chan struct{}
	code     int
}

// startNcnpush starts the binary with the lab's S3 environment plus env.
func startNcnpush(t *testing.T, env []string, args ...string) *liveRun {
	t.Helper()
	cmd := exec.Command(ncnpush(t), args...)
	cmd.Env = os.Environ()
	for k, v := range lab.S3Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	l := &liveRun{cmd: cmd, done: make(chan struct{})}
	l.stdin, _ = cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = &l.out, &l.err
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ncnpush: %v", err)
	}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			l.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				l.code = 128 + int(ws.Signal())
			}
		}
		close(l.done)
	}()
	// Never leave it running: killed by its PID if the test ends first.
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			cmd.Process.Kill()
			<-l.done
		}
	})
	return l
}

// waitFor waits until stderr holds s; false if the run ended or timed out
// first.
func (l *liveRun) waitFor(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(l.err.String(), s) {
		select {
		case <-l.done:
			return strings.Contains(l.err.String(), s)
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// wait waits for the run to end (killing it after timeout).
func (l *liveRun) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	l.stdin.Close()
	select {
	case <-l.done:
	case <-time.After(timeout):
		l.cmd.Process.Kill()
		<-l.done
		t.Errorf("ncnpush did not end within %s: killed", timeout)
	}
	return result{stdout: l.out.String(), stderr: l.err.String(), code: l.code}
}

// ---------------------------------------------------------------- S3 proxy

// Modes of the S3 proxy for object downloads (listings always pass).
const (
	proxyPass     = iota
	proxyTruncate // send half the object, then drop the connection
	proxyStall    // send half the object, then nothing until the client gives up
	proxySlow     // send the object in about ten seconds
)

// s3Proxy is a reverse proxy in front of the lab's MinIO, in the test
// process: ncnpush (on the host) reaches it through AWS_ENDPOINT_URL. The
// Host header is passed unchanged, so request signatures stay valid.
type s3Proxy struct {
	URL  string
	mode atomic.Int32
	srv  *http.Server
	gets atomic.Int32 // object downloads served in a non-pass mode
}

func newS3Proxy(t *testing.T) *s3Proxy {
	t.Helper()
	target, err := url.Parse(lab.S3Env["AWS_ENDPOINT_URL"])
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0) // the cut connections are on purpose
	rp.ModifyResponse = func(resp *http.Response) error {
		mode := p.mode.Load()
		req := resp.Request
		if mode == proxyPass || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, ".tar.gz") ||
			resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
			return nil
		}
		p.gets.Add(1)
		half := resp.ContentLength / 2
		switch mode {
		case proxyTruncate:
			resp.Body = &cutBody{r: io.LimitReader(resp.Body, half), c: resp.Body}
		case proxyStall:
			resp.Body = &stallBody{r: io.LimitReader(resp.Body, half), c: resp.Body, ctx: req.Context()}
		case proxySlow:
			chunk := max(resp.ContentLength/100, 512)
			resp.Body = &slowBody{r: resp.Body, chunk: chunk, ctx: req.Context()}
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.URL = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: rp}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// env points ncnpush at the proxy.
func (p *s3Proxy) env() []string { return []string{"AWS_ENDPOINT_URL=" + p.URL} }

// cutBody ends early with an error: the server sends fewer bytes than its
// Content-Length and drops the connection.
type cutBody struct {
	r io.Reader
	c io.Closer
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = errors.New("proxy: cut short")
	}
	return n, err
}
func (b *cutBody) Close() error { return b.c.Close() }

// stallBody sends its first part, then blocks until the client goes away.
type stallBody struct {
	r   io.Reader
	c   io.Closer
	ctx context.Context
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		<-b.ctx.Done()
		return n, b.ctx.Err()
	}
	return n, err
}
func (b *stallBody) Close() error { return b.c.Close() }

// slowBody sends chunk bytes every 100 ms.
type slowBody struct {
	r     io.Reader
	chunk int64
	ctx   context.Context
}

func (b *slowBody) Read(p []byte) (int, error) {
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-time.After(100 * time.Millisecond):
	}
	if int64(len(p)) > b.chunk {
		p = p[:b.chunk]
	}
	return b.r.Read(p)
}
func (b *slowBody) Close() error { return b.r.(io.Closer).Close() }

// ---------------------------------------------------------------- sshd

// containerPID is the PID (on the host) of a node's PID 1 (systemd): the
// child of the systemd-nspawn the lab recorded under $LAB_DIR/run.
func containerPID(t *testing.T, node string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lab.Dir, "run", "nspawn-"+node+".pid"))
	if err != nil {
		t.Fatalf("%s: nspawn PID file: %v", node, err)
	}
	pid := strings.TrimSpace(string(b))
	for range 3 { // nspawn → (outer child) → systemd
		kids, _ := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children")
		f := strings.Fields(string(kids))
		if len(f) == 0 {
			break
		}
		pid = f[0]
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "systemd" {
			return pid
		}
	}
	t.Fatalf("%s: no systemd under nspawn PID %s", node, strings.TrimSpace(string(b)))
	return ""
}

// inNode runs a shell command inside a node's namespaces from the host:
// it works when sshd does not.
func inNode(t *testing.T, node, script string) (string, error) {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", containerPID(t, node), "-a", "/bin/sh", "-c", script).CombinedOutput()
	return string(out), err
}

// sshdDown stops sshd on node and kills every sshd process of the node (the
// listener and every session), found in the node's own /proc.
func sshdDown(t *testing.T, node string) {
	t.Helper()
	out, err := inNode(t, node, `systemctl stop ssh.socket ssh.service 2>/dev/null
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill -KILL "${p#/proc/}" 2>/dev/null
done; true`)
	if err != nil {
		t.Fatalf("%s: stop sshd: %v\n%s", node, err, out)
	}
}

// sshdUp starts sshd on node again and waits until ssh works.
func sshdUp(t *testing.T, node string) {
	t.Helper()
	if _, err := lab.SSH(t, node, "true"); err == nil {
		return
	}
	if out, err := inNode(t, node, "systemctl start ssh.service"); err != nil {
		t.Fatalf("%s: start sshd: %v\n%s", node, err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := lab.SSH(t, node, "true"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: sshd not back after 30s", node)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- archives

// archiveEntry is one member of a hand-made backup archive.
type archiveEntry struct {
	name string
	dir  bool
	data []byte
}

// tarGz builds a tar (gzipped unless plain) of entries.
func tarGz(t *testing.T, entries []archiveEntry, plain bool) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(1e9, 0)}
		if e.dir {
			h = &tar.Header{Name: e.name, Mode: 0o700, Typeflag: tar.TypeDir, ModTime: time.Unix(1e9, 0)}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if plain {
		return tb.Bytes()
	}
	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	gw.Write(tb.Bytes())
	gw.Close()
	return gb.Bytes()
}

// readDump returns the etcd-dump.bin of a CSM backup archive.
func readDump(t *testing.T, archive []byte) []byte {
	t.Helper()
	gr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no etcd-dump.bin in the backup: %v", err)
		}
		if strings.HasSuffix(h.Name, "/etcd-dump.bin") {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// putObject uploads data as the bucket's key with awscli; removed at the
// end of the suite.
func putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", f, "s3://etcd-backup/"+key); err != nil {
		t.Fatalf("upload %s: %v\n%s", key, err, out)
	}
}

func removeObject(t *testing.T, key string) {
	t.Helper()
	if out, err := lab.AWS(t, "s3", "rm", "--only-show-errors", "s3://etcd-backup/"+key); err != nil {
		t.Errorf("remove %s: %v\n%s", key, err, out)
	}
}

// getObject downloads a key of the bucket.
func getObject(t *testing.T, key string) []byte {
	t.Helper()
	f := filepath.Join(t.TempDir(), "obj")
	if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", "s3://etcd-backup/"+key, f); err != nil {
		t.Fatalf("download %s: %v\n%s", key, err, out)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Silent links: the peer stops answering without a reset. On the client
// side the keepalives must notice (TestKeepAliveFailsOnFrozenServer); on
// the node side the heartbeat (TestRunHeartbeat*, TestRunEndsWhenClientVanishes).

// testKeepAlive is the keepalive interval of these tests; with the default
// DefaultKeepAliveMax intervals the bound is 1 s.
const testKeepAlive = 200 * time.Millisecond

// serverProcesses returns the PIDs of the sshd processes that hold the
// server side of c's TCP connection to s (the connection's own sshd
// processes, not the listener and not the sessions' commands).
func serverProcesses(t *testing.T, s *testServer, c *Client) []int {
	t.Helper()
	_, clientPort, err := net.SplitHostPort(c.ssh.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	// /proc/net/tcp: "sl local rem st ... inode", addresses as
	// HEXIP:HEXPORT.
	local, remote := fmt.Sprintf(":%04X", s.port), fmt.Sprintf(":%04X", mustAtoi(t, clientPort))
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var inode string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 10 && strings.HasSuffix(fields[1], local) && strings.HasSuffix(fields[2], remote) {
			inode = fields[9]
		}
	}
	if inode == "" {
		t.Fatalf("no server-side socket for the connection from port %s", clientPort)
	}
	link := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	seen := map[int]bool{}
	var pids []int
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err != nil || target != link {
			continue
		}
		pid := mustAtoi(t, strings.Split(fd, "/")[2])
		if !seen[pid] {
			seen[pid] = true
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no process holds %s", link)
	}
	return pids
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freezeServer stops (SIGSTOP) the sshd processes serving c: the link goes
// silent, the kernel keeps the TCP connection up. The returned function,
// also run when the test ends, continues them.
func freezeServer(t *testing.T, s *testServer, c *Client) (thaw func()) {
	t.Helper()
	pids := serverProcesses(t, s, c)
	var once sync.Once
	thaw = func() {
		once.Do(func() {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGCONT)
			}
		})
	}
	t.Cleanup(thaw)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
	t.Logf("froze sshd processes %v", pids)
	return thaw
}

// checkLost checks that err is a lost connection found by the keepalives,
// naming the host, and that it came within the keepalive bound.
func checkLost(t *testing.T, err error, kind error, took time.Duration) {
	t.Helper()
	t.Logf("failed %v after the freeze: %v", took, err)
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "keepalive") || !strings.HasPrefix(err.Error(), "ncn-test: ") {
		t.Errorf("err = %v, want ErrConnectionLost naming the keepalives and the host", err)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("err = %v, want it to match %v too", err, kind)
	}
	// The bound is DefaultKeepAliveMax × testKeepAlive after the freeze;
	// the rest is slack for a loaded machine.
	if bound := DefaultKeepAliveMax * testKeepAlive; took > bound+2*time.Second {
		t.Errorf("noticed after %v, bound %v", took, bound)
	}
}

func TestKeepAliveFailsOnFrozenServer(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	cfg.KeepAlive = testKeepAlive

	t.Run("run", func(t *testing.T) {
		c := dial(t, cfg)
		marker := "ncnpush-frozen-run-" + randomHex(6)
		done := startSleepers(t, context.Background(), c, marker)
		thaw := freezeServer(t, s, c)
		frozen := time.Now()
		select {
		case err := <-done:
			checkLost(t, err, nil, time.Since(frozen))
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not fail on a frozen server")
		}
		thaw() // sshd now sees the connection closed and ends the script
		waitGone(t, marker, 10*time.Second)
	})

	t.Run("upload", func(t *testing.T) {
		c := dial(t, cfg)
		dir := t.TempDir()
		inFlight := make(chan struct{})
		var once sync.Once
		r := &slowReader{size: 256 << 20, onProgress: func(n int64) {
			if n > 2<<20 {
				once.Do(func() { close(inFlight) })
			}
		}}
		done := make(chan error, 1)
		go func() {
			done <- c.Upload(context.Background(), r, UploadOptions{Path: filepath.Join(dir, "file"), Size: r.size})
		}()
		select {
		case <-inFlight:
		case err := <-done:
			t.Fatalf("upload ended early: %v", err)
		}
		thaw := freezeServer(t, s, c)
		frozen := time.Now()
		select {
		case err := <-done:
			checkLost(t, err, ErrUpload, time.Since(frozen))
			if !strings.Contains(err.Error(), uploadTempPrefix) || !strings.Contains(err.Error(), "cannot be removed") {
				t.Errorf("err = %v, want it to name the temporary file it could not remove", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Upload did not fail on a frozen server")
		}
		// Once sshd runs again and sees the connection closed, the remote
		// scp, cut short, removes its file itself.
		thaw()
		waitNoTempFiles(t, dir, 10*time.Second)
		if _, err := os.Stat(filepath.Join(dir, "file")); err == nil {
			t.Error("a failed upload left a file at the path")
		}
	})

	t.Run("download", func(t *testing.T) {
		c := dial(t, cfg)
		src := filepath.Join(t.TempDir(), "src")
		f, err := os.Create(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, newPatternReader(64<<20)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		inFlight := make(chan struct{})
		var once sync.Once
		w := &slowWriter{onProgress: func(n int64) {
			if n > 2<<20 {
				once.Do(func() { close(inFlight) })
			}
		}}
		done := make(chan error, 1)
		go func() {
			_, err := c.Download(context.Background(), w, DownloadOptions{Path: src})
			done <- err
		}()
		select {
		case <-inFlight:
		case err := <-done:
			t.Fatalf("download ended early: %v", err)
		}
		freezeServer(t, s, c)
		frozen := time.Now()
		select {
		case err := <-done:
			checkLost(t, err, ErrDownload, time.Since(frozen))
		case <-time.After(15 * time.Second):
			t.Fatal("Download did not fail on a frozen server")
		}
	})
}

// waitNoTempFiles waits up to limit for dir to hold no upload temporary file.
func waitNoTempFiles(t *testing.T, dir string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(dir, uploadTempPrefix+"*"))
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("temporary files left after %v: %q", limit, left)
			return
		}
	}
}

// Heartbeat settings of these tests: a heartbeat every 250 ms, the script
// ended after 2 s without one.
const (
	testHeartbeat        = 250 * time.Millisecond
	testHeartbeatTimeout = 2 * time.Second
)

// groupGoneLimit is how long after the heartbeats stopped the script's
// process group may last: the wrapper sends SIGTERM at most
// testHeartbeatTimeout after the last heartbeat and SIGKILL at most 5 s
// later; 1 s for the processes to go.
const groupGoneLimit = testHeartbeatTimeout + 6*time.Second

func shortHeartbeat(c *Client) {
	c.heartbeat, c.heartbeatTimeout = testHeartbeat, testHeartbeatTimeout
}

func TestRunHeartbeatKeepsLongScriptAlive(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	shortHeartbeat(c)
	// Three heartbeat timeouts: only the heartbeats keep it alive.
	script := fmt.Sprintf("sleep %g\necho survived", (3 * testHeartbeatTimeout).Seconds())
	out, errOut, res, err := run(t, c, script)
	if err != nil || res.ExitCode != 0 || fmt.Sprint(out) != "[survived]" {
		t.Fatalf("out=%q stderr=%q res=%+v err=%v", out, errOut, res, err)
	}
	if res.Duration < 3*testHeartbeatTimeout {
		t.Errorf("ran %v, less than 3 heartbeat timeouts", res.Duration)
	}
}

// groupScript writes the PID of the script's shell to pidFile and starts
// sleepers tagged with marker in its process group, one of them ignoring
// SIGTERM, then prints "started" and waits.
func groupScript(pidFile, marker string) string {
	return fmt.Sprintf(`echo "$$" > %[1]s
(exec -a %[2]s-child sleep 300) &
(trap '' TERM; exec -a %[2]s-stubborn sleep 300) &
sleep 0.2
echo started
(exec -a %[2]s-fg sleep 300)
`, pidFile, marker)
}

// processGroup returns the process group of pid, from /proc.
func processGroup(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) state ppid pgrp ...": comm may hold anything but the
	// last ")".
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return mustAtoi(t, fields[2])
}

// groupMembers returns the PIDs of the live processes in process group
// pgid. Zombies do not count: they hold nothing (no file, no lock), and
// orphans killed here wait for PID 1, slow on this machine, to reap them.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, f := range stats {
		stat, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
			pids = append(pids, pid)
		}
	}
	return pids
}

// startGroupScript runs groupScript on c in the background and returns,
// once it runs, its process group and the channel that yields Run's error
// and the stderr lines.
func startGroupScript(t *testing.T, c *Client, marker string) (int, <-chan error, *lines) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	started := make(chan struct{})
	var once sync.Once
	var errOut lines
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), groupScript(pidFile, marker), RunOptions{
			Stdout: func(l string) {
				if l == "started" {
					once.Do(func() { close(started) })
				}
			},
			Stderr: errOut.add,
		})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("script ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("script did not start")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid := processGroup(t, mustAtoi(t, strings.TrimSpace(string(b))))
	t.Cleanup(func() {
		for _, pid := range groupMembers(pgid) { // do not leave them behind
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if n := len(groupMembers(pgid)); n < 4 {
		t.Fatalf("process group %d has %d processes, want the script and its 3 sleepers", pgid, n)
	}
	return pgid, done, &errOut
}

// waitGroupGone waits up to limit for process group pgid to be empty and
// returns how long that took.
func waitGroupGone(t *testing.T, pgid int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	first := len(groupMembers(pgid))
	for {
		left := groupMembers(pgid)
		if len(left) == 0 {
			return time.Since(start)
		}
		if len(left) < first {
			t.Logf("process group %d: %d of %d processes left after %v", pgid, len(left), first, time.Since(start))
			first = len(left)
		}
		if time.Since(start) > limit {
			t.Errorf("process group %d still has %v after %v", pgid, left, limit)
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunWithoutHeartbeatEndsRemoteGroup(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	shortHeartbeat(c)
	marker := "ncnpush-heartbeat-" + randomHex(6)
	pgid, done, errOut := startGroupScript(t, c, marker)

	c.heartbeatPaused.Store(true)
	stopped := time.Now()
	// TERM at most the timeout after the last heartbeat, KILL for the
	// sleeper that ignores it 5 s later.
	d := waitGroupGone(t, pgid, groupGoneLimit)
	t.Logf("remote process group gone %v after the heartbeats stopped (timeout %v)", d, testHeartbeatTimeout)
	if d < testHeartbeatTimeout-testHeartbeat {
		t.Errorf("process group gone after %v, before the heartbeat timeout", d)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrRemoteCommand) || !strings.Contains(strings.Join(errOut.get(), "\n"), "no heartbeat") {
			t.Errorf("err = %v, stderr %q: want the script ended, saying why", err, errOut.get())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Run did not return %v after the heartbeats stopped", time.Since(stopped))
	}
	waitGone(t, marker, time.Second)
	c.heartbeatPaused.Store(false)
	runOK(t, c)
}

// TestRunEndsWhenClientVanishes: the client goes silent as on a power loss
// (the proxy drops nothing and resets nothing, it just stops passing data;
// the client has no keepalives to notice): sshd notices nothing, and the
// node still ends the script once the heartbeats stop coming.
func TestRunEndsWhenClientVanishes(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	p := startProxy(t, s.addr())
	cfg := env.config(t, s)
	cfg.Port = p.port
	cfg.KnownHostsFiles = nil
	cfg.InsecureIgnoreHostKey = true // the proxy's port is not in known_hosts
	cfg.KeepAlive = -1
	c := dial(t, cfg)
	shortHeartbeat(c)
	marker := "ncnpush-vanish-" + randomHex(6)
	pgid, done, _ := startGroupScript(t, c, marker)

	p.freeze()
	d := waitGroupGone(t, pgid, groupGoneLimit)
	t.Logf("remote process group gone %v after the client went silent (timeout %v)", d, testHeartbeatTimeout)
	waitGone(t, marker, time.Second)

	p.close() // the client's Run has no keepalives: end it
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) {
			t.Errorf("err = %v, want ErrConnectionLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return once the connection was closed")
	}
}

// lastByteReader yields size zero bytes and then, at the read after the
// last byte (Upload's check that there is no more), calls atEnd and
// returns what it returns.
type lastByteReader struct {
	size, n int64
	atEnd   func() error
}

func (r *lastByteReader) Read(p []byte) (int, error) {
	if r.n >= r.size {
		return 0, r.atEnd()
	}
	n := min(int64(len(p)), r.size-r.n)
	clear(p[:n])
	r.n += n
	return int(n), nil
}

func TestUploadCancelledAfterLastByteLeavesNothing(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	for _, tc := range []struct {
		name string
		end  func(ctx context.Context) error
	}{
		// The cancellation comes with the end: the reader says so.
		{"reader fails", func(ctx context.Context) error { return context.Cause(ctx) }},
		// The cancellation comes just after a clean end: the remote scp
		// completes the temporary file before Upload sees it.
		{"reader ends", func(context.Context) error { return io.EOF }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "snapshot")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &lastByteReader{size: 3<<20 + 17, atEnd: func() error { cancel(); return tc.end(ctx) }}
			err := c.Upload(ctx, r, UploadOptions{Path: dest, Size: r.size})
			if !errors.Is(err, ErrUpload) || !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want ErrUpload and context.Canceled", err)
			}
			if r.n != r.size {
				t.Fatalf("reader gave %d of %d bytes", r.n, r.size)
			}
			noTempFiles(t, dir)
			if _, err := os.Stat(dest); err == nil {
				t.Error("a cancelled upload left a file at the path")
			}
		})
	}
}

func TestUploadSizeProbeFailureLeavesNothing(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	dir := t.TempDir()
	dest := filepath.Join(dir, "snapshot")
	errCheck := errors.New("snapshot check failed at its end")
	r := &lastByteReader{size: 3<<20 + 17, atEnd: func() error { return errCheck }}
	err := c.Upload(context.Background(), r, UploadOptions{Path: dest, Size: r.size})
	if !errors.Is(err, ErrUpload) || !errors.Is(err, errCheck) || !strings.HasPrefix(err.Error(), "ncn-test: upload "+dest+": ") {
		t.Errorf("err = %v, want ErrUpload wrapping the reader's error", err)
	}
	noTempFiles(t, dir)
	if _, err := os.Stat(dest); err == nil {
		t.Error("a failed upload left a file at the path")
	}
}

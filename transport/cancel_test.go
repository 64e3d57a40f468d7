package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// markerProcesses lists the processes whose command line contains marker.
func markerProcesses(t *testing.T, marker string) []string {
	t.Helper()
	out, err := exec.Command("pgrep", "-a", "-f", marker).Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		return nil // none
	}
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// waitGone waits up to limit for every process with marker to end.
func waitGone(t *testing.T, marker string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		procs := markerProcesses(t, marker)
		if len(procs) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Errorf("%v after the end, still running: %q", limit, procs)
			for _, p := range procs { // do not leave them behind
				if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sleeperScript starts three `sleep 300` processes tagged with marker: the
// script's foreground command, a background child, and one that ignores
// SIGTERM.
func sleeperScript(marker string) string {
	return fmt.Sprintf(`(exec -a %[1]s-child sleep 300) &
(trap '' TERM; exec -a %[1]s-stubborn sleep 300) &
sleep 0.2
echo started
(exec -a %[1]s-fg sleep 300)
echo not reached
`, marker)
}

// startSleepers runs sleeperScript on c in the background and returns once
// all three sleepers run; the returned channel yields Run's error.
func startSleepers(t *testing.T, ctx context.Context, c *Client, marker string) <-chan error {
	t.Helper()
	started := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, sleeperScript(marker), RunOptions{Stdout: func(l string) {
			if l == "started" {
				once.Do(func() { close(started) })
			}
		}})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("script ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("script did not start")
	}
	for deadline := time.Now().Add(10 * time.Second); len(markerProcesses(t, marker)) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("sleepers not running: %q", markerProcesses(t, marker))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return done
}

func TestRunCancelEndsRemoteProcesses(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	marker := "ncnpush-cancel-" + randomHex(6)
	ctx, cancel := context.WithCancel(context.Background())
	done := startSleepers(t, ctx, c, marker)

	cancel()
	cancelled := time.Now()
	// The ordinary sleepers end on SIGTERM right away...
	for _, p := range []string{"-fg", "-child"} {
		waitGone(t, marker+p, 3*time.Second)
		t.Logf("%s gone %v after cancel", p, time.Since(cancelled))
	}
	// ...Run returns once the remote side confirmed the end...
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "ncn-test: run script: ") {
			t.Fatalf("err = %v, want context.Canceled naming the host", err)
		}
	case <-time.After(cancelWait + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	t.Logf("Run returned %v after cancel", time.Since(cancelled))
	// ...and the one ignoring SIGTERM got SIGKILL after the grace period.
	waitGone(t, marker, 3*time.Second)
	if d := time.Since(cancelled); d > 10*time.Second {
		t.Errorf("processes lasted %v after cancel", d)
	}

	// The connection is still usable.
	runOK(t, c)
}

func TestCloseEndsRemoteProcesses(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	marker := "ncnpush-close-" + randomHex(6)
	done := startSleepers(t, context.Background(), c, marker)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("err = %v, want ErrConnectionLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	waitGone(t, marker+"-fg", 5*time.Second)
	waitGone(t, marker, 10*time.Second)
}

func TestKeepAliveClosesDeadConnection(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	p := startProxy(t, s.addr())
	cfg := env.config(t, s)
	cfg.Port = p.port
	cfg.KnownHostsFiles = nil
	cfg.InsecureIgnoreHostKey = true // the proxy's port is not in known_hosts
	cfg.KeepAlive = 200 * time.Millisecond
	c := dial(t, cfg)
	runOK(t, c)
	time.Sleep(time.Second) // keepalives are answered: the connection stays up
	runOK(t, c)

	marker := "ncnpush-keepalive-" + randomHex(6)
	done := startSleepers(t, context.Background(), c, marker)
	p.freeze() // the network goes silent, TCP stays up
	frozen := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("err = %v, want ErrConnectionLost naming keepalives", err)
		}
		if d := time.Since(frozen); d > 3*time.Second {
			t.Errorf("dead connection noticed after %v with 200ms keepalives", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not fail on a dead connection")
	}
	p.close() // sshd now sees the connection end and ends the script
	waitGone(t, marker, 10*time.Second)
}

// tcpProxy forwards loopback connections to a target and can go silent.
type tcpProxy struct {
	l      net.Listener
	port   int
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, port: l.Addr().(*net.TCPAddr).Port}
	t.Cleanup(p.close)
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

// pipe copies src to dst, holding data back while frozen.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
			if p.l == nil {
				return
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (p *tcpProxy) freeze() { p.frozen.Store(true) }

func (p *tcpProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.frozen.Store(false)
}

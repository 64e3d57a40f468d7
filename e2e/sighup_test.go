package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPAtEveryPhaseTheRunGoesOn: the terminal (or the SSH session to
// the admin node) closes in the middle of a restore. One restore gets a
// SIGHUP at every phase it reaches; half-way (at the swap) its stdout and
// stderr go away too, as a closed terminal's do. The run must go on exactly
// as if nothing happened: exit 0, every member holds the backup's data, and
// the run log has everything, with the report beside it.
func TestSIGHUPAtEveryPhaseTheRunGoesOn(t *testing.T) {
	name := backupWithData(t, "hup-before", "hup-after")
	logDir := t.TempDir()
	cmd := exec.Command(ncnpush(t), restoreArgs("--backup", name, "--yes", "--skip-k8s-heal", "--log-dir", logDir)...)
	cmd.Env = os.Environ()
	for k, v := range lab.S3Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Read the live output, sending SIGHUP at each new phase header, until
	// the swap: then the terminal goes away (both pipes closed).
	var mu sync.Mutex
	var seen []string
	swap := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(outR)
		closed := false
		for sc.Scan() {
			l := sc.Text()
			if i := strings.Index(l, "] "); strings.HasPrefix(l, "==> [") && i > 0 {
				cmd.Process.Signal(syscall.SIGHUP)
				mu.Lock()
				seen = append(seen, l)
				mu.Unlock()
				if strings.Contains(l, "Swap in the restored member") && !closed {
					closed = true
					close(swap)
					outR.Close()
					errR.Close()
					return
				}
			}
		}
	}()
	go func() {
		// Drain stderr until the swap closes it.
		b := make([]byte, 4096)
		for {
			if _, err := errR.Read(b); err != nil {
				return
			}
		}
	}()
	select {
	case <-swap:
	case err := <-done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the run ended before the swap (%v); phases seen: %v", err, seen)
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("no swap phase within 5 minutes")
	}
	// The terminal is gone: keep hanging up on it until the run ends.
	var waitErr error
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(5 * time.Minute)
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-tick.C:
			cmd.Process.Signal(syscall.SIGHUP)
		case <-limit:
			cmd.Process.Kill()
			t.Fatal("the run did not end within 5 minutes of the swap")
		}
	}
	mu.Lock()
	t.Logf("phases seen before the terminal closed: %d", len(seen))
	mu.Unlock()
	if waitErr != nil {
		t.Errorf("the run ended with %v after SIGHUP (want exit 0, as if the terminal were there)", waitErr)
	}
	waitHealthy(t)
	checkData(t, "hup-before", 500, "hup-after")

	// The run log holds what the terminal missed, and the report is beside it.
	logs, _ := filepath.Glob(filepath.Join(logDir, "*-etcd-restore-*.log"))
	if len(logs) != 1 {
		t.Fatalf("run logs in %s: %v", logDir, logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"SIGHUP", "Start etcd on every master together", "Verify the restored cluster",
		"Release the locks", "exit code 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("the run log lacks %q", want)
		}
	}
	if st, _ := os.Stat(logs[0]); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("run log mode: %v, want 0600", st)
	}
	var rep struct {
		Status string `json:"status"`
	}
	rb, err := os.ReadFile(strings.TrimSuffix(logs[0], ".log") + ".json")
	if err != nil {
		t.Fatalf("no report beside the run log: %v", err)
	}
	if err := json.Unmarshal(rb, &rep); err != nil || rep.Status != "ok" {
		t.Errorf("report beside the run log: status %q (%v)", rep.Status, err)
	}
	for _, n := range lab.Nodes {
		if out := lab.MustSSH(t, n, "ls -d /var/tmp/ncnpush-etcd-restore.* 2>/dev/null || true; "+
			"grep -L '^end ' /var/lib/ncnpush-etcd-restore/*.journal 2>/dev/null || true"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: staging or an open journal left: %s", n, out)
		}
	}
}

package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/output"
)

// Environment of a child process of these tests: the test binary run as
// ncnpush (TestMain), with hosts reached through the local bash
// (hoststest) instead of SSH, and, if envTestRunName is set, that name for
// its run log.
const (
	envTestAsNcnpush = "NCNPUSH_TEST_AS_NCNPUSH"
	envTestRunName   = "NCNPUSH_TEST_RUN_NAME"
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestAsNcnpush) == "1" {
		dialHook = hoststest.Dial("")
		if n := os.Getenv(envTestRunName); n != "" {
			runLogName = func(time.Time, string, int) string { return n }
		}
		os.Exit(Main(os.Args))
	}
	os.Exit(m.Run())
}

// child is ncnpush run as a child process, its stdout and stderr on pipes
// the test reads.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File // the read ends
	errLines       *bufio.Reader
	outLines       *bufio.Reader
	done           chan error
}

// startChild runs `ncnpush args...` (hosts through the local bash).
func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), envTestAsNcnpush+"=1", "NO_COLOR=1"), env...)
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
	c := &child{cmd: cmd, stdout: outR, stderr: errR, errLines: bufio.NewReader(errR), outLines: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		outR.Close()
		errR.Close()
	})
	return c
}

// readUntil reads lines from r until one contains want, or fails the test
// after 10 s. It returns that line.
func readUntil(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		var seen []string
		for {
			l, err := r.ReadString('\n')
			if strings.Contains(l, want) {
				ch <- res{line: l}
				return
			}
			seen = append(seen, l)
			if err != nil {
				ch <- res{err: errors.New(err.Error() + ": " + strings.Join(seen, ""))}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("no line with %q: %v", want, r.err)
		}
		return r.line
	case <-time.After(10 * time.Second):
		t.Fatalf("no line with %q in 10s", want)
	}
	return ""
}

// wait waits at most 15 s for the child to exit and returns its exit code
// (-1 if a signal killed it).
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Errorf("killed by %v", ws.Signal())
				return -1
			}
			return ee.ExitCode()
		default:
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ncnpush still running after 15s")
	}
	return -1
}

// writeInventory writes an INI inventory of hosts (reached through the
// local bash by the child).
func writeInventory(t *testing.T, names ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosts.ini")
	if err := os.WriteFile(p, []byte("[masters]\n"+strings.Join(names, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkMode fails unless path has exactly mode perm (and is no link).
func checkMode(t *testing.T, path string, perm os.FileMode) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != perm || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("%s: mode %v, want %04o", path, fi.Mode(), perm)
	}
	return fi
}

type reportDoc struct {
	Action string `json:"action"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Phases []struct {
		Hosts []struct {
			Host   string   `json:"host"`
			Status string   `json:"status"`
			Output []string `json:"output"`
		} `json:"hosts"`
	} `json:"phases"`
}

func readReport(t *testing.T, path string) reportDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc reportDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return doc
}

// SIGHUP in the middle of a run, with stdout and stderr pipes whose reader
// is gone by then (as a closed terminal or SSH session leaves them): the run
// goes on to its end and exits 0, the run log has every line (those written
// after the terminal went too) and the SIGHUP line, and the report lands
// beside it; both are 0600 in a 0700 directory.
func TestSIGHUPRunGoesOnToItsEnd(t *testing.T) {
	inv := writeInventory(t, "h1", "h2")
	logDir := filepath.Join(t.TempDir(), "state", "runs")
	c := startChild(t, nil, "exec", "-i", inv, "--log-dir", logDir, "--",
		"echo before-$NCNPUSH_TEST_HOST; sleep 2; echo after-$NCNPUSH_TEST_HOST")
	first := readUntil(t, c.errLines, "run log: ")
	logPath := strings.TrimSpace(strings.TrimPrefix(first, "ncnpush: run log: "))
	if filepath.Dir(logPath) != logDir || !strings.HasSuffix(logPath, "-exec-"+strconv.Itoa(c.cmd.Process.Pid)+".log") {
		t.Errorf("first stderr line %q: want ncnpush: run log: %s/<UTC time>-exec-%d.log", first, logDir, c.cmd.Process.Pid)
	}
	readUntil(t, c.outLines, "before-h")
	// The terminal goes: nobody reads stdout or stderr any more.
	c.stdout.Close()
	c.stderr.Close()
	sent := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGHUP, want 0 (the run goes on to its end)", code)
	}
	t.Logf("exited 0 %s after SIGHUP", time.Since(sent).Round(time.Millisecond))

	checkMode(t, logDir, 0o700)
	checkMode(t, logPath, 0o600)
	reportPath := strings.TrimSuffix(logPath, ".log") + ".json"
	checkMode(t, reportPath, 0o600)
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{
		"ncnpush: run log: " + logPath,
		"h1 | before-h1", "h2 | before-h2", "h1 | after-h1", "h2 | after-h2",
		`msg="terminal closed (SIGHUP): the run goes on; its log is ` + logPath + `" host=-`,
		"exec: ok in ",
		"ncnpush: exit code 0 after ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the run log lacks %q:\n%s", want, log)
		}
	}
	if strings.Count(log, "terminal closed (SIGHUP)") != 1 {
		t.Errorf("the SIGHUP line is not there exactly once:\n%s", log)
	}
	// The terminal was switched off, not written through.
	if !strings.Contains(log, "the terminal gets no more output; this log goes on") {
		t.Errorf("the run log does not say the terminal went:\n%s", log)
	}
	doc := readReport(t, reportPath)
	if doc.Action != "exec" || doc.Status != "ok" || len(doc.Phases) != 1 || len(doc.Phases[0].Hosts) != 2 {
		t.Fatalf("report %+v", doc)
	}
	for _, h := range doc.Phases[0].Hosts {
		if !slices.Contains(h.Output, "after-"+h.Host) {
			t.Errorf("report: %s output %q lacks after-%s", h.Host, h.Output, h.Host)
		}
	}
}

// SIGTERM does exactly what SIGINT does: the remote commands end at once,
// the exit code is 130, and the report says the run failed, interrupted;
// the run log ends with the error line and the exit code.
func TestSIGTERMIsSIGINT(t *testing.T) {
	inv := writeInventory(t, "h1")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			logDir := t.TempDir()
			c := startChild(t, nil, "exec", "-i", inv, "--log-dir", logDir, "-o", "json", "--",
				"echo started; sleep 30; echo not-reached")
			first := readUntil(t, c.errLines, "run log: ")
			logPath := strings.TrimSpace(strings.TrimPrefix(first, "ncnpush: run log: "))
			readUntil(t, c.errLines, "h1 | started")
			sent := time.Now()
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(c.errLines)
			stdout, _ := io.ReadAll(c.outLines)
			if code := c.wait(t); code != exitCancelled {
				t.Fatalf("exit code %d after %v, want %d\nstderr:\n%s", code, sig, exitCancelled, rest)
			}
			if d := time.Since(sent); d > 10*time.Second {
				t.Errorf("exit %s after %v", d, sig)
			}
			lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
			last := lines[len(lines)-1]
			if want := sig.String() + " signal received"; !strings.HasPrefix(last, "ncnpush: ") || !strings.Contains(last, want) {
				t.Errorf("last stderr line %q", last)
			}
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			if strings.Contains(log, "not-reached") || !strings.Contains(log, last+"\n") ||
				!strings.HasSuffix(log, "ncnpush: exit code 130 after "+lastField(log)) {
				t.Errorf("run log:\n%s", log)
			}
			if strings.Contains(log, "SIGHUP") {
				t.Errorf("SIGHUP in the log of a %v:\n%s", sig, log)
			}
			// The report is the document -o json printed.
			report, err := os.ReadFile(strings.TrimSuffix(logPath, ".log") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(report, stdout) {
				t.Errorf("report\n%s\nis not stdout's document\n%s", report, stdout)
			}
			if doc := readReport(t, strings.TrimSuffix(logPath, ".log")+".json"); doc.Status != "failed" || !strings.Contains(doc.Error, sig.String()+" signal received") {
				t.Errorf("report %+v", doc)
			}
		})
	}
}

// The log never goes through a link: a --log-dir that is a link is
// refused, and so is a log name that is taken (by a planted link here),
// before any host is reached; a link planted at the report's name is
// replaced, not followed.
func TestRunLogRefusesLinks(t *testing.T) {
	inv := writeInventory(t, "h1")
	tmp := t.TempDir()
	target := filepath.Join(tmp, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	realDir := filepath.Join(tmp, "real")
	if err := os.Mkdir(realDir, 0o700); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(tmp, "link")
	if err := os.Symlink(realDir, linkDir); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, logDir string) (int, string, string) {
		c := startChild(t, env, "exec", "-i", inv, "--log-dir", logDir, "--", "echo ran-on-$NCNPUSH_TEST_HOST")
		stderr, _ := io.ReadAll(c.errLines)
		stdout, _ := io.ReadAll(c.outLines)
		return c.wait(t), string(stdout), string(stderr)
	}

	code, stdout, stderr := run(nil, linkDir)
	if code != exitFailed || !strings.Contains(stderr, "is a symbolic link") || strings.Contains(stdout, "ran-on") {
		t.Errorf("--log-dir a link: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	name := "20240501T102030Z-exec-1"
	if err := os.Symlink(target, filepath.Join(realDir, name+".log")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run([]string{envTestRunName + "=" + name}, realDir)
	if code != exitFailed || !strings.Contains(stderr, "file exists") || strings.Contains(stdout, "ran-on") {
		t.Errorf("a link at the log's name: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	name = "20240501T102030Z-exec-2"
	if err := os.Symlink(target, filepath.Join(realDir, name+".json")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run([]string{envTestRunName + "=" + name}, realDir)
	if code != 0 || !strings.Contains(stdout, "h1 | ran-on-h1") {
		t.Errorf("a link at the report's name: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	checkMode(t, filepath.Join(realDir, name+".log"), 0o600)
	checkMode(t, filepath.Join(realDir, name+".json"), 0o600)
	if doc := readReport(t, filepath.Join(realDir, name+".json")); doc.Status != "ok" {
		t.Errorf("report %+v", doc)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(realDir, "*.tmp-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// In process: every command that changes nodes has --log-dir and the help
// paragraph, the others neither; a failed run has its log and a report,
// in text mode too, with the summary table and the error line in the log,
// and stderr's first line names the log.
func TestRunLogInProcess(t *testing.T) {
	app := NewApp()
	found := map[string]bool{}
	var walk func(cmds []*cli.Command, prefix string)
	walk = func(cmds []*cli.Command, prefix string) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			walk(c.Subcommands, name)
			hasFlag := false
			for _, f := range c.Flags {
				hasFlag = hasFlag || slices.Contains(f.Names(), flagLogDir)
			}
			logged := isLoggedCommand(name)
			found[name] = true
			if hasFlag != logged || strings.Contains(c.Description, "SIGHUP") != logged {
				t.Errorf("%s: --%s %v, help paragraph %v, want %v", name, flagLogDir, hasFlag, strings.Contains(c.Description, "SIGHUP"), logged)
			}
		}
	}
	walk(app.Commands, "")
	for _, n := range loggedCommands {
		if !found[n] {
			t.Errorf("loggedCommands names %q: no such command", n)
		}
	}

	dialHook = hoststest.Dial("")
	t.Cleanup(func() { dialHook = nil })
	inv := writeInventory(t, "h1", "h2")
	logDir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := mainTo([]string{"ncnpush", "exec", "-i", inv, "--log-dir", logDir, "--", "echo out-$NCNPUSH_TEST_HOST; exit 3"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*-exec-*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	if first, _, _ := strings.Cut(stderr.String(), "\n"); first != "ncnpush: run log: "+logs[0] {
		t.Errorf("first stderr line %q", first)
	}
	b, _ := os.ReadFile(logs[0])
	log := string(b)
	lastErr := strings.TrimSpace(stderr.String()[strings.LastIndex(strings.TrimSpace(stderr.String()), "\n")+1:])
	for _, want := range []string{"h1 | out-h1", "h2 | out-h2", "PHASE", "exec: failed in", lastErr + "\n", "ncnpush: exit code 1 after"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(stdout.String(), "h1 | out-h1") || !strings.Contains(stdout.String(), "exec: failed in") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if doc := readReport(t, strings.TrimSuffix(logs[0], ".log")+".json"); doc.Status != "failed" || len(doc.Phases) != 1 {
		t.Errorf("report %+v", doc)
	}

	// A command that does not change nodes keeps no log and prints no
	// run-log line.
	stdout.Reset()
	stderr.Reset()
	if code := mainTo([]string{"ncnpush", "templates", "list"}, &stdout, &stderr); code != 0 || strings.Contains(stderr.String(), "run log") {
		t.Errorf("templates list: exit %d, stderr %q", code, stderr.String())
	}
}

// A secret the session's redactor knows is masked in the log and the
// report as on the terminal.
func TestRunLogRedacts(t *testing.T) {
	red := output.NewRedactor("s3cr3t")
	dir := t.TempDir()
	l, err := output.OpenRunLog(dir, "x", red)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = l.Write([]byte("\x1b[31mkey s3cr3t\x1b[0m\n"))
	if err := l.WriteReport(func(w io.Writer) error { return writeJSON(w, map[string]string{"k": "s3cr3t"}) }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "x.log"))
	r, _ := os.ReadFile(filepath.Join(dir, "x.json"))
	if string(b) != "key ***\n" || strings.Contains(string(r), "s3cr3t") {
		t.Errorf("log %q, report %q", b, r)
	}
}

func lastField(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, " ")+1:] + "\n"
}

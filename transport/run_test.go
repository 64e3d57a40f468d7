package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/shell"
)

// dial connects with cfg and closes the client when the test ends.
func dial(t testing.TB, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lines collects callback lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }

func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

func run(t *testing.T, c *Client, script string) (out, errOut []string, res RunResult, err error) {
	t.Helper()
	var o, e lines
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err = c.Run(ctx, script, RunOptions{Stdout: o.add, Stderr: e.add})
	return o.get(), e.get(), res, err
}

func TestRunStreamsLinesAndExitCode(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))

	out, errOut, res, err := run(t, c, "echo out1\necho err1 >&2\necho\necho 'héllo wörld'\nprintf 'partial'\nexit 3\n")
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 3 || !errors.Is(err, ErrRemoteCommand) {
		t.Fatalf("err = %v, want *ExitError code 3 matching ErrRemoteCommand", err)
	}
	if !strings.HasPrefix(err.Error(), "ncn-test: run script: exit status 3") {
		t.Errorf("error message %q does not name host and action", err)
	}
	if res.ExitCode != 3 || res.Duration <= 0 {
		t.Errorf("result = %+v", res)
	}
	if want := []string{"out1", "", "héllo wörld", "partial"}; fmt.Sprint(out) != fmt.Sprint(want) {
		t.Errorf("stdout lines = %q, want %q", out, want)
	}
	if want := []string{"err1"}; fmt.Sprint(errOut) != fmt.Sprint(want) {
		t.Errorf("stderr lines = %q, want %q", errOut, want)
	}

	out, _, res, err = run(t, c, "echo ok")
	if err != nil || res.ExitCode != 0 || len(out) != 1 || out[0] != "ok" {
		t.Fatalf("echo ok: out=%q res=%+v err=%v", out, res, err)
	}

	// Streaming: the first line arrives while the script still runs.
	var firstAt time.Time
	start := time.Now()
	_, err = c.Run(context.Background(), "echo early\nsleep 3\necho late", RunOptions{Stdout: func(l string) {
		if l == "early" {
			firstAt = time.Now()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if firstAt.IsZero() || time.Since(firstAt) < 2*time.Second {
		t.Errorf("first line came %v after start, %v before the end: not streamed", firstAt.Sub(start), time.Since(firstAt))
	}

	// A script larger than a pipe buffer and an SSH window, and many lines.
	var big strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&big, "echo line-%d # %s\n", i, strings.Repeat("x", 80))
	}
	out, _, _, err = run(t, c, big.String())
	if err != nil || len(out) != 20000 || out[19999] != "line-19999" {
		t.Fatalf("big script: %d lines, err %v", len(out), err)
	}

	// Scripts run in the remote user's context without a file.
	out, _, _, err = run(t, c, `id -un; echo "$0"`)
	if err != nil || fmt.Sprint(out) != "[root bash]" {
		t.Fatalf("id/$0: %q %v", out, err)
	}
}

func TestRunBashStrictMode(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	for _, tc := range []struct {
		name, script string
		code         int
	}{
		{"errexit", "false\necho not reached", 1},
		{"nounset", "echo $UNDEFINED_VARIABLE_X\necho not reached", 1},
		{"pipefail", "false | true\necho not reached", 1},
		{"exit code", "exit 42", 42},
		{"killed", "kill -KILL $$", 137},
	} {
		out, _, res, err := run(t, c, tc.script)
		if !errors.Is(err, ErrRemoteCommand) || res.ExitCode != tc.code || len(out) != 0 {
			t.Errorf("%s: out=%q code=%d err=%v, want code %d", tc.name, out, res.ExitCode, err, tc.code)
		}
	}
	if _, err := c.Run(context.Background(), "echo a\x00b", RunOptions{}); err == nil || !errors.Is(err, shell.ErrNUL) {
		t.Errorf("script with NUL: %v", err)
	}
}

func TestRunQuotedValueArrivesLiterally(t *testing.T) {
	env := newTestEnv(t)
	c := dial(t, env.config(t, env.server(t)))
	pwned := filepath.Join(t.TempDir(), "pwned")
	_, tmpXErr := os.Stat("/tmp/x")
	values := []string{
		"a'b; $(touch /tmp/x)",
		"a'b; $(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"$HOME ${HOME} $((1+1)) *",
		"multi\nline\n",
		"'; touch " + pwned + "; echo '",
		"\\'\"",
		"",
	}
	for _, v := range values {
		var out bytes.Buffer
		// printf %s with the value, then a sentinel line, so that trailing
		// newlines in v are checked too.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := c.Run(ctx, "printf %s "+shell.Quote(v)+"\necho\necho END", RunOptions{
			Stdout: func(l string) { out.WriteString(l + "\n") },
		})
		cancel()
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		if got := strings.TrimSuffix(out.String(), "\nEND\n"); got != v {
			t.Errorf("value %q arrived as %q", v, got)
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("%s was created: a quoted value was executed", pwned)
	}
	if _, err := os.Stat("/tmp/x"); err == nil && tmpXErr != nil {
		os.Remove("/tmp/x")
		t.Errorf("/tmp/x was created: a quoted value was executed")
	}
}

// TestRemoteWrapperRefusesTruncatedScript runs the wrapper with local bash:
// a script cut short (stdin closed early) must not run at all.
func TestRemoteWrapperRefusesTruncatedScript(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	script := "touch " + shell.Quote(marker) + "\n" + "echo rest\n"
	cmd := exec.Command("bash", "-c", remoteCommand(len(script), heartbeatTimeout))
	cmd.Stdin = strings.NewReader(script[:len(script)-5]) // EOF before the end
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 125 {
		t.Fatalf("err = %v, want exit 125", err)
	}
	if !strings.Contains(stderr.String(), "truncated") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the truncated script ran")
	}

	// With the whole script, multi-byte characters counted as bytes, it runs.
	script = "printf 'é€\\n'"
	cmd = exec.Command("bash", "-c", remoteCommand(len(script), heartbeatTimeout))
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	cmd.Stdin = stdinR
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if _, err := stdinW.WriteString(script); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output() // stdin stays open, like the SSH channel
	stdinR.Close()
	if err != nil || string(out) != "é€\n" {
		t.Fatalf("out=%q err=%v", out, err)
	}
}

func TestStreamLines(t *testing.T) {
	long := strings.Repeat("y", maxLine+100<<10)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a\nb\n", []string{"a", "b"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"\r\n", []string{"\r"}},
		{long + "\nz", []string{long[:maxLine], long[maxLine:], "z"}},
	} {
		var got []string
		streamLines(strings.NewReader(tc.in), func(l string) { got = append(got, l) })
		if len(got) != len(tc.want) {
			t.Errorf("%.20q: got %d lines, want %d", tc.in, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%.20q: line %d = %.20q (len %d), want %.20q (len %d)", tc.in, i, got[i], len(got[i]), tc.want[i], len(tc.want[i]))
			}
		}
	}
}

package phases_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/templates"
	"github.com/ncnpush/ncnpush/transport"
)

// testTemplates are written to an override directory for every test.
var testTemplates = map[string]string{
	// sleep.sh.tmpl sleeps .Vars.sleep seconds, fails with .Vars.code on
	// .Vars.fail_host, and leaves a marker file named after the phase and host.
	"sleep.sh.tmpl": `fail_host={{ q .Vars.fail_host }}
if [[ ${fail_host} == {{ q .Host.Name }} ]]; then
	echo "failing on purpose" >&2
	exit {{ q .Vars.code }}
fi
sleep {{ q .Vars.sleep }}
touch {{ printf "%s/%s.%s" .Vars.dir .Task.Phase .Host.Name | q }}
echo done
`,
	"touch.sh.tmpl": `touch {{ printf "%s/%s.%s" .Vars.dir .Task.Phase .Host.Name | q }}
echo touched
`,
	"emit.sh.tmpl": `name={{ q .Host.Name }}
echo "line one of ${name}"
echo "line two"
`,
	"emit-json.sh.tmpl": `name={{ q .Host.Name }}
printf '{"name": "%s", "revision": 12345678901234567, "members": ["a", "b"]}\n' "${name}"
`,
	"emit-env.sh.tmpl": `name={{ q .Host.Name }}
echo "# a comment"
echo "node=${name}"
echo "url=https://10.0.0.1:2380?a=b"
echo
`,
	"use-facts.sh.tmpl": `echo "self-json:" {{ .Self.js.name | q }} {{ .Self.js.revision | q }}
echo "self-env:" {{ .Self.env.node | q }} {{ .Self.env.url | q }}
echo "self-lines:" {{ qjoin .Self.ln }}
echo "all-env:" {{ range $h, $v := .Facts.env }}{{ q $h }}={{ q $v.node }} {{ end }}
echo "first-member:" {{ index .Self.js.members 0 | q }}
`,
	"missing.sh.tmpl": `echo {{ .Vars.nope | q }}
`,
	"vars.sh.tmpl": `echo {{ q .Vars.a }} {{ q .Vars.b }} {{ q .Vars.c }} {{ q .Vars.d }}
`,
	"secret.sh.tmpl": `echo "the password is" {{ q .Vars.password }}
`,
	"empty.sh.tmpl": "# nothing to do here\n",
	"last-status.sh.tmpl": `[[ -e /nonexistent/ncnpush ]] && echo "exists"
`,
	"stdin.sh.tmpl": `cat
read -r line || true
echo "after: ${line:-nothing}"
`,
}

type fixture struct {
	t     *testing.T
	dir   string
	hosts hosts.Hosts
	env   *phases.Env
	out   *bytes.Buffer
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	tdir := t.TempDir()
	for name, text := range testTemplates {
		if err := os.WriteFile(filepath.Join(tdir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := templates.New(tdir)
	if err != nil {
		t.Fatal(err)
	}
	// Five hosts in the inventory, the first n in the run (as if --limit had
	// narrowed it).
	inv := hoststest.Hosts([]string{"m1", "m2", "m3", "w1", "w2"}, []string{"masters"}, []string{"masters"}, []string{"masters"}, []string{"workers"}, []string{"workers"})
	hs := inv[:n]
	out := &bytes.Buffer{}
	dir := t.TempDir()
	env := &phases.Env{
		Hosts:     hs,
		Selector:  hoststest.Selector{Hosts: inv},
		Templates: set,
		Vars:      map[string]any{"dir": dir, "sleep": "0", "fail_host": "", "code": "1"},
		Out:       output.NewPrinter(&syncWriter{w: out}, output.PrinterOptions{Color: output.ColorNever}),
	}
	return &fixture{t: t, dir: dir, hosts: hs, env: env, out: out}
}

// syncWriter guards a bytes.Buffer that the test reads while nothing writes.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (f *fixture) run(yaml string) (*output.Report, error) {
	f.t.Helper()
	task, err := tasks.Parse("test.yaml", []byte(yaml))
	if err != nil {
		f.t.Fatal(err)
	}
	return phases.RunTask(context.Background(), f.env, task)
}

func (f *fixture) marker(phase, host string) bool {
	_, err := os.Stat(filepath.Join(f.dir, phase+"."+host))
	return err == nil
}

func (f *fixture) runs(host string) int64 {
	return f.hosts.Find(host).Conn.(*hoststest.Conn).Runs()
}

func hostResult(t *testing.T, rep *output.Report, phase int, host string) output.HostResult {
	t.Helper()
	for _, h := range rep.Phases[phase].Hosts {
		if h.Host == host {
			return h
		}
	}
	t.Fatalf("phase %d has no result for %s: %+v", phase, host, rep.Phases[phase].Hosts)
	return output.HostResult{}
}

func TestSerialRunsInHostOrder(t *testing.T) {
	f := newFixture(t, 3)
	f.env.Vars["sleep"] = "0.2"
	rep, err := f.run(`phases: [{title: P, template: sleep.sh.tmpl, strategy: serial}]`)
	if err != nil {
		t.Fatal(err)
	}
	hs := rep.Phases[0].Hosts
	if len(hs) != 3 {
		t.Fatalf("results %+v", hs)
	}
	for i := 1; i < len(hs); i++ {
		prev, cur := hs[i-1], hs[i]
		if cur.Started.Before(prev.Ended) {
			t.Errorf("%s started %v before %s ended %v", cur.Host, cur.Started, prev.Host, prev.Ended)
		}
	}
	if hs[0].Host != "m1" || hs[2].Host != "m3" {
		t.Errorf("order %v", hs)
	}
}

func TestParallelOverlaps(t *testing.T) {
	f := newFixture(t, 2)
	f.env.Vars["sleep"] = "1"
	rep, err := f.run(`phases: [{title: P, template: sleep.sh.tmpl}]`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := rep.Phases[0].Hosts[0], rep.Phases[0].Hosts[1]
	latestStart := a.Started
	if b.Started.After(latestStart) {
		latestStart = b.Started
	}
	earliestEnd := a.Ended
	if b.Ended.Before(earliestEnd) {
		earliestEnd = b.Ended
	}
	if !latestStart.Before(earliestEnd) {
		t.Fatalf("no overlap: %s [%v, %v], %s [%v, %v]", a.Host, a.Started, a.Ended, b.Host, b.Started, b.Ended)
	}
	if rep.Phases[0].Detail != "parallel, 2 hosts" {
		t.Errorf("detail %q", rep.Phases[0].Detail)
	}
}

func TestForksBoundsParallel(t *testing.T) {
	f := newFixture(t, 3)
	f.env.Forks = 1
	f.env.Vars["sleep"] = "0.2"
	rep, err := f.run(`phases: [{title: P, template: sleep.sh.tmpl}]`)
	if err != nil {
		t.Fatal(err)
	}
	hs := rep.Phases[0].Hosts
	slices.SortFunc(hs, func(a, b output.HostResult) int { return a.Started.Compare(b.Started) })
	for i := 1; i < len(hs); i++ {
		if hs[i].Started.Before(hs[i-1].Ended) {
			t.Errorf("forks 1, yet %s overlapped %s", hs[i].Host, hs[i-1].Host)
		}
	}
}

func TestFailureStopsLaterPhasesButHostsInPhaseFinish(t *testing.T) {
	f := newFixture(t, 3)
	f.env.Vars["sleep"] = "0.5"
	f.env.Vars["fail_host"] = "m2"
	f.env.Vars["code"] = "3"
	rep, err := f.run(`
phases:
  - {title: One, template: sleep.sh.tmpl}
  - {title: Two, template: touch.sh.tmpl}
`)
	if !errors.Is(err, phases.ErrPhaseFailed) || !errors.Is(err, phases.ErrNonZeroExit) || !errors.Is(err, transport.ErrRemoteCommand) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`phase [1/2] "One"`, "host m2", "sleep.sh.tmpl exited with status 3: failing on purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !f.marker("One", "m1") || !f.marker("One", "m3") {
		t.Error("hosts running in the failing phase did not finish")
	}
	for _, h := range []string{"m1", "m2", "m3"} {
		if f.marker("Two", h) {
			t.Errorf("phase Two ran on %s", h)
		}
		if f.runs(h) != 1 {
			t.Errorf("%s ran %d scripts, want 1", h, f.runs(h))
		}
	}
	m2 := hostResult(t, rep, 0, "m2")
	if m2.Status != output.StatusFailed || m2.ExitCode == nil || *m2.ExitCode != 3 || !strings.Contains(m2.Error, "status 3") {
		t.Errorf("m2 result %+v", m2)
	}
	if r := hostResult(t, rep, 0, "m1"); r.Status != output.StatusOK || *r.ExitCode != 0 {
		t.Errorf("m1 result %+v", r)
	}
	if rep.Status != output.StatusFailed || rep.Phases[1].Status != output.StatusSkipped || rep.Phases[0].Status != output.StatusFailed {
		t.Errorf("report statuses %s / %s / %s", rep.Status, rep.Phases[0].Status, rep.Phases[1].Status)
	}
}

func TestSerialStopsAtFirstFailure(t *testing.T) {
	f := newFixture(t, 3)
	f.env.Vars["fail_host"] = "m2"
	rep, err := f.run(`phases: [{title: S, template: sleep.sh.tmpl, strategy: serial}]`)
	if err == nil {
		t.Fatal("no error")
	}
	if !f.marker("S", "m1") || f.runs("m3") != 0 {
		t.Fatalf("m1 marker %v, m3 runs %d", f.marker("S", "m1"), f.runs("m3"))
	}
	if r := hostResult(t, rep, 0, "m3"); r.Status != output.StatusSkipped || !strings.Contains(r.Note, "m2 failed first") {
		t.Errorf("m3 result %+v", r)
	}
}

func TestIgnoreErrors(t *testing.T) {
	f := newFixture(t, 3)
	f.env.Vars["fail_host"] = "m2"
	rep, err := f.run(`
phases:
  - {title: S, template: sleep.sh.tmpl, strategy: serial, ignore_errors: true}
  - {title: T, template: touch.sh.tmpl}
`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.marker("S", "m3") || !f.marker("T", "m2") {
		t.Error("ignore_errors did not let the task go on")
	}
	if r := hostResult(t, rep, 0, "m2"); r.Status != output.StatusFailed || r.Note == "" {
		t.Errorf("m2 %+v", r)
	}
	if rep.Phases[0].Status != output.StatusOK {
		t.Errorf("phase status %s", rep.Phases[0].Status)
	}
}

func TestOnceRunsOnFirstHostOnly(t *testing.T) {
	f := newFixture(t, 3)
	rep, err := f.run(`phases: [{title: O, template: touch.sh.tmpl, hosts: masters, strategy: once}]`)
	if err != nil {
		t.Fatal(err)
	}
	if f.runs("m1") != 1 || f.runs("m2") != 0 || f.runs("m3") != 0 {
		t.Fatalf("runs %d %d %d", f.runs("m1"), f.runs("m2"), f.runs("m3"))
	}
	if r := hostResult(t, rep, 0, "m2"); r.Status != output.StatusSkipped || !strings.Contains(r.Note, "once: ran on m1") {
		t.Errorf("m2 %+v", r)
	}
	if rep.Phases[0].Detail != "once, on m1" {
		t.Errorf("detail %q", rep.Phases[0].Detail)
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, 5)
	f.env.Vars["sleep"] = "0.3"
	rep, err := f.run(`phases: [{title: B, template: sleep.sh.tmpl, strategy: batch, batch: 2}]`)
	if err != nil {
		t.Fatal(err)
	}
	r := func(h string) output.HostResult { return hostResult(t, rep, 0, h) }
	overlap := func(a, b output.HostResult) bool { return a.Started.Before(b.Ended) && b.Started.Before(a.Ended) }
	if !overlap(r("m1"), r("m2")) || !overlap(r("m3"), r("w1")) {
		t.Error("hosts within a batch did not run together")
	}
	for _, pair := range [][2]string{{"m1", "m3"}, {"m2", "m3"}, {"m1", "w1"}, {"w1", "w2"}, {"m3", "w2"}} {
		if r(pair[1]).Started.Before(r(pair[0]).Ended) {
			t.Errorf("%s started before %s of the previous batch ended", pair[1], pair[0])
		}
	}

	f = newFixture(t, 5)
	f.env.Vars["fail_host"] = "m1"
	rep, err = f.run(`phases: [{title: B, template: sleep.sh.tmpl, strategy: batch, batch: 2}]`)
	if err == nil {
		t.Fatal("no error")
	}
	if !f.marker("B", "m2") || f.runs("m3") != 0 || f.runs("w2") != 0 {
		t.Errorf("failed batch: m2 marker %v, m3 runs %d, w2 runs %d", f.marker("B", "m2"), f.runs("m3"), f.runs("w2"))
	}
	if r := hostResult(t, rep, 0, "w2"); r.Status != output.StatusSkipped || !strings.Contains(r.Note, "batch 1 of 3") {
		t.Errorf("w2 %+v", r)
	}
}

func TestRegisterAndFacts(t *testing.T) {
	f := newFixture(t, 2)
	rep, err := f.run(`
phases:
  - {title: Lines, template: emit.sh.tmpl, register: ln}
  - {title: JSON, template: emit-json.sh.tmpl, register: js, register_format: json}
  - {title: Env, template: emit-env.sh.tmpl, register: env, register_format: env}
  - {title: Use, template: use-facts.sh.tmpl, register: used, register_format: lines}
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, f.out)
	}
	got := hostResult(t, rep, 3, "m2").Output
	want := []string{
		"self-json: m2 12345678901234567",
		"self-env: m2 https://10.0.0.1:2380?a=b",
		"self-lines: line one of m2 line two",
		"all-env: m1=m1 m2=m2",
		"first-member: a",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("output\n%q\nwant\n%q", got, want)
	}
	v, _ := f.hosts.Find("m1").Fact("ln")
	if !slices.Equal(v.([]string), []string{"line one of m1", "line two"}) {
		t.Errorf("lines fact %#v", v)
	}
	v, _ = f.hosts.Find("m1").Fact("env")
	if m := v.(map[string]any); len(m) != 2 || m["node"] != "m1" {
		t.Errorf("env fact %#v", v)
	}
}

func TestRegisterBadFormatFails(t *testing.T) {
	f := newFixture(t, 1)
	_, err := f.run(`phases: [{title: J, template: emit.sh.tmpl, register: x, register_format: json}]`)
	if !errors.Is(err, phases.ErrRegister) || !strings.Contains(err.Error(), "register x from emit.sh.tmpl") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRegistered(t *testing.T) {
	if _, err := phases.ParseRegistered(tasks.Env, []string{"not a pair"}); !errors.Is(err, phases.ErrRegister) {
		t.Errorf("env: %v", err)
	}
	if _, err := phases.ParseRegistered(tasks.Env, []string{"bad-key=1"}); !errors.Is(err, phases.ErrRegister) {
		t.Errorf("env key: %v", err)
	}
	if _, err := phases.ParseRegistered(tasks.JSON, []string{"{}", "{}"}); !errors.Is(err, phases.ErrRegister) {
		t.Errorf("json twice: %v", err)
	}
	v, err := phases.ParseRegistered(tasks.Text, []string{"a", "b"})
	if err != nil || v != "a\nb" {
		t.Errorf("text: %#v %v", v, err)
	}
}

func TestDryRun(t *testing.T) {
	f := newFixture(t, 2)
	f.env.DryRun = true
	rep, err := f.run(`
phases:
  - {title: Facts, template: emit-env.sh.tmpl, readonly: true, register: env, register_format: env, quiet: true}
  - {title: Change, template: touch.sh.tmpl, register: changed}
  - {title: Use, template: use-facts.sh.tmpl, readonly: true}
  - {title: Again, template: touch.sh.tmpl}
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, f.out)
	}
	for _, h := range []string{"m1", "m2"} {
		if f.runs(h) != 1 {
			t.Errorf("%s ran %d scripts under dry-run, want 1 (the first read-only phase; the second cannot render)", h, f.runs(h))
		}
		if f.marker("Change", h) || f.marker("Again", h) {
			t.Errorf("a non-read-only phase ran on %s", h)
		}
		if _, ok := f.hosts.Find(h).Fact("env"); !ok {
			t.Errorf("read-only phase did not register on %s", h)
		}
	}
	if rep.Phases[0].Status != output.StatusOK || rep.Phases[1].Status != output.StatusDryRun {
		t.Errorf("statuses %s %s", rep.Phases[0].Status, rep.Phases[1].Status)
	}
	// The rendered script is shown, per host.
	out := f.out.String()
	for _, want := range []string{
		"==> [1/4] Facts (parallel, 2 hosts) [read-only: runs under --dry-run]",
		"==> [2/4] Change (parallel, 2 hosts) [dry-run: render only]",
		"m1 | --- touch.sh.tmpl (not run: --dry-run) ---",
		"m2 | touch " + f.dir + "/Change.m2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Phase 3 needs .Self.js, never registered: under a dry-run after a
	// phase whose registration was skipped, that is reported, not failed.
	if r := hostResult(t, rep, 2, "m1"); r.Status != output.StatusDryRun || !strings.Contains(r.Note, "changed") {
		t.Errorf("Use on m1 %+v", r)
	}
	if rep.Status != output.StatusOK || !rep.DryRun {
		t.Errorf("report %s dry-run %v", rep.Status, rep.DryRun)
	}
}

func TestDryRunRenderErrorWithoutSkippedRegisterFails(t *testing.T) {
	f := newFixture(t, 1)
	f.env.DryRun = true
	_, err := f.run(`phases: [{title: M, template: missing.sh.tmpl}]`)
	if !errors.Is(err, phases.ErrRender) {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingKeyNamesTemplateAndKeyAndRunsNothing(t *testing.T) {
	f := newFixture(t, 3)
	rep, err := f.run(`phases: [{title: M, template: missing.sh.tmpl}]`)
	if !errors.Is(err, phases.ErrRender) || !errors.Is(err, templates.ErrRender) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"missing.sh.tmpl", `"nope"`, "host m1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
	for _, h := range []string{"m1", "m2", "m3"} {
		if f.runs(h) != 0 {
			t.Errorf("%s ran", h)
		}
		if r := hostResult(t, rep, 0, h); r.Status != output.StatusFailed {
			t.Errorf("%s %+v", h, r)
		}
	}
}

func TestVarsPrecedence(t *testing.T) {
	f := newFixture(t, 1)
	f.env.Vars = map[string]any{"a": "global", "b": "global", "c": "global", "d": "global"}
	f.hosts[0].Vars["c"] = "host"
	f.hosts[0].Vars["d"] = "host"
	f.env.ExtraVars = map[string]any{"d": "extra"}
	rep, err := f.run(`
vars: {b: task, c: task, d: task}
phases: [{title: V, template: vars.sh.tmpl}]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := hostResult(t, rep, 0, "m1").Output; !slices.Equal(got, []string{"global task host extra"}) {
		t.Fatalf("output %q", got)
	}
}

func TestScriptCannotReadItselfFromStdin(t *testing.T) {
	f := newFixture(t, 1)
	rep, err := f.run(`phases: [{title: S, template: stdin.sh.tmpl}]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := hostResult(t, rep, 0, "m1").Output; !slices.Equal(got, []string{"after: nothing"}) {
		t.Fatalf("output %q: a command read the script from stdin", got)
	}
}

func TestWrappedScriptKeepsBashSemantics(t *testing.T) {
	f := newFixture(t, 1)
	if _, err := f.run(`phases: [{title: E, template: empty.sh.tmpl}]`); err != nil {
		t.Fatalf("a script of only comments failed: %v", err)
	}
	// The last command's status is the script's, as without the wrapper.
	rep, err := f.run(`phases: [{title: L, template: last-status.sh.tmpl}]`)
	if !errors.Is(err, phases.ErrNonZeroExit) || *hostResult(t, rep, 0, "m1").ExitCode != 1 {
		t.Fatalf("err = %v", err)
	}
}

func TestOutputPrefixAndRedaction(t *testing.T) {
	f := newFixture(t, 2)
	red := output.NewRedactor("hunter2")
	var buf bytes.Buffer
	f.env.Out = output.NewPrinter(&syncWriter{w: &buf}, output.PrinterOptions{Color: output.ColorNever, Redactor: red})
	f.env.ExtraVars = map[string]any{"password": "hunter2"}
	rep, err := f.run(`phases: [{title: Secret, template: secret.sh.tmpl, strategy: serial}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := "==> [1/1] Secret (serial, 2 hosts)\nm1 | the password is ***\nm2 | the password is ***\n"
	if buf.String() != want {
		t.Fatalf("output\n%s\nwant\n%s", buf.String(), want)
	}
	var js bytes.Buffer
	if err := output.WriteJSON(&js, rep, red); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), "hunter2") || !strings.Contains(js.String(), "the password is ***") {
		t.Fatalf("JSON report:\n%s", js.String())
	}
}

func TestSelectionErrorFailsBeforeRunning(t *testing.T) {
	f := newFixture(t, 2)
	task, err := tasks.Parse("t.yaml", []byte(`phases: [{title: A, template: touch.sh.tmpl}, {title: B, template: touch.sh.tmpl, hosts: nosuchgroup}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phases.RunTask(context.Background(), f.env, task); !errors.Is(err, hosts.ErrSelect) {
		t.Fatalf("err = %v", err)
	}
	if f.runs("m1") != 0 {
		t.Error("ran before the selection error")
	}
	task, _ = tasks.Parse("t.yaml", []byte(`phases: [{title: A, template: nope.sh.tmpl}]`))
	if _, err := phases.RunTask(context.Background(), f.env, task); !errors.Is(err, tasks.ErrInvalid) {
		t.Fatalf("missing template: err = %v", err)
	}
}

func TestNoHostsSelectedSkipsPhase(t *testing.T) {
	f := newFixture(t, 3)
	rep, err := f.run(`phases: [{title: W, template: touch.sh.tmpl, hosts: workers}]`)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Phases[0].Status != output.StatusSkipped {
		t.Fatalf("status %s", rep.Phases[0].Status)
	}
}

func TestNotConnected(t *testing.T) {
	f := newFixture(t, 1)
	f.hosts[0].Conn = nil
	_, err := f.run(`phases: [{title: T, template: touch.sh.tmpl}]`)
	if !errors.Is(err, hosts.ErrNotConnected) {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelStopsRun(t *testing.T) {
	f := newFixture(t, 2)
	f.env.Vars["sleep"] = "5"
	task, _ := tasks.Parse("t.yaml", []byte(`phases: [{title: S, template: sleep.sh.tmpl, strategy: serial}, {title: T, template: touch.sh.tmpl}]`))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := phases.RunTask(ctx, f.env, task)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("cancel did not stop the script")
	}
	if f.runs("m2") != 0 || rep.Phases[1].Status != output.StatusSkipped {
		t.Errorf("m2 runs %d, phase 2 %s", f.runs("m2"), rep.Phases[1].Status)
	}
}

func TestParseExtraVars(t *testing.T) {
	v, err := phases.ParseExtraVars([]string{"a=1", "b=x=y", "c=", "a=2"})
	if err != nil || v["a"] != "2" || v["b"] != "x=y" || v["c"] != "" {
		t.Fatalf("%v %v", v, err)
	}
	for _, bad := range []string{"novalue", "=x", "bad-key=1", "1a=1"} {
		if _, err := phases.ParseExtraVars([]string{bad}); !errors.Is(err, phases.ErrExtraVar) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

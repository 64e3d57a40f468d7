package phases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/templates"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// fake is a Go phase recording what the Manager did with it.
type fake struct {
	title   string
	log     *[]string
	err     error
	panics  bool
	skip    bool // ShouldRun returns false
	dry     bool // implements DryRun (see dryFake)
	cleanup bool
}

func (f *fake) Title() string { return f.title }
func (f *fake) Run(context.Context) error {
	*f.log = append(*f.log, "run "+f.title)
	if f.panics {
		panic("kaboom")
	}
	return f.err
}
func (f *fake) ShouldRun() bool { return !f.skip }

type cleanFake struct{ *fake }

func (f cleanFake) CleanUp() { *f.log = append(*f.log, "cleanup "+f.title) }

type dryFake struct{ *fake }

func (f dryFake) DryRun(context.Context) error {
	*f.log = append(*f.log, "dry "+f.title)
	return nil
}

func TestManagerOrderFailureAndCleanUp(t *testing.T) {
	var log []string
	m := &phases.Manager{Action: "test", Phases: []phases.Phase{
		cleanFake{&fake{title: "A", log: &log}},
		&fake{title: "B", log: &log, skip: true},
		cleanFake{&fake{title: "C", log: &log, err: errors.New("broken")}},
		cleanFake{&fake{title: "D", log: &log}},
	}}
	rep, err := m.Run(context.Background())
	if !errors.Is(err, phases.ErrPhaseFailed) || err.Error() != `phase [3/4] "C": broken` {
		t.Fatalf("err = %v", err)
	}
	want := []string{"run A", "run C", "cleanup C", "cleanup A"}
	if !slices.Equal(log, want) {
		t.Fatalf("log %v, want %v", log, want)
	}
	var st []string
	for _, p := range rep.Phases {
		st = append(st, string(p.Status))
	}
	if got := strings.Join(st, ","); got != "ok,skipped,failed,skipped" {
		t.Errorf("statuses %s", got)
	}
	if rep.Phases[3].Note != "not run: an earlier phase failed" || rep.Phases[2].Error != "broken" {
		t.Errorf("report %+v", rep.Phases)
	}
}

func TestManagerDryRunAndPanic(t *testing.T) {
	var log []string
	m := &phases.Manager{DryRun: true, Phases: []phases.Phase{
		dryFake{&fake{title: "A", log: &log}},
		&fake{title: "B", log: &log},
	}}
	rep, err := m.Run(context.Background())
	if err != nil || !slices.Equal(log, []string{"dry A"}) {
		t.Fatalf("err %v, log %v", err, log)
	}
	if rep.Phases[1].Status != output.StatusDryRun || rep.Phases[0].Status != output.StatusDryRun {
		t.Errorf("statuses %s %s", rep.Phases[0].Status, rep.Phases[1].Status)
	}

	log = nil
	m = &phases.Manager{Phases: []phases.Phase{cleanFake{&fake{title: "P", log: &log, panics: true}}}}
	if _, err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "panic: kaboom") {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(log, []string{"run P", "cleanup P"}) {
		t.Errorf("log %v", log)
	}
}

func TestManagerCanceledBeforeStart(t *testing.T) {
	var log []string
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &phases.Manager{Phases: []phases.Phase{&fake{title: "A", log: &log}}}
	rep, err := m.Run(ctx)
	if !errors.Is(err, context.Canceled) || len(log) != 0 || rep.Phases[0].Status != output.StatusSkipped {
		t.Fatalf("err %v, log %v, report %+v", err, log, rep.Phases)
	}
}

// TestReportJSONGolden runs the built-in hello task (fact gathering, then a
// serial phase) on two local hosts, one of which fails, and compares the
// JSON report, with times and host-specific facts normalised, to a golden
// file.
func TestReportJSONGolden(t *testing.T) {
	f := newFixture(t, 2)
	task, err := tasks.Load("hello")
	if err != nil {
		t.Fatal(err)
	}
	// Add a third phase, and make the second host fail in the second: the
	// third must not run. Host facts are made deterministic.
	task.Phases = append(task.Phases, tasks.Phase{Title: "Never", Template: "touch.sh.tmpl", Hosts: "all", Strategy: tasks.Parallel})
	f.env.ExtraVars = map[string]any{"greeting": "hi"}
	f.env.Templates = mustOverride(t, map[string]string{
		"hostinfo.sh.tmpl": `name={{ q .Host.Name }}
echo "hostname=${name}"
echo "kernel=6.1.0"
`,
		"hello.sh.tmpl": `{{ if eq .Host.Name "m2" }}echo "no greeting for" {{ q .Host.Name }} >&2; exit 4{{ end }}
echo {{ q .Vars.greeting }} {{ q .Host.Name }} {{ .Facts.info | keys | sortAlpha | qjoin }}
`,
	})
	rep, runErr := phases.RunTask(context.Background(), f.env, task)
	if runErr == nil {
		t.Fatal("no error")
	}
	var b bytes.Buffer
	if err := output.WriteJSON(&b, rep, nil); err != nil {
		t.Fatal(err)
	}
	got := normalise(b.Bytes())
	path := filepath.Join("testdata", "hello-report.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./phases -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
}

// normalise replaces times and durations, which differ on every run.
func normalise(b []byte) []byte {
	b = regexp.MustCompile(`"(started|ended)": "[^"]*"`).ReplaceAll(b, []byte(`"$1": "T"`))
	b = regexp.MustCompile(`"duration_s": [0-9.e-]+`).ReplaceAll(b, []byte(`"duration_s": 0`))
	b = regexp.MustCompile(`in [0-9.]+m?s`).ReplaceAll(b, []byte(`in D`))
	return b
}

func mustOverride(t *testing.T, extra map[string]string) *templates.Set {
	t.Helper()
	dir := t.TempDir()
	for name, text := range testTemplates {
		if _, ok := extra[name]; !ok {
			extra[name] = text
		}
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := templates.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

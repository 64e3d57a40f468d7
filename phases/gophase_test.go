package phases_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

func TestGoPhaseRecordsInHostOrder(t *testing.T) {
	env := &phases.Env{Hosts: hoststest.Hosts([]string{"a", "b", "c"})}
	p, err := phases.NewGoPhase(env, tasks.Phase{Title: "Go"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title() != "Go" || len(p.Hosts) != 3 {
		t.Fatalf("title %q, %d hosts", p.Title(), len(p.Hosts))
	}
	start := time.Now()
	p.Record("c", start, errors.New("boom"), "")
	p.Record("a", start, nil, "fine")
	got := p.Results()
	if len(got) != 2 || got[0].Host != "a" || got[0].Status != output.StatusOK || got[0].Note != "fine" ||
		got[1].Host != "c" || got[1].Status != output.StatusFailed || got[1].Error != "boom" {
		t.Errorf("results %+v", got)
	}
	if _, err := phases.NewGoPhase(env, tasks.Phase{Title: "Go", Hosts: "masters"}); err == nil {
		t.Error("a pattern that cannot be resolved was accepted")
	}
}

func TestAppendReport(t *testing.T) {
	a := &output.Report{Duration: 1, Phases: []output.PhaseResult{{Index: 1, Title: "one"}, {Index: 2, Title: "two"}}}
	b := &output.Report{Duration: 2, Phases: []output.PhaseResult{{Index: 1, Title: "three"}}}
	if phases.AppendReport(nil, b) != b || phases.AppendReport(a, nil) != a {
		t.Error("a nil side is not ignored")
	}
	got := phases.AppendReport(a, b)
	if got != a || len(a.Phases) != 3 || a.Phases[2].Index != 3 || a.Phases[2].Title != "three" || a.Duration != 3 {
		t.Errorf("merged %+v", got)
	}
}

func TestInitVarsAndSetVar(t *testing.T) {
	env := &phases.Env{}
	env.InitVars(map[string]any{"a": "task", "b": "task"}, map[string]any{"b": "-e"})
	env.SetVar("run_id", "r1")
	if env.Vars["a"] != "task" || env.Vars["b"] != "-e" || env.ExtraVars["b"] != "-e" || env.ExtraVars["a"] != nil ||
		env.Vars["run_id"] != "r1" || env.ExtraVars["run_id"] != "r1" {
		t.Errorf("vars %v, extra %v", env.Vars, env.ExtraVars)
	}
}

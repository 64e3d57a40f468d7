package phases

import (
	"maps"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/tasks"
)

// GoPhase is the common part of the Go phases that task files name with
// `action:`: the title, the hosts the phase works on, and one result per
// host for the report. Embed it; it provides Title and Results (Reporter),
// and Record to store a host's outcome. It is safe for concurrent use.
type GoPhase struct {
	// Caption is the phase's title (the task file's `title:`).
	Caption string
	// Hosts are the hosts the phase works on, in order.
	Hosts hosts.Hosts

	mu      sync.Mutex
	results map[string]output.HostResult
}

// NewGoPhase returns the GoPhase for spec: its title, and its hosts selected
// from env's with the phase's pattern (as a TemplatePhase selects them).
func NewGoPhase(env *Env, spec tasks.Phase) (*GoPhase, error) {
	hs, err := env.HostsFor(spec)
	if err != nil {
		return nil, err
	}
	return &GoPhase{Caption: spec.Title, Hosts: hs}, nil
}

// Title returns the phase's title.
func (p *GoPhase) Title() string { return p.Caption }

// Results returns the recorded results, in the order of Hosts.
func (p *GoPhase) Results() []output.HostResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []output.HostResult
	for _, h := range p.Hosts {
		if res, ok := p.results[h.Name]; ok {
			out = append(out, res)
		}
	}
	return out
}

// Record stores host's result: started at start, ended now, failed with err
// (nil: ok), with an optional note.
func (p *GoPhase) Record(host string, start time.Time, err error, note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.results == nil {
		p.results = map[string]output.HostResult{}
	}
	res := output.HostResult{Host: host, Status: output.StatusOK, Started: start, Ended: time.Now(),
		Duration: output.Duration(time.Since(start)), Note: note}
	if err != nil {
		res.Status = output.StatusFailed
		res.Error = err.Error()
	}
	p.results[host] = res
}

// HostsFor selects the hosts of phase spec among e.Hosts with the phase's
// host pattern (tasks.DefaultHosts when it names none).
func (e *Env) HostsFor(spec tasks.Phase) (hosts.Hosts, error) {
	pattern := spec.Hosts
	if pattern == "" {
		pattern = tasks.DefaultHosts
	}
	return e.Hosts.Select(e.Selector, pattern)
}

// AppendReport appends the phases of rep to prev, numbered after prev's, and
// adds rep's duration to prev's; it returns prev, or rep when prev is nil.
// It is for commands that run several tasks one after another (a main task,
// then a rollback or finish task) and show them as one report; the caller
// sets the merged report's action, status and error.
func AppendReport(prev, rep *output.Report) *output.Report {
	if prev == nil {
		return rep
	}
	if rep == nil {
		return prev
	}
	for _, p := range rep.Phases {
		p.Index = len(prev.Phases) + 1
		prev.Phases = append(prev.Phases, p)
	}
	prev.Duration += rep.Duration
	return prev
}

// SetVar sets a variable of the run that every template of e sees, whatever
// the task files or -e overrides say: it goes into both Vars and ExtraVars
// (which it creates if needed). For values a Go action computes (a run id, a
// checksum), set before the phases that use them render.
func (e *Env) SetVar(k string, v any) {
	if e.Vars == nil {
		e.Vars = map[string]any{}
	}
	if e.ExtraVars == nil {
		e.ExtraVars = map[string]any{}
	}
	e.Vars[k] = v
	e.ExtraVars[k] = v
}

// InitVars sets up e's variables for a command that runs several tasks
// (a main task, then a rollback or finish task): defaults (the main task's
// vars) apply to every task of the run, and overrides (-e) beat everything,
// the task files' own vars included.
func (e *Env) InitVars(defaults, overrides map[string]any) {
	e.Vars = maps.Clone(defaults)
	if e.Vars == nil {
		e.Vars = map[string]any{}
	}
	maps.Copy(e.Vars, overrides)
	e.ExtraVars = maps.Clone(overrides)
	if e.ExtraVars == nil {
		e.ExtraVars = map[string]any{}
	}
}

// VarsFor resolves the variables a template of task t sees on host h: the
// global vars, overridden by t's vars (t may be nil), by h's inventory vars,
// then by the -e overrides and the values the run set (SetVar). It is the
// one resolution of variables: Go code that needs a path a script uses
// (the restore's data and staging directories, say) reads it from here, so
// the two never disagree.
func (e *Env) VarsFor(h *hosts.Host, t *tasks.Task) map[string]any {
	vars := map[string]any{}
	maps.Copy(vars, e.Vars)
	if t != nil {
		maps.Copy(vars, t.Vars)
	}
	if h != nil {
		for k, v := range h.Vars {
			vars[k] = v
		}
	}
	maps.Copy(vars, e.ExtraVars)
	return vars
}

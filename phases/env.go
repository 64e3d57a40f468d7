package phases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/templates"
)

// DefaultForks is how many hosts a parallel phase runs at once when Env.Forks
// is 0. CSM systems have 3 to 9 masters and a few dozen NCNs in all; 10 keeps
// a parallel phase on masters fully parallel without opening dozens of SSH
// sessions from one workstation at once.
const DefaultForks = 10

// Env is what every phase of one action shares.
type Env struct {
	// Hosts are every host of the run (inventory order, already narrowed by
	// --limit), connected. Phases select among them.
	Hosts hosts.Hosts
	// Selector resolves a phase's host pattern (an *inventory.Inventory);
	// nil understands only "all".
	Selector hosts.Selector
	// Templates renders the phases' templates.
	Templates *templates.Set
	// Vars are global variables, the lowest precedence.
	Vars map[string]any
	// ExtraVars are -e key=value overrides, the highest precedence.
	ExtraVars map[string]any
	// Forks bounds a parallel phase; 0 means DefaultForks.
	Forks int
	// DryRun is set for --dry-run.
	DryRun bool
	// Out receives live host lines, dry-run scripts and headers; nil shows
	// nothing.
	Out *output.Printer
	// Logger receives log lines (each with host=); nil discards them.
	Logger *slog.Logger
	// Actions are the Go phases a task may name with `action:`, by name.
	Actions map[string]ActionFunc

	mu sync.Mutex
	// unproduced holds register names of phases that did not run under
	// --dry-run: later phases may fail to render for want of them.
	unproduced map[string]bool
}

func (e *Env) forks() int {
	if e.Forks > 0 {
		return e.Forks
	}
	return DefaultForks
}

func (e *Env) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func (e *Env) markUnproduced(register string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.unproduced == nil {
		e.unproduced = map[string]bool{}
	}
	e.unproduced[register] = true
}

func (e *Env) unproducedNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.unproduced))
}

// ActionFunc builds the Go phase that a task phase names with `action:`.
// spec is the phase as written in the task (title, hosts, strategy...).
type ActionFunc func(env *Env, spec tasks.Phase) (Phase, error)

// FromTask turns every phase of t into a TemplatePhase, or into the Go phase
// its action names. It checks t against env's templates and actions and
// resolves each phase's host pattern now, so that a bad task fails before
// anything runs.
func FromTask(env *Env, t *tasks.Task) ([]Phase, error) {
	env.mu.Lock()
	env.unproduced = nil
	env.mu.Unlock()
	if err := t.Validate(env.Templates); err != nil {
		return nil, fmt.Errorf("task %s: %w", t.Name, err)
	}
	out := make([]Phase, 0, len(t.Phases))
	for i := range t.Phases {
		if name := t.Phases[i].Action; name != "" {
			build, ok := env.Actions[name]
			if !ok {
				return nil, fmt.Errorf("task %s: phase [%d] %q: %w: no action %q in this command", t.Name, i+1, t.Phases[i].Title, ErrUnknownAction, name)
			}
			p, err := build(env, t.Phases[i])
			if err != nil {
				return nil, fmt.Errorf("task %s: phase [%d] %q: %w", t.Name, i+1, t.Phases[i].Title, err)
			}
			out = append(out, p)
			continue
		}
		p, err := NewTemplatePhase(env, t, i)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// RunTask runs task t on env's hosts and returns its report (see Manager.Run).
func RunTask(ctx context.Context, env *Env, t *tasks.Task) (*output.Report, error) {
	ps, err := FromTask(env, t)
	if err != nil {
		return nil, err
	}
	env.Out.SetHosts(env.Hosts.Names())
	m := &Manager{Action: t.Name, Phases: ps, DryRun: env.DryRun, Hosts: env.Hosts.Names(), Out: env.Out, Logger: env.Logger}
	return m.Run(ctx)
}

// ErrUnknownAction is matched when a task names a Go action the running
// command does not provide.
var ErrUnknownAction = errors.New("unknown action")

// ErrExtraVar is matched (errors.Is) by ParseExtraVars errors.
var ErrExtraVar = errors.New("invalid -e variable")

// ParseExtraVars parses -e arguments, each "key=value", into ExtraVars. The
// key must be an identifier (tasks.IsIdentifier); the value is a string,
// possibly empty, kept as is. A later key wins.
func ParseExtraVars(args []string) (map[string]any, error) {
	out := make(map[string]any, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !tasks.IsIdentifier(k) {
			return nil, fmt.Errorf("%w %q: want key=value with key made of letters, digits and _", ErrExtraVar, a)
		}
		out[k] = v
	}
	return out, nil
}

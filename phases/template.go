package phases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// Sentinel errors of TemplatePhase, matched with errors.Is.
var (
	// ErrNonZeroExit: the script ran and exited with a non-zero status.
	ErrNonZeroExit = errors.New("script failed")
	// ErrRender: the template could not be rendered for a host.
	ErrRender = errors.New("render failed")
	// ErrSkipped: a host did not run because another host failed first
	// (serial and batch strategies, or a render error).
	ErrSkipped = errors.New("not run")
)

// ExitError is the error of a script that exited non-zero.
type ExitError struct {
	Template string // the template that ran
	Code     int    // its exit status
	Stderr   string // its last line on stderr, if any
	Err      error  // the transport's error (a *transport.ExitError), if any
}

// Error formats e as "TEMPLATE exited with status N: last stderr line".
func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s exited with status %d", e.Template, e.Code)
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

// Is makes errors.Is(e, ErrNonZeroExit) true.
func (e *ExitError) Is(target error) bool { return target == ErrNonZeroExit }

// Unwrap returns the transport's error.
func (e *ExitError) Unwrap() error { return e.Err }

// TemplateData is what a template is rendered with, per host.
type TemplateData struct {
	// Vars: global vars, overridden by the task's vars, by the host's
	// inventory vars, then by -e overrides.
	Vars map[string]any
	// Host is the host the script is for.
	Host HostData
	// Hosts are every host the phase runs on, in order (e.g. for an etcd
	// initial-cluster list).
	Hosts []HostData
	// Facts holds registered output of every host of the run, by register
	// name then host name: {{ index .Facts.info "ncn-m001" }}.
	Facts map[string]map[string]any
	// Self holds this host's registered outputs by register name:
	// {{ .Self.info.kernel | q }}.
	Self map[string]any
	// Task describes the task and phase being run.
	Task TaskData
}

// HostData describes a host to a template.
type HostData struct {
	Name    string   // inventory name
	Address string   // address to connect to (may be empty: the name is used)
	User    string   // SSH user from the inventory (may be empty)
	Port    int      // SSH port from the inventory (0: default)
	Groups  []string // inventory groups, sorted, including "all"
}

// TaskData describes the running task to a template.
type TaskData struct {
	Name        string // task name
	Description string // task description
	Phase       string // this phase's title
	PhaseIndex  int    // 1-based position of this phase
	Phases      int    // number of phases
	DryRun      bool   // rendering for --dry-run
}

// TemplatePhase runs one task phase: its template rendered per host, run
// with the phase's strategy.
//
// Strategies:
//   - parallel: every selected host at once, at most Env.Forks at a time;
//     every host runs even when one fails.
//   - serial: one host after another in inventory order; the first failure
//     stops the phase (later hosts are skipped).
//   - once: the first selected host only; the others are reported skipped.
//   - batch: Batch hosts at a time in parallel, batch after batch; a batch
//     with a failure is the last.
//
// With ignore_errors, failures are reported but neither stop a serial or
// batch phase nor fail the phase.
//
// Every host's script is rendered before any runs: a render error (a
// missing key, an unquotable value) fails the phase before it changes
// anything, and output registered in this phase is visible to later phases
// only. Scripts run wrapped in "{ ... } </dev/null": bash reads the whole
// script before running it (so a syntax error runs nothing), and no command
// can read the rest of the script from stdin.
type TemplatePhase struct {
	Env   *Env        // what the action's phases share
	Task  *tasks.Task // the task the phase belongs to
	Spec  tasks.Phase // the phase as written in the task file
	Index int         // 0-based position in Task.Phases
	Hosts hosts.Hosts // the selected hosts, in order

	mu      sync.Mutex
	results []output.HostResult // by position in Hosts
}

// NewTemplatePhase builds the phase t.Phases[index] and selects its hosts.
func NewTemplatePhase(env *Env, t *tasks.Task, index int) (*TemplatePhase, error) {
	spec := t.Phases[index]
	sel, err := env.HostsFor(spec)
	if err != nil {
		return nil, fmt.Errorf("phase [%d] %q: %w", index+1, spec.Title, err)
	}
	return &TemplatePhase{Env: env, Task: t, Spec: spec, Index: index, Hosts: sel}, nil
}

// Title returns the phase title.
func (p *TemplatePhase) Title() string { return p.Spec.Title }

// ReadOnly reports whether the phase only reads (and runs under --dry-run).
func (p *TemplatePhase) ReadOnly() bool { return p.Spec.ReadOnly }

// ShouldRun is false when the host pattern selected no host.
func (p *TemplatePhase) ShouldRun() bool { return len(p.Hosts) > 0 }

// Detail describes the strategy, e.g. "parallel, 3 hosts".
func (p *TemplatePhase) Detail() string {
	n := len(p.Hosts)
	if n == 0 {
		return fmt.Sprintf("no host matches %q", p.Spec.Hosts)
	}
	hs := plural(n, "host")
	switch p.Spec.Strategy {
	case tasks.Once:
		return "once, on " + p.Hosts[0].Name
	case tasks.Batch:
		return fmt.Sprintf("batches of %d, %s", p.Spec.Batch, hs)
	case tasks.Serial:
		return "serial, " + hs
	default:
		return fmt.Sprintf("parallel, %s", hs)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Results returns one result per selected host, in order.
func (p *TemplatePhase) Results() []output.HostResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]output.HostResult(nil), p.results...)
}

// Run renders and runs the template on the selected hosts.
func (p *TemplatePhase) Run(ctx context.Context) error { return p.run(ctx, false) }

// DryRun runs a read-only phase for real (so that later phases render with
// real facts); any other phase is only rendered, and each host's script is
// shown.
func (p *TemplatePhase) DryRun(ctx context.Context) error {
	if p.Spec.ReadOnly {
		return p.run(ctx, false)
	}
	return p.run(ctx, true)
}

// setResult records r for host i.
func (p *TemplatePhase) setResult(i int, r output.HostResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results[i] = r
}

func (p *TemplatePhase) run(ctx context.Context, renderOnly bool) error {
	p.mu.Lock()
	p.results = make([]output.HostResult, len(p.Hosts))
	for i, h := range p.Hosts {
		p.results[i] = output.HostResult{Host: h.Name, Status: output.StatusSkipped}
	}
	p.mu.Unlock()

	targets := p.Hosts
	if p.Spec.Strategy == tasks.Once && len(targets) > 0 {
		targets = targets[:1]
		for i := 1; i < len(p.Hosts); i++ {
			p.setResult(i, output.HostResult{Host: p.Hosts[i].Name, Status: output.StatusSkipped,
				Note: "strategy once: ran on " + targets[0].Name})
		}
	}
	index := make(map[*hosts.Host]int, len(p.Hosts))
	for i, h := range p.Hosts {
		index[h] = i
	}

	scripts, stop, err := p.renderAll(targets, index)
	if err != nil || stop {
		return err
	}
	if renderOnly {
		p.showScripts(targets, scripts, index)
		if p.Spec.Register != "" {
			p.Env.markUnproduced(p.Spec.Register)
		}
		return nil
	}

	runOne := func(ctx context.Context, h *hosts.Host) error {
		r, err := p.runHost(ctx, h, scripts[h])
		p.setResult(index[h], r)
		if err != nil && p.Spec.IgnoreErrors {
			return nil
		}
		return err
	}
	skipRest := func(from hosts.Hosts, after string) {
		for _, h := range from {
			p.setResult(index[h], output.HostResult{Host: h.Name, Status: output.StatusSkipped,
				Note: "not run: " + after + " failed first"})
		}
	}

	switch p.Spec.Strategy {
	case tasks.Serial:
		for i, h := range targets {
			if err := ctx.Err(); err != nil {
				skipRest(targets[i:], "the run was canceled and "+targets[max(i-1, 0)].Name)
				return fmt.Errorf("%w: %w", ErrSkipped, err)
			}
			if err := runOne(ctx, h); err != nil {
				skipRest(targets[i+1:], h.Name)
				return &hosts.HostError{Host: h.Name, Err: err}
			}
		}
		return nil
	case tasks.Batch:
		batches := targets.Batches(p.Spec.Batch)
		for i, b := range batches {
			if err := b.ParallelEach(ctx, 0, runOne); err != nil {
				for _, rest := range batches[i+1:] {
					skipRest(rest, fmt.Sprintf("batch %d of %d", i+1, len(batches)))
				}
				return err
			}
		}
		return nil
	default: // parallel, once
		return targets.ParallelEach(ctx, p.Env.forks(), runOne)
	}
}

// renderAll renders the script of every target. On failure the failed hosts
// are reported failed, the others skipped, and nothing runs. Under --dry-run,
// a failure that may come from output that phases not run under --dry-run
// would have registered is reported (status dry-run), not failed: stop is
// then true and nothing runs, not even a read-only phase.
func (p *TemplatePhase) renderAll(targets hosts.Hosts, index map[*hosts.Host]int) (scripts map[*hosts.Host]string, stop bool, err error) {
	scripts = make(map[*hosts.Host]string, len(targets))
	facts := p.facts()
	var errs []error
	for _, h := range targets {
		s, err := p.Env.Templates.Render(p.Spec.Template, p.data(h, facts))
		if err != nil {
			errs = append(errs, &hosts.HostError{Host: h.Name, Err: fmt.Errorf("%w: %w", ErrRender, err)})
			continue
		}
		scripts[h] = s
	}
	if len(errs) == 0 {
		return scripts, false, nil
	}
	missing := p.Env.unproducedNames()
	soft := p.Env.DryRun && len(missing) > 0
	for _, h := range targets {
		i := index[h]
		if _, ok := scripts[h]; ok {
			p.setResult(i, output.HostResult{Host: h.Name, Status: output.StatusSkipped, Note: "not run: rendering failed on another host"})
			continue
		}
		var herr error
		for _, e := range errs {
			var he *hosts.HostError
			if errors.As(e, &he) && he.Host == h.Name {
				herr = he.Err
			}
		}
		if soft {
			p.setResult(i, output.HostResult{Host: h.Name, Status: output.StatusDryRun,
				Note: fmt.Sprintf("not rendered: it may need output that phases not run under --dry-run would register (%s): %v",
					strings.Join(missing, ", "), herr)})
			continue
		}
		p.setResult(i, output.HostResult{Host: h.Name, Status: output.StatusFailed, Error: herr.Error()})
	}
	if soft {
		for _, h := range targets {
			if s, ok := scripts[h]; ok {
				p.showScripts(hosts.Hosts{h}, map[*hosts.Host]string{h: s}, index)
			}
		}
		p.Env.Out.Printf("    (some scripts could not be rendered under --dry-run: see the report)")
		return nil, true, nil
	}
	return nil, true, errors.Join(errs...)
}

// showScripts prints each host's rendered script (dry-run) and records it.
func (p *TemplatePhase) showScripts(targets hosts.Hosts, scripts map[*hosts.Host]string, index map[*hosts.Host]int) {
	for _, h := range targets {
		s, ok := scripts[h]
		if !ok {
			continue
		}
		p.Env.Out.Line(h.Name, "--- "+p.Spec.Template+" (not run: --dry-run) ---")
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		for _, l := range lines {
			p.Env.Out.Line(h.Name, l)
		}
		p.setResult(index[h], output.HostResult{Host: h.Name, Status: output.StatusDryRun,
			Note: "rendered, not run", Output: tail(lines)})
	}
}

// facts collects the registered values of every host of the run.
func (p *TemplatePhase) facts() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, h := range p.Env.Hosts {
		for name, v := range h.FactsCopy() {
			if out[name] == nil {
				out[name] = map[string]any{}
			}
			out[name][h.Name] = v
		}
	}
	return out
}

// data builds the template data for h.
func (p *TemplatePhase) data(h *hosts.Host, facts map[string]map[string]any) TemplateData {
	vars := p.Env.VarsFor(h, p.Task)
	all := make([]HostData, len(p.Hosts))
	for i, o := range p.Hosts {
		all[i] = hostData(o)
	}
	return TemplateData{
		Vars:  vars,
		Host:  hostData(h),
		Hosts: all,
		Facts: facts,
		Self:  h.FactsCopy(),
		Task: TaskData{
			Name: p.Task.Name, Description: p.Task.Description,
			Phase: p.Spec.Title, PhaseIndex: p.Index + 1, Phases: len(p.Task.Phases),
			DryRun: p.Env.DryRun,
		},
	}
}

func hostData(h *hosts.Host) HostData {
	return HostData{Name: h.Name, Address: h.Address, User: h.User, Port: h.Port, Groups: append([]string{}, h.Groups...)}
}

// WrapScript returns script as TemplatePhase sends it: in a brace group
// reading /dev/null, so that bash parses it whole before running it and no
// command in it reads the rest of the script from stdin. The group starts
// with ":" so that a script of only comments is still a valid group; the
// script's last command still gives the exit status.
func WrapScript(script string) string {
	return "{ :\n" + strings.TrimSuffix(script, "\n") + "\n} </dev/null\n"
}

// lineBuf collects a stream's lines.
type lineBuf struct {
	mu    sync.Mutex
	lines []string
}

func (b *lineBuf) add(l string) {
	b.mu.Lock()
	b.lines = append(b.lines, l)
	b.mu.Unlock()
}

func (b *lineBuf) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

func tail(lines []string) []string {
	if len(lines) > output.MaxOutputLines {
		lines = lines[len(lines)-output.MaxOutputLines:]
	}
	return lines
}

// runHost runs script on h and registers its output.
func (p *TemplatePhase) runHost(ctx context.Context, h *hosts.Host, script string) (output.HostResult, error) {
	log := output.WithHost(p.Env.logger(), h.Name)
	r := output.HostResult{Host: h.Name, Started: time.Now()}
	finish := func(err error) (output.HostResult, error) {
		r.Ended = time.Now()
		r.Duration = output.Duration(r.Ended.Sub(r.Started))
		r.Status = output.StatusOK
		if err != nil {
			r.Status = output.StatusFailed
			r.Error = err.Error()
			if p.Spec.IgnoreErrors {
				r.Note = "error ignored (ignore_errors)"
			}
		}
		log.Debug("script done", "template", p.Spec.Template, "status", r.Status, "duration", time.Duration(r.Duration))
		return r, err
	}
	if h.Conn == nil {
		return finish(fmt.Errorf("run %s: %w", p.Spec.Template, hosts.ErrNotConnected))
	}
	var stdout, stderr lineBuf
	opts := transport.RunOptions{
		Stdout: func(l string) {
			stdout.add(l)
			if !p.Spec.Quiet {
				p.Env.Out.Line(h.Name, l)
			}
		},
		Stderr: func(l string) {
			stderr.add(l)
			p.Env.Out.Line(h.Name, l)
		},
	}
	log.Debug("script start", "template", p.Spec.Template)
	res, err := h.Conn.Run(ctx, WrapScript(script), opts)
	out := stdout.get()
	r.Output = tail(out)
	if errLines := stderr.get(); len(errLines) > 0 {
		r.Stderr = tail(errLines)
	}
	code, exited := exitCode(res, err)
	if exited {
		r.ExitCode = &code
	}
	if err == nil && code != 0 {
		err = &ExitError{Template: p.Spec.Template, Code: code, Stderr: lastLine(stderr.get())}
	} else if err != nil && exited {
		err = &ExitError{Template: p.Spec.Template, Code: code, Stderr: lastLine(stderr.get()), Err: err}
	} else if err != nil {
		err = fmt.Errorf("run %s: %w", p.Spec.Template, err)
	}
	if err != nil {
		return finish(err)
	}
	if p.Spec.Register != "" {
		v, err := ParseRegistered(p.Spec.RegisterFormat, out)
		if err != nil {
			return finish(fmt.Errorf("register %s from %s: %w", p.Spec.Register, p.Spec.Template, err))
		}
		h.SetFact(p.Spec.Register, v)
	}
	return finish(nil)
}

// exitCode extracts the script's exit status, and whether it exited at all.
func exitCode(res transport.RunResult, err error) (int, bool) {
	var ee *transport.ExitError
	if errors.As(err, &ee) {
		return ee.Code, true
	}
	if err != nil {
		return 0, false
	}
	return res.ExitCode, true
}

func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}

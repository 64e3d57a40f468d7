// Package phases runs actions. An action is a literal, ordered list of
// phases; a [Manager] runs them one after another (after k0sctl's design):
//
//   - A [Phase] has a Title and a Run method. Optional behaviour is found by
//     type assertion: [ShouldRunner] (skip when there is nothing to do),
//     [DryRunner] (what to do under --dry-run), [CleanUpper] (called at the
//     end for every phase that ran, also after a failure), [Detailer] (text
//     for the header), [Reporter] (per-host results for the report).
//   - If a phase fails, no later phase starts. Hosts already running in the
//     failing phase finish (a phase decides how its hosts run; see
//     [TemplatePhase] for the strategies).
//   - Every run produces an output.Report: per phase and per host, status,
//     duration, exit code and error.
//
// [TemplatePhase] is the phase every task file phase becomes: it renders a
// shell template per host and runs it with the phase's strategy. Go code
// phases (uploads, S3 downloads) implement Phase directly and sit in the same
// list.
package phases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ncnpush/ncnpush/output"
)

// Phase is one step of an action.
type Phase interface {
	// Title is the one-line name shown in headers and the report.
	Title() string
	// Run does the work. A non-nil error stops the action.
	Run(ctx context.Context) error
}

// ShouldRunner is implemented by phases that may have nothing to do; the
// Manager skips a phase whose ShouldRun returns false.
type ShouldRunner interface {
	ShouldRun() bool
}

// DryRunner is implemented by phases that know how to take part in a
// --dry-run: show what they would do, or run for real when they only read.
// Under --dry-run the Manager calls DryRun instead of Run, and skips phases
// that do not implement it.
type DryRunner interface {
	DryRun(ctx context.Context) error
}

// CleanUpper is implemented by phases that hold something to release
// (temporary files, connections). CleanUp is called at the end of the run,
// in reverse order, for every phase whose Run or DryRun was called, whether
// the action succeeded or not.
type CleanUpper interface {
	CleanUp()
}

// Detailer is implemented by phases that add a detail to their header, like
// "parallel, 3 hosts".
type Detailer interface {
	Detail() string
}

// ReadOnlyer is implemented by phases that can say whether they only read
// (and so run for real under --dry-run).
type ReadOnlyer interface {
	ReadOnly() bool
}

// Reporter is implemented by phases that report one result per host. The
// Manager calls Results after Run or DryRun returns.
type Reporter interface {
	Results() []output.HostResult
}

// ErrPhaseFailed is matched (errors.Is) by the error of a Manager run that
// stopped because a phase failed.
var ErrPhaseFailed = errors.New("phase failed")

// PhaseError is the error of a failed phase.
type PhaseError struct {
	Index int    // 1-based
	Total int    // phases in the action
	Title string // the phase title
	Err   error  // why it failed
}

// Error formats e as `phase [2/5] "Title": ERR`.
func (e *PhaseError) Error() string {
	return fmt.Sprintf("phase [%d/%d] %q: %v", e.Index, e.Total, e.Title, e.Err)
}

// Unwrap returns the underlying error.
func (e *PhaseError) Unwrap() error { return e.Err }

// Is makes errors.Is(e, ErrPhaseFailed) true.
func (e *PhaseError) Is(target error) bool { return target == ErrPhaseFailed }

// Manager runs the phases of one action in order.
type Manager struct {
	// Action names the action in the report (a task name).
	Action string
	// Phases are run in this order.
	Phases []Phase
	// DryRun calls DryRun instead of Run (see DryRunner).
	DryRun bool
	// Hosts are the names of the hosts of the run, for the report.
	Hosts []string
	// Out shows phase headers; nil shows nothing.
	Out *output.Printer
	// Logger receives debug lines; nil discards them.
	Logger *slog.Logger
}

// Run runs the phases and returns the report, complete even on failure:
// phases that did not run are listed as skipped. The error is a
// *PhaseError (or the context's error if it ended between phases).
func (m *Manager) Run(ctx context.Context) (*output.Report, error) {
	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	rep := &output.Report{
		Action:  m.Action,
		DryRun:  m.DryRun,
		Started: start,
		Hosts:   append([]string{}, m.Hosts...),
		Phases:  make([]output.PhaseResult, 0, len(m.Phases)),
	}
	var ran []Phase
	var runErr error
	n := len(m.Phases)
	for i, p := range m.Phases {
		pr := output.PhaseResult{Index: i + 1, Title: p.Title(), Hosts: []output.HostResult{}}
		if d, ok := p.(Detailer); ok {
			pr.Detail = d.Detail()
		}
		hdr := output.Header{Index: i + 1, Total: n, Title: pr.Title, Detail: pr.Detail}
		switch {
		case runErr != nil:
			pr.Status, pr.Note = output.StatusSkipped, "not run: an earlier phase failed"
			rep.Phases = append(rep.Phases, pr)
			continue
		case ctx.Err() != nil:
			runErr = fmt.Errorf("before phase [%d/%d] %q: %w", i+1, n, pr.Title, ctx.Err())
			pr.Status, pr.Note = output.StatusSkipped, "not run: "+ctx.Err().Error()
			rep.Phases = append(rep.Phases, pr)
			continue
		}
		if s, ok := p.(ShouldRunner); ok && !s.ShouldRun() {
			pr.Status, pr.Note = output.StatusSkipped, "nothing to do"
			hdr.Note = "skipped: nothing to do"
			m.Out.Header(hdr)
			rep.Phases = append(rep.Phases, pr)
			continue
		}
		run := p.Run
		if m.DryRun {
			dr, ok := p.(DryRunner)
			if !ok {
				pr.Status, pr.Note = output.StatusDryRun, "not run under --dry-run"
				hdr.Note = "dry-run: not run"
				m.Out.Header(hdr)
				rep.Phases = append(rep.Phases, pr)
				continue
			}
			run = dr.DryRun
			if ro, ok := p.(ReadOnlyer); ok && ro.ReadOnly() {
				hdr.Note = "read-only: runs under --dry-run"
			} else {
				hdr.Note = "dry-run: render only"
			}
		}
		m.Out.Header(hdr)
		log.Debug("phase start", output.HostKey, output.NoHost, "phase", pr.Title, "index", i+1)
		t0 := time.Now()
		ran = append(ran, p)
		err := safeRun(ctx, run)
		pr.Duration = output.Duration(time.Since(t0))
		if r, ok := p.(Reporter); ok {
			pr.Hosts = append(pr.Hosts, r.Results()...)
		}
		pr.Status = phaseStatus(err, m.DryRun, pr.Hosts)
		log.Debug("phase end", output.HostKey, output.NoHost, "phase", pr.Title, "status", pr.Status, "duration", time.Since(t0))
		if err != nil {
			pr.Error = err.Error()
			runErr = &PhaseError{Index: i + 1, Total: n, Title: pr.Title, Err: err}
			m.Out.Errorf("==> [%d/%d] %s failed: %v", i+1, n, pr.Title, err)
		}
		rep.Phases = append(rep.Phases, pr)
	}
	for i := len(ran) - 1; i >= 0; i-- {
		if c, ok := ran[i].(CleanUpper); ok {
			if err := safeCleanUp(c); err != nil {
				log.Error("clean-up failed", output.HostKey, output.NoHost, "phase", ran[i].Title(), "error", err)
			}
		}
	}
	rep.Duration = output.Duration(time.Since(start))
	rep.Status = output.StatusOK
	if runErr != nil {
		rep.Status = output.StatusFailed
		rep.Error = runErr.Error()
	}
	return rep, runErr
}

// phaseStatus derives a phase's status from its error, the mode and its
// host results.
func phaseStatus(err error, dryRun bool, hosts []output.HostResult) output.Status {
	if err != nil {
		return output.StatusFailed
	}
	if !dryRun {
		return output.StatusOK
	}
	if len(hosts) == 0 {
		return output.StatusDryRun
	}
	for _, h := range hosts {
		if h.Status == output.StatusDryRun {
			return output.StatusDryRun
		}
	}
	return output.StatusOK
}

// safeRun calls run, turning a panic into an error.
func safeRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return run(ctx)
}

// safeCleanUp calls CleanUp, turning a panic into an error.
func safeCleanUp(c CleanUpper) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	c.CleanUp()
	return nil
}

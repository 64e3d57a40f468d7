package etcdrestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// Built-in tasks of the commands that look after the masters between
// restores.
const (
	TaskCleanup         = "etcd-cleanup"
	TaskRecover         = "etcd-recover"
	TaskRecoverComplete = "etcd-recover-complete"
)

// More sentinels, for errors.Is.
var (
	// ErrRefused: etcd cleanup will not remove anything now (an
	// interrupted run, a hold, an unhealthy member, a held lock).
	ErrRefused = errors.New("refused")
	// ErrNothingToRecover: etcd recover found no interrupted run.
	ErrNothingToRecover = errors.New("nothing to recover")
)

// Action names of the maintenance tasks.
const (
	actionCleanupCheck = "etcd-cleanup-check"
	actionRecoverPlan  = "etcd-recover-plan"
)

// MaintOptions configure etcd status, cleanup and recover.
type MaintOptions struct {
	// Env is the phase environment: the master hosts (connected), templates,
	// output, logger. Its Vars and Actions are set here.
	Env *phases.Env
	// Vars override the restore task's variables (-e), which are the
	// defaults here too, so that every command resolves the same paths.
	Vars map[string]any
	// Yes skips the typed confirmation (recover) or removes (cleanup).
	Yes bool
	// DryRun shows what would be done and changes nothing.
	DryRun bool
	// Stdin and Prompt are where the plan goes and the confirmation is read.
	Stdin  io.Reader
	Prompt io.Writer
	// Run (cleanup) selects the kept directories of this run ID.
	Run string
	// OlderThan (cleanup) selects the kept directories of runs that started
	// longer ago than this.
	OlderThan time.Duration
	// Complete (recover) finishes the interrupted restore (start and
	// verify) instead of rolling it back; every master must have finished
	// the swap.
	Complete bool
	// VerifyTimeout bounds the verification (recover; default 60s).
	VerifyTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// newMaintRun sets up a run for a maintenance command: the restore task's
// vars as defaults (the paths every command resolves alike), o.Vars over
// them.
func newMaintRun(o MaintOptions) (*run, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = 60 * time.Second
	}
	restore, err := tasks.LoadBuiltin(TaskRestore)
	if err != nil {
		return nil, err
	}
	r := &run{opts: Options{Env: o.Env, Vars: o.Vars, Yes: o.Yes, DryRun: o.DryRun, Stdin: o.Stdin, Prompt: o.Prompt,
		VerifyTimeout: o.VerifyTimeout, Now: o.Now},
		env: o.Env, runID: newRunID(o.Now()), task: restore, members: map[string]member{}, locks: map[string]*lock{},
		paths: map[string]Paths{}, snapKeys: -1}
	r.env.InitVars(restore.Vars, o.Vars)
	r.env.SetVar("run_id", r.runID)
	r.env.SetVar("journal_end", "")
	r.env.DryRun = o.DryRun
	if r.opts.Prompt == nil {
		r.opts.Prompt = io.Discard
	}
	return r, nil
}

// NodeStatus is one master's row of `etcd status`: its member's health and
// what ncnpush's runs left there.
type NodeStatus struct {
	MemberStatus
	// Reachable: ncnpush could connect to the master.
	Reachable bool `json:"reachable"`
	// State is what earlier runs left (nil when it could not be read).
	State *NodeState `json:"state,omitempty"`
	// StateError says why State could not be read.
	StateError string `json:"state_error,omitempty"`
}

// Status reads every connected master's member status and node state;
// unreachable masters (hosts without a connection) get a row that says so.
func Status(ctx context.Context, o MaintOptions) ([]NodeStatus, error) {
	r, err := newMaintRun(o)
	if err != nil {
		return nil, err
	}
	t, err := tasks.LoadBuiltin(TaskStatus)
	if err != nil {
		return nil, err
	}
	all := r.env.Hosts
	r.env.Hosts = all.Filter(func(h *hosts.Host) bool { return h.Conn != nil })
	defer func() { r.env.Hosts = all }()
	if len(r.env.Hosts) > 0 {
		if _, err := r.runTask(ctx, t, nil); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	var out []NodeStatus
	rows := Statuses(all)
	for i, h := range all {
		ns := NodeStatus{MemberStatus: rows[i], Reachable: h.Conn != nil}
		if !ns.Reachable {
			ns.Error = "unreachable over SSH"
			out = append(out, ns)
			continue
		}
		st, err := nodeStateOf(h.Fact("node_state"))
		if err != nil {
			ns.StateError = err.Error()
		} else {
			ns.State = &st
		}
		out = append(out, ns)
	}
	return out, nil
}

// Interrupted describes the runs whose journals are open on nodes: for
// each run, "RUN interrupted at STEP on HOST, HOST (at STEP)".
func Interrupted(rows []NodeStatus) []string {
	where := map[string][]string{}
	for _, r := range rows {
		if r.State == nil {
			continue
		}
		for _, j := range r.State.Journals {
			if r.State.lockedBy(j.Run) {
				continue // running now, not interrupted
			}
			where[j.Run] = append(where[j.Run], fmt.Sprintf("%s (at %s)", r.Host, orNone(j.Last())))
		}
	}
	var out []string
	for _, run := range slices.Sorted(maps.Keys(where)) {
		out = append(out, fmt.Sprintf("restore %s interrupted on %s", run, strings.Join(where[run], ", ")))
	}
	return out
}

// ------------------------------------------------------------------ cleanup

// Cleanup lists the member directories earlier restores kept on every
// master and, with o.Yes and a selection (o.Run or o.OlderThan), removes the
// selected ones. It removes nothing while a restore is interrupted on any
// master, etcd is held, a member is unhealthy or another run holds a lock;
// it holds the restore lock while it removes.
func Cleanup(ctx context.Context, o MaintOptions) (*output.Report, error) {
	r, err := newMaintRun(o)
	if err != nil {
		return nil, err
	}
	if o.Run != "" {
		if _, ok := RunTime(o.Run); !ok {
			return nil, fmt.Errorf("%w: --run %q is not a run ID (e.g. 20260212T101500Z-3fa9c2d1)", ErrRefused, o.Run)
		}
	}
	t, err := tasks.LoadBuiltin(TaskCleanup)
	if err != nil {
		return nil, err
	}
	c := &cleanup{r: r, o: o}
	r.env.Actions = map[string]phases.ActionFunc{
		actionCleanupCheck: c.phase,
		actionUnlock:       r.unlockPhase,
	}
	defer r.releaseLocks()
	rep, err := r.runTask(ctx, t, nil)
	if rep != nil {
		rep.Action = TaskCleanup
	}
	return rep, err
}

type cleanup struct {
	r *run
	o MaintOptions
}

type cleanupPhase struct {
	*phases.GoPhase
	c *cleanup
}

func (c *cleanup) phase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(c.r.env, spec)
	if err != nil {
		return nil, err
	}
	return &cleanupPhase{GoPhase: gp, c: c}, nil
}

func (p *cleanupPhase) ReadOnly() bool { return !p.c.o.Yes }

func (p *cleanupPhase) DryRun(ctx context.Context) error { return p.Run(ctx) }

// Run lists every kept directory, selects, refuses when it must, and takes
// the locks before anything is removed.
func (p *cleanupPhase) Run(ctx context.Context) error {
	o := p.c.o
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var refuse []error
	selected := 0
	w := p.c.r.opts.Prompt
	for _, h := range p.Hosts {
		start := time.Now()
		// The lock is taken where every restore takes it.
		h.SetFact("paths", pathsFor(p.c.r.env.VarsFor(h, p.c.r.task), p.c.r.runID).fact())
		st, err := nodeStateOf(h.Fact("node_state"))
		if err != nil {
			refuse = append(refuse, fmt.Errorf("%s: %w", h.Name, err))
			p.Record(h.Name, start, err, "")
			continue
		}
		if _, ok := h.Fact("health"); !ok {
			refuse = append(refuse, fmt.Errorf("%s: the etcd member is not healthy (it did not answer)", h.Name))
		}
		if st.Hold {
			refuse = append(refuse, fmt.Errorf("%s: the restore hold is in place (etcd is held stopped)", h.Name))
		}
		for _, j := range st.Journals {
			if st.lockedBy(j.Run) {
				refuse = append(refuse, fmt.Errorf("%s: restore %s is running (at %s, it holds the lock)", h.Name, j.Run, orNone(j.Last())))
				continue
			}
			refuse = append(refuse, fmt.Errorf("%s: restore %s is interrupted (at %s): run ncnpush etcd recover first", h.Name, j.Run, orNone(j.Last())))
		}
		if st.Lock != "" {
			refuse = append(refuse, fmt.Errorf("%s: another ncnpush run holds the lock: %s", h.Name, st.Lock))
		}
		var remove []string
		var notes []string
		for _, d := range st.Kept {
			run := keptRun(d.Path)
			pick := false
			if t, ok := RunTime(run); ok {
				pick = (o.Run != "" && run == o.Run) || (o.OlderThan > 0 && now().Sub(t) > o.OlderThan)
			}
			mark := "kept"
			if pick {
				mark = "selected"
				remove = append(remove, d.Path)
			}
			fmt.Fprintf(w, "  %-10s %-8s %s (%s)\n", h.Name, mark, d.Path, sizeString(d.Bytes))
			notes = append(notes, fmt.Sprintf("%s %s", mark, path.Base(d.Path)))
		}
		if len(st.Kept) == 0 {
			fmt.Fprintf(w, "  %-10s no kept member directories\n", h.Name)
		}
		selected += len(remove)
		h.SetFact("cleanup", remove)
		p.Record(h.Name, start, nil, strings.Join(notes, ", "))
	}
	switch {
	case !o.Yes || o.DryRun:
		if o.Run == "" && o.OlderThan == 0 {
			fmt.Fprintln(w, "(listed only: --run ID or --older-than DURATION selects, --yes removes)")
		} else {
			fmt.Fprintf(w, "(%d selected; nothing removed without --yes)\n", selected)
		}
		p.clearSelection()
		return nil
	case o.Run == "" && o.OlderThan == 0:
		return fmt.Errorf("%w: --yes removes only what --run ID or --older-than DURATION selects: nothing removed", ErrRefused)
	case len(refuse) > 0:
		return fmt.Errorf("%w: nothing removed:\n  %w", ErrRefused, joinLines(refuse))
	}
	if selected == 0 {
		fmt.Fprintln(w, "nothing selected: nothing removed")
		p.clearSelection()
		return nil
	}
	// Under the lock: no restore can start (and move a member aside) while
	// directories are removed.
	lp := &preflightPhase{GoPhase: p.GoPhase, r: p.c.r}
	return lp.lock(ctx)
}

// clearSelection leaves nothing for the remove phase.
func (p *cleanupPhase) clearSelection() {
	for _, h := range p.Hosts {
		h.SetFact("cleanup", []string{})
	}
}

// keptRun is the run ID a kept directory's name ends in.
func keptRun(dir string) string {
	b := path.Base(dir)
	for _, pre := range []string{"member.pre-restore-", "member.failed-restore-"} {
		if s, ok := strings.CutPrefix(b, pre); ok {
			s, _, _ = strings.Cut(s, ".")
			return s
		}
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "its start"
	}
	return s
}

// sizeString is n bytes in MiB or GiB ("?" when unknown).
func sizeString(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// ------------------------------------------------------------------ recover

// RecoverResult is what etcd recover did.
type RecoverResult struct {
	// Run is the interrupted run it ended ("" when there was none).
	Run string
	// Mode is "rollback", "complete" or "clean-up" (the run had not stopped
	// etcd: only its staging directory and journal were left).
	Mode string
}

// ConfirmRecover is what the operator types to go ahead with etcd recover.
const ConfirmRecover = "recover"

// Recover ends a restore that was interrupted (its journal is open on the
// masters): by default every master gets back the member it had before
// that restore (the rollback the restore would have done), started and
// verified; with o.Complete, when every master finished the swap, the
// restored members are started and verified instead. Either way the staged
// snapshot is removed and the journals closed. It takes the restore lock.
// Run again, or after it was killed, it does what is left: the members end
// as the original data or as the backup's, never a mix.
func Recover(ctx context.Context, o MaintOptions) (*output.Report, RecoverResult, error) {
	r, err := newMaintRun(o)
	if err != nil {
		return nil, RecoverResult{}, err
	}
	r.recovering = true
	t, err := tasks.LoadBuiltin(TaskRecover)
	if err != nil {
		return nil, RecoverResult{}, err
	}
	rc := &recovery{r: r, o: o}
	r.env.Actions = map[string]phases.ActionFunc{
		actionPreflightCheck: r.preflightCheckPhase,
		actionRecoverPlan:    rc.phase,
		actionVerifyRollback: r.verifyPhase(true),
		actionUnlock:         r.unlockPhase,
	}
	defer r.releaseLocks()
	rep, err := r.runTask(ctx, t, nil)
	res := RecoverResult{Run: rc.run, Mode: rc.mode}
	if err != nil || o.DryRun || rc.run == "" {
		return named(rep, TaskRecover), res, err
	}
	// From here on an interrupt does not stop the recovery half-way: it
	// ends as the rollback or the start it is.
	wctx := context.WithoutCancel(ctx)
	var next *tasks.Task
	switch rc.mode {
	case "rollback":
		next, err = tasks.LoadBuiltin(TaskRollback)
	case "complete":
		next, err = tasks.LoadBuiltin(TaskRecoverComplete)
	}
	var runErr error
	if err != nil {
		return named(rep, TaskRecover), res, err
	}
	if next != nil {
		rep, runErr = r.runTask(wctx, next, rep)
	}
	switch {
	case runErr != nil:
		r.env.SetVar("journal_end", "")
	case rc.mode == "complete" || rc.mode == "finish":
		r.env.SetVar("journal_end", endRestored)
	case rc.mode == "rollback":
		r.env.SetVar("journal_end", endRolledBack)
	default:
		r.env.SetVar("journal_end", endNotStopped)
	}
	fin, err := tasks.LoadBuiltin(TaskFinish)
	if err != nil {
		return named(rep, TaskRecover), res, err
	}
	rep, finErr := r.runTask(wctx, fin, rep)
	if runErr == nil {
		runErr = finErr
	} else if finErr != nil {
		runErr = fmt.Errorf("%w; clean-up: %w", runErr, finErr)
	}
	if runErr != nil {
		runErr = fmt.Errorf("recover %s (%s): %w: the run stays recorded as interrupted; fix the cause and run ncnpush etcd recover again", rc.run, rc.mode, runErr)
	}
	return named(rep, TaskRecover), res, runErr
}

func named(rep *output.Report, action string) *output.Report {
	if rep != nil {
		rep.Action = action
	}
	return rep
}

type recovery struct {
	r    *run
	o    MaintOptions
	run  string // the interrupted run
	mode string // rollback, complete, clean-up
}

type recoverPhase struct {
	*phases.GoPhase
	rc *recovery
}

func (rc *recovery) phase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(rc.r.env, spec)
	if err != nil {
		return nil, err
	}
	return &recoverPhase{GoPhase: gp, rc: rc}, nil
}

func (p *recoverPhase) DryRun(ctx context.Context) error { return p.plan(ctx, true) }
func (p *recoverPhase) Run(ctx context.Context) error    { return p.plan(ctx, false) }

// plan finds the interrupted run, decides what to do, registers every
// host's paths (from its journal), prints the plan, takes the locks and
// asks for the confirmation.
func (p *recoverPhase) plan(ctx context.Context, dryRun bool) error {
	rc, r := p.rc, p.rc.r
	journals := map[string]map[string]Journal{} // run -> host -> journal
	closed := map[string]map[string]string{}    // run -> host -> outcome
	holds := []string{}
	for _, h := range p.Hosts {
		st, err := nodeStateOf(h.Fact("node_state"))
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if st.Lock != "" {
			return fmt.Errorf("%w: %s: another ncnpush run holds the lock: %s", ErrLocked, h.Name, st.Lock)
		}
		if st.Hold {
			holds = append(holds, h.Name)
		}
		for _, j := range st.Journals {
			if journals[j.Run] == nil {
				journals[j.Run] = map[string]Journal{}
			}
			journals[j.Run][h.Name] = j
		}
		for run, outcome := range st.Closed {
			if closed[run] == nil {
				closed[run] = map[string]string{}
			}
			closed[run][h.Name] = outcome
		}
	}
	switch len(journals) {
	case 0:
		if len(holds) > 0 {
			return fmt.Errorf("%w: no interrupted run is recorded, but the restore hold is in place on %s: check the node, then remove the hold and run systemctl daemon-reload",
				ErrRefused, strings.Join(holds, ", "))
		}
		fmt.Fprintln(r.opts.Prompt, "nothing to recover: no interrupted run on any master")
		for _, h := range p.Hosts {
			p.Record(h.Name, time.Now(), nil, "no interrupted run")
		}
		return nil
	case 1:
	default:
		return fmt.Errorf("%w: several interrupted runs (%s): recover them one at a time is not supported; see ncnpush etcd status",
			ErrRefused, strings.Join(slices.Sorted(maps.Keys(journals)), ", "))
	}
	var run string
	for k := range journals {
		run = k
	}
	byHost := journals[run]
	stopped, swappedAll, rolling, verified := false, true, false, false
	var notSwapped []string
	for _, outcome := range closed[run] {
		// Closed elsewhere as restored: the restore was verified there.
		verified = verified || outcome == endRestored
	}
	for _, h := range p.Hosts {
		j, ok := byHost[h.Name]
		if !ok && closed[run][h.Name] != "" {
			continue // closed on this master: nothing left to do here
		}
		if ok && j.Has(stepVerified) {
			verified = true
		}
		if ok && j.Stopped() {
			stopped = true
		}
		if !ok || !j.Has(stepSwapped) {
			swappedAll = false
			notSwapped = append(notSwapped, fmt.Sprintf("%s (at %s)", h.Name, orNone(j.Last())))
		}
		if ok && j.Has(stepRollback) {
			rolling = true
		}
	}
	mode := "rollback"
	switch {
	case verified:
		// The restored cluster passed its verification: only the clean-up
		// was left. Never roll back a restore that worked.
		mode = "finish"
	case !stopped:
		mode = "clean-up"
	case rc.o.Complete && rolling:
		return fmt.Errorf("%w: --complete: the rollback of %s has begun on some masters: only the rollback can end it (run etcd recover without --complete)", ErrRefused, run)
	case rc.o.Complete && !swappedAll:
		return fmt.Errorf("%w: --complete needs every master to have finished the swap of %s; not: %s (run etcd recover without --complete to roll back)",
			ErrRefused, run, strings.Join(notSwapped, ", "))
	case rc.o.Complete:
		mode = "complete"
	}
	rc.run, rc.mode = run, mode
	r.runID = run
	r.env.SetVar("run_id", run)
	for _, h := range p.Hosts {
		pa := pathsFor(r.env.VarsFor(h, r.task), run)
		if j, ok := byHost[h.Name]; ok {
			// The journal's paths are the ones the run used.
			pa.Staging, pa.Data, pa.Aside, pa.Failed = orDefault(j.Staging, pa.Staging), orDefault(j.Data, pa.Data),
				orDefault(j.Aside, pa.Aside), orDefault(j.Failed, pa.Failed)
			pa.Hold = orDefault(j.Hold, pa.Hold)
		}
		r.mu.Lock()
		r.paths[h.Name] = pa
		r.mu.Unlock()
		h.SetFact("paths", pa.fact())
	}
	w := r.opts.Prompt
	fmt.Fprintf(w, "\nInterrupted: restore %s\n", run)
	for _, h := range p.Hosts {
		j, ok := byHost[h.Name]
		pa := r.pathsOf(h.Name)
		reached := "no journal"
		if ok {
			reached = "reached " + strings.Join(j.Reached, ", ")
		}
		fmt.Fprintf(w, "  %-10s %s\n", h.Name, reached)
		p.Record(h.Name, time.Now(), nil, fmt.Sprintf("%s: %s", run, reached))
		switch mode {
		case "rollback":
			fmt.Fprintf(w, "  %-10s put back %s as %s/member (the restored one kept as %s)\n", "", pa.Aside, pa.Data, pa.Failed)
		case "complete":
			fmt.Fprintf(w, "  %-10s keep the restored %s/member (the one from before stays in %s)\n", "", pa.Data, pa.Aside)
		}
	}
	switch mode {
	case "rollback":
		fmt.Fprintln(w, "Plan: roll back: hold and stop etcd, put back every master's member from before the restore, start them together, verify; then remove the staged snapshot and close the journals")
	case "complete":
		fmt.Fprintln(w, "Plan: complete: start the restored members together and verify that they agree; then remove the staged snapshot and close the journals")
	case "finish":
		fmt.Fprintln(w, "Plan: the restore was verified: only its clean-up was left: remove the staged snapshot and close the journals as restored (etcd is not touched)")
	default:
		fmt.Fprintln(w, "Plan: the run never stopped etcd: remove its staged snapshot and close its journals (etcd is not touched)")
	}
	if dryRun {
		fmt.Fprintln(w, "dry-run: nothing was changed")
		return nil
	}
	if err := (&preflightPhase{GoPhase: p.GoPhase, r: r}).lock(ctx); err != nil {
		return err
	}
	if mode != "clean-up" && mode != "finish" && !rc.o.Yes {
		fmt.Fprintf(w, "Type %q to go ahead: ", ConfirmRecover)
		answer, err := readLine(ctx, r.opts.Stdin)
		if err != nil || strings.TrimSpace(answer) != ConfirmRecover {
			return fmt.Errorf("%w: nothing was changed on any node", ErrNotConfirmed)
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

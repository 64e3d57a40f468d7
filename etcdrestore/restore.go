package etcdrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// Sentinels, for errors.Is.
var (
	// ErrPreflight: a node failed a preflight check; nothing was changed.
	ErrPreflight = errors.New("preflight failed")
	// ErrLocked: another restore holds a node's lock.
	ErrLocked = errors.New("another restore is running")
	// ErrNotConfirmed: the operator did not type the confirmation.
	ErrNotConfirmed = errors.New("not confirmed")
	// ErrPush: the snapshot could not be streamed to every master.
	ErrPush = errors.New("snapshot push failed")
	// ErrVerify: the restored cluster did not come up as expected.
	ErrVerify = errors.New("verification failed")
	// ErrRolledBack: the restore failed and every member was put back.
	ErrRolledBack = errors.New("restore failed and was rolled back")
	// ErrInterrupted: an earlier run was interrupted after it stopped etcd
	// (its journal is open on a node): etcd recover ends it first.
	ErrInterrupted = errors.New("an interrupted run needs etcd recover")
	// ErrCleanup: the restore succeeded and was verified, but removing the
	// staged snapshot or closing the run failed on some master.
	ErrCleanup = errors.New("clean-up failed")
	// ErrRollbackFailed: the restore failed and so did the rollback; the
	// pre-restore member directories are still on the nodes.
	ErrRollbackFailed = errors.New("restore failed and the rollback failed too")
)

// startTitle is the restore task's start phase (tasks/etcd-restore.yaml).
const startTitle = "Start etcd on every master together"

// Built-in task names.
const (
	TaskRestore  = "etcd-restore"
	TaskRollback = "etcd-rollback"
	TaskFinish   = "etcd-restore-finish"
)

// Action names the task files use.
const (
	actionPreflightCheck = "etcd-preflight-check"
	actionPush           = "etcd-push"
	actionConfirm        = "etcd-confirm"
	actionVerify         = "etcd-verify"
	actionVerifyRollback = "etcd-verify-rollback"
	actionUnlock         = "etcd-unlock"
)

// run is one restore's shared state.
type run struct {
	opts  Options
	env   *phases.Env
	runID string
	task  *tasks.Task // etcd-restore: its vars are every task's defaults
	// recovering: this is etcd recover, not a restore (no backup, no
	// staging; the preflight reads the members only).
	recovering bool

	mu       sync.Mutex
	members  map[string]member // by host name, from the preflight
	locks    map[string]*lock  // by host name
	paths    map[string]Paths  // by host name, resolved in the preflight
	stopped  bool              // the stop phase started: from here on, roll back on failure
	snapRev  int64             // the snapshot's revision (from the staged copy)
	snapKeys int64             // the snapshot's live keys (-1: not counted)
	keysRev  int64             // the revision at which a restored member holds exactly the snapshot's keys
	dumpSize int64
}

// member is what the preflight learnt about a host's etcd member.
type member struct {
	Name           string
	PeerURL        string
	InitialCluster string
	Tool           string
	Version        string
	Peers          map[string]string // name -> peer URL
}

// Result is what a restore did, beside the report.
type Result struct {
	// RunID stamps the directories the run left: member.pre-restore-<RunID>.
	RunID string
	// Kept are the pre-restore member directories, host -> path.
	Kept map[string]string
	// RolledBack reports that the restore failed and was undone.
	RolledBack bool
}

// Run restores o.Backup on every host of o.Env and returns the report of
// every phase that ran (restore, then rollback if any, then finish). The
// error wraps ErrPreflight, ErrLocked, ErrNotConfirmed, ErrPush, ErrVerify,
// ErrRolledBack or ErrRollbackFailed.
func Run(ctx context.Context, o Options) (*output.Report, Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = 60 * time.Second
	}
	r := &run{opts: o, env: o.Env, runID: newRunID(o.Now()),
		members: map[string]member{}, locks: map[string]*lock{}, paths: map[string]Paths{}, snapKeys: -1}
	res := Result{RunID: r.runID, Kept: map[string]string{}}

	restore, err := tasks.LoadBuiltin(TaskRestore)
	if err != nil {
		return nil, res, err
	}
	r.task = restore
	// The restore task's vars are the defaults of every task of the run;
	// the operator's -e overrides and the run's own values beat everything.
	r.env.InitVars(restore.Vars, o.Vars)
	r.env.SetVar("run_id", r.runID)
	r.env.SetVar("journal_end", "")
	r.env.SetVar("bump_revision", o.BumpRevision)
	r.env.SetVar("keys_rev", 0)
	r.env.SetVar("dump_sha256", "(sha256 of the snapshot, known once it is streamed)")
	r.env.SetVar("dump_bytes", "(the snapshot's size, known once it is streamed)")
	r.env.DryRun = o.DryRun
	r.env.Actions = map[string]phases.ActionFunc{
		actionPreflightCheck: r.preflightCheckPhase,
		actionPush:           r.pushPhase,
		actionConfirm:        r.confirmPhase,
		actionVerify:         r.verifyPhase(false),
		actionVerifyRollback: r.verifyPhase(true),
		actionUnlock:         r.unlockPhase,
	}
	defer r.releaseLocks()

	rep, runErr := r.runTask(ctx, restore, nil)
	if runErr != nil && r.hasStopped() && !o.DryRun {
		// Undo on a context that the operator's Ctrl-C does not end: a
		// half-swapped cluster is worse than a late exit.
		rbCtx := context.WithoutCancel(ctx)
		rb, err := tasks.LoadBuiltin(TaskRollback)
		if err != nil {
			return rep, res, err
		}
		rep, err = r.runTask(rbCtx, rb, rep)
		res.RolledBack = err == nil
		if err != nil {
			var started string
			rep, started = r.restartPutBack(rbCtx, rb, rep)
			if started == "" {
				started = " (the run stays recorded as interrupted: once every master is reachable, run ncnpush etcd recover: " +
					"it puts back what is left and starts the members together)"
			}
			runErr = fmt.Errorf("%w: %w; rollback: %w%s", ErrRollbackFailed, runErr, err, started)
		} else {
			runErr = fmt.Errorf("%w: %w", ErrRolledBack, runErr)
		}
	}
	// The finish closes each node's journal with the outcome; after a
	// failed rollback it stays open: etcd status shows the run, and etcd
	// recover finishes it.
	switch {
	case runErr == nil:
		r.env.SetVar("journal_end", endRestored)
	case !r.hasStopped():
		r.env.SetVar("journal_end", endNotStopped)
	case res.RolledBack:
		r.env.SetVar("journal_end", endRolledBack)
	}
	if !o.DryRun && r.locked() {
		fin, err := tasks.LoadBuiltin(TaskFinish)
		if err != nil {
			return rep, res, err
		}
		var finErr error
		// An interrupt now does not stop the clean-up: the staged copies
		// hold every Secret. Say so when it comes.
		said := context.AfterFunc(ctx, func() {
			r.env.Logger.Warn("interrupted: removing the staged copies and releasing the locks first", "host", "-")
		})
		rep, finErr = r.runTask(context.WithoutCancel(ctx), fin, rep)
		said()
		switch {
		case finErr != nil && runErr == nil:
			// The restore itself worked: say so first.
			runErr = fmt.Errorf("%w: the restore succeeded and was verified, but its clean-up failed "+
				"(the staged snapshot may be left, and the run shows as interrupted until ncnpush etcd recover finishes it): %w",
				ErrCleanup, finErr)
		case finErr != nil:
			// Say so: a staged snapshot (every Secret) may be left on a node.
			runErr = fmt.Errorf("%w; clean-up: %w", runErr, finErr)
		}
	}
	if runErr == nil && !o.DryRun {
		for _, h := range r.env.Hosts {
			res.Kept[h.Name] = r.pathsOf(h.Name).Aside
		}
	}
	if rep != nil {
		rep.Action = TaskRestore
		rep.Status = output.StatusOK
		rep.Error = ""
		if runErr != nil {
			rep.Status = output.StatusFailed
			rep.Error = runErr.Error()
		}
	}
	return rep, res, runErr
}

// restartPutBack handles a rollback whose first phase (putting back the
// pre-restore member) failed on some hosts, typically one ncnpush lost
// (sshd gone, node rebooting): the later rollback phases did not run, and
// etcd would stay stopped everywhere, the whole cluster down although the
// other members are back as they were. It starts etcd again on the hosts
// whose member was put back, so that they keep the cluster's quorum, and
// returns what to add to the error.
func (r *run) restartPutBack(ctx context.Context, rb *tasks.Task, rep *output.Report) (*output.Report, string) {
	if rep == nil || len(rb.Phases) < 2 {
		return rep, ""
	}
	var putBack *output.PhaseResult
	for i := range rep.Phases {
		if rep.Phases[i].Title == rb.Phases[0].Title {
			putBack = &rep.Phases[i]
		}
	}
	if putBack == nil || putBack.Status != output.StatusFailed {
		return rep, "" // the later phases ran on every host
	}
	ok := map[string]bool{}
	var failed []string
	for _, h := range putBack.Hosts {
		if h.Status == output.StatusOK {
			ok[h.Host] = true
		} else {
			failed = append(failed, h.Host)
		}
	}
	sub := r.env.Hosts.Filter(func(h *hosts.Host) bool { return ok[h.Name] })
	if len(sub) == 0 {
		return rep, ""
	}
	// A lost master that got to the start may still run the restored
	// member, with the same member and cluster IDs as the members put back:
	// started now, they would take it for one of theirs and mix raft logs.
	// Leave them held; etcd recover starts every member together.
	for i := range rep.Phases {
		if rep.Phases[i].Title != startTitle {
			continue
		}
		for _, h := range rep.Phases[i].Hosts {
			if !ok[h.Host] && h.Status != output.StatusSkipped {
				return rep, fmt.Sprintf(" (etcd is left stopped everywhere: %s, out of reach, got to the start and may still run the restored member; "+
					"once every master is reachable, run ncnpush etcd recover: it puts back what is left and starts the members together)",
					strings.Join(failed, ", "))
			}
		}
	}
	env := &phases.Env{Hosts: sub, Templates: r.env.Templates, Vars: r.env.Vars, ExtraVars: r.env.ExtraVars,
		Forks: r.env.Forks, Out: r.env.Out, Logger: r.env.Logger}
	task := &tasks.Task{Name: TaskRollback, Vars: rb.Vars, Phases: []tasks.Phase{{
		Title:    "Rollback: start etcd on the masters whose member was put back",
		Template: rb.Phases[1].Template,
	}}}
	ps, err := phases.FromTask(env, task)
	if err != nil {
		return rep, fmt.Sprintf(" (etcd could not be started again on %s: %v)", strings.Join(sub.Names(), ", "), err)
	}
	m := &phases.Manager{Action: TaskRollback, Phases: ps, Hosts: sub.Names(), Out: r.env.Out, Logger: r.env.Logger}
	srep, err := m.Run(ctx)
	rep = phases.AppendReport(rep, srep)
	if err != nil {
		return rep, fmt.Sprintf(" (etcd did not start again on every one of %s: %v)", strings.Join(sub.Names(), ", "), err)
	}
	var how []string
	for _, n := range failed {
		p := r.pathsOf(n)
		how = append(how, fmt.Sprintf("%s: %s back to %s", n, p.Aside, p.Data+"/member"))
	}
	return rep, fmt.Sprintf(" (etcd runs again on %s with the member from before the restore; on %s, once reachable, "+
		"run ncnpush etcd recover: it puts the member from before the restore back (%s), removes the hold and starts etcd)",
		strings.Join(sub.Names(), ", "), strings.Join(failed, ", "), strings.Join(how, "; "))
}

// pathsOf is host's paths for this run (resolved in the preflight; before
// it, from the host's variables).
func (r *run) pathsOf(host string) Paths {
	r.mu.Lock()
	p, ok := r.paths[host]
	r.mu.Unlock()
	if ok {
		return p
	}
	return pathsFor(r.env.VarsFor(r.env.Hosts.Find(host), r.task), r.runID)
}

// runTask runs task t and appends its phases to prev (renumbered).
func (r *run) runTask(ctx context.Context, t *tasks.Task, prev *output.Report) (*output.Report, error) {
	ps, err := phases.FromTask(r.env, t)
	if err != nil {
		return prev, err
	}
	m := &phases.Manager{Action: t.Name, Phases: ps, DryRun: r.env.DryRun, Hosts: r.env.Hosts.Names(),
		Out: r.env.Out, Logger: r.env.Logger}
	rep, err := m.Run(ctx)
	return phases.AppendReport(prev, rep), err
}

func (r *run) hasStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

func (r *run) locked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.locks) > 0
}

// render renders template name for host h as a phase would: h's resolved
// variables and its facts (.Self).
func (r *run) render(name string, h *hosts.Host) (string, error) {
	return r.env.Templates.Render(name, phases.TemplateData{Vars: r.env.VarsFor(h, r.task), Self: h.FactsCopy(),
		Host: phases.HostData{Name: h.Name, Address: h.Address, User: h.User, Port: h.Port, Groups: h.Groups}})
}

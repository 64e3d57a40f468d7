// Package k8sheal repairs what a bare-metal etcd restore leaves behind in
// Kubernetes: CronJobs that stopped being scheduled (their last schedule far
// behind their schedule; Kubernetes gives up on a CronJob after 100 missed
// starts) and the pods of their Jobs stuck in ContainerCreating or Init.
// It automates the last section of CSM's runbook "Restore Bare-Metal etcd
// Clusters from an S3 Snapshot": for each stuck CronJob, `kubectl get -o
// json`, drop the selector and the controller-uid label, `kubectl replace
// --force -f -`, then delete the stuck pods.
//
// It is a library, kept apart from the CLI (cmd/k8s_heal.go, and the last
// step of cmd/etcd_restore.go). The steps are the built-in task k8s-heal
// (tasks/k8s-heal.yaml); the Kubernetes work runs with kubectl over SSH on
// one master, as the runbook does, and every decision is made here in Go:
// which CronJobs are stuck ([Stale], with github.com/robfig/cron/v3, the
// parser the CronJob controller uses), which pods are theirs ([NewPlan]),
// and the manifest that replaces each one ([ForReplace]; no jq on the node).
package k8sheal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// Task is the built-in task's name.
const Task = "k8s-heal"

// Action names the task file uses.
const (
	actionFind   = "k8s-heal-find"
	actionShow   = "k8s-heal-show"
	actionRepair = "k8s-heal-repair"
	actionCheck  = "k8s-heal-check"
)

// Templates the Go phases run.
const (
	tmplGet     = "k8s-get.sh.tmpl"
	tmplReplace = "k8s-replace-cronjob.sh.tmpl"
	tmplDelete  = "k8s-delete-pods.sh.tmpl"
)

// exitNoAPIServer is what k8s-get.sh.tmpl exits with when no API server
// answers /readyz (EX_UNAVAILABLE).
const exitNoAPIServer = 69

// Sentinels, for errors.Is.
var (
	// ErrNoAPIServer: no master reached a ready Kubernetes API server with
	// kubectl within api_timeout; nothing was changed.
	ErrNoAPIServer = errors.New("no Kubernetes API server is reachable")
	// ErrNoMaster: no master could be reached over SSH to run kubectl on.
	ErrNoMaster = errors.New("no master to run kubectl on")
	// ErrRepair: at least one stuck CronJob could not be replaced or one
	// of its stuck pods not deleted (Result.Failed says which).
	ErrRepair = errors.New("repair failed")
	// ErrCheck: after the repair, a replaced CronJob or a deleted pod was
	// not as expected when read back.
	ErrCheck = errors.New("check after the repair failed")
)

// Options configure one heal.
type Options struct {
	// Env is the phase environment: the master hosts (those without a
	// connection are passed over), templates, output, logger. Its Vars and
	// Actions are set by Run.
	Env *phases.Env
	// Vars override the task's variables (-e key=value): kubeconfig,
	// request_timeout, api_timeout, delete_timeout. Unknown keys are
	// ignored, so that a caller may pass on its own -e overrides.
	Vars map[string]any
	// StaleFactor is F: a CronJob is stuck when its last schedule is older
	// than F × the interval its schedule implies (0: DefaultStaleFactor; at
	// least 1).
	StaleFactor float64
	// DryRun reads and shows the plan, and changes nothing.
	DryRun bool
	// Now gives the time staleness is judged at (default time.Now).
	Now func() time.Time
	// RetryInterval is the pause between rounds of asking every master for
	// a ready API server, within api_timeout (default 5s).
	RetryInterval time.Duration
}

// Replaced is a CronJob heal recreated.
type Replaced struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// OldUID is the stuck object's UID, NewUID its replacement's.
	OldUID string `json:"old_uid"`
	NewUID string `json:"new_uid"`
}

// Failure is something heal tried and could not do.
type Failure struct {
	// Kind is CronJob or Pod.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Error     string `json:"error"`
}

// Result is what a heal found and did, beside the report.
type Result struct {
	// Host is the master kubectl ran on ("" if none answered).
	Host string `json:"host,omitempty"`
	// Plan is every CronJob and the decision about it (nil if the lists
	// could not be read).
	Plan *Plan `json:"plan,omitempty"`
	// Replaced are the stuck CronJobs recreated, in plan order.
	Replaced []Replaced `json:"replaced"`
	// DeletedPods are the stuck pods deleted (gone when read back).
	DeletedPods []PodRef `json:"deleted_pods"`
	// Failed is everything that could not be done.
	Failed []Failure `json:"failed"`
}

// run is one heal's shared state.
type run struct {
	opts Options
	env  *phases.Env

	mu   sync.Mutex
	host *hosts.Host
	res  Result
}

// Run heals with the built-in task k8s-heal and returns the report of its
// phases. The error wraps ErrNoAPIServer, ErrNoMaster, ErrRepair or
// ErrCheck, or is the task's (a bad variable, a template that fails).
func Run(ctx context.Context, o Options) (*output.Report, Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StaleFactor == 0 {
		o.StaleFactor = DefaultStaleFactor
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 5 * time.Second
	}
	r := &run{opts: o, env: o.Env}
	r.res = Result{Replaced: []Replaced{}, DeletedPods: []PodRef{}, Failed: []Failure{}}
	if o.StaleFactor < 1 {
		return nil, r.result(), fmt.Errorf("stale factor %g: it must be at least 1", o.StaleFactor)
	}
	t, err := tasks.LoadBuiltin(Task)
	if err != nil {
		return nil, r.result(), err
	}
	if r.env.Logger == nil {
		r.env.Logger = slog.New(slog.DiscardHandler)
	}
	r.env.InitVars(t.Vars, o.Vars)
	r.env.DryRun = o.DryRun
	r.env.Actions = map[string]phases.ActionFunc{
		actionFind:   r.findPhase,
		actionShow:   r.showPhase,
		actionRepair: r.repairPhase,
		actionCheck:  r.checkPhase,
	}
	ps, err := phases.FromTask(r.env, t)
	if err != nil {
		return nil, r.result(), err
	}
	m := &phases.Manager{Action: Task, Phases: ps, DryRun: o.DryRun, Hosts: r.env.Hosts.Names(),
		Out: r.env.Out, Logger: r.env.Logger}
	rep, err := m.Run(ctx)
	return rep, r.result(), err
}

func (r *run) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res
	res.Replaced = append([]Replaced{}, r.res.Replaced...)
	res.DeletedPods = append([]PodRef{}, r.res.DeletedPods...)
	res.Failed = append([]Failure{}, r.res.Failed...)
	return res
}

func (r *run) kubectlHost() *hosts.Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.host
}

func (r *run) plan() *Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res.Plan
}

func (r *run) fail(kind, ns, name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Failed = append(r.res.Failed, Failure{Kind: kind, Namespace: ns, Name: name, Error: err.Error()})
}

// varInt reads an integer task variable (a YAML int, or a -e string).
func (r *run) varInt(name string) (int, error) {
	switch v := r.env.Vars[name].(type) {
	case int:
		return v, nil
	case string:
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && fmt.Sprint(n) == strings.TrimSpace(v) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("variable %s=%v: want a whole number of seconds", name, r.env.Vars[name])
}

// script renders tmpl for h with the run's variables (task defaults, then
// h's inventory vars, then -e overrides, then extra, which always win) and
// runs it on h. kubectl's own lines are shown live, prefixed with the host;
// lines of the form KEY=VALUE (for ncnpush) and, when quiet, every stdout
// line are not. It returns stdout's lines.
func (r *run) script(ctx context.Context, h *hosts.Host, tmpl string, extra map[string]any, quiet bool) ([]string, error) {
	vars := maps.Clone(r.env.Vars)
	for k, v := range h.Vars {
		vars[k] = v
	}
	maps.Copy(vars, r.env.ExtraVars)
	maps.Copy(vars, extra)
	text, err := r.env.Templates.Render(tmpl, map[string]any{"Vars": vars})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", phases.ErrRender, err)
	}
	if h.Conn == nil {
		return nil, fmt.Errorf("run %s: %w", tmpl, hosts.ErrNotConnected)
	}
	var (
		mu             sync.Mutex // a cancelled Run may return before its last line
		stdout, stderr []string
	)
	log := output.WithHost(r.env.Logger, h.Name)
	log.Debug("script start", "template", tmpl)
	res, err := h.Conn.Run(ctx, phases.WrapScript(text), transport.RunOptions{
		Stdout: func(l string) {
			mu.Lock()
			stdout = append(stdout, l)
			mu.Unlock()
			if !quiet && !isFactLine(l) {
				r.env.Out.Line(h.Name, l)
			}
		},
		Stderr: func(l string) {
			mu.Lock()
			stderr = append(stderr, l)
			mu.Unlock()
			r.env.Out.Line(h.Name, l)
		},
	})
	mu.Lock()
	defer mu.Unlock()
	log.Debug("script done", "template", tmpl, "exit", res.ExitCode, "duration", res.Duration)
	var ee *transport.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout, &phases.ExitError{Template: tmpl, Code: ee.Code, Stderr: lastLine(stderr), Err: err}
	case err != nil:
		return stdout, fmt.Errorf("run %s: %w", tmpl, err)
	case res.ExitCode != 0:
		return stdout, &phases.ExitError{Template: tmpl, Code: res.ExitCode, Stderr: lastLine(stderr)}
	}
	return stdout, nil
}

// isFactLine reports whether l is a KEY=VALUE line a script prints for
// ncnpush (NEW_UID=..., GONE=...).
func isFactLine(l string) bool {
	k, _, ok := strings.Cut(l, "=")
	return ok && k != "" && strings.ToUpper(k) == k && tasks.IsIdentifier(k)
}

func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}

// facts parses the KEY=VALUE lines of a script's output; a later KEY wins,
// except for the keys in multi, whose values are collected.
func facts(lines []string) map[string][]string {
	out := map[string][]string{}
	for _, l := range lines {
		if !isFactLine(l) {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		out[k] = append(out[k], v)
	}
	return out
}

// ---------------------------------------------------------------- find

// findPhase asks the masters, in order, for every CronJob, Job and not
// running pod (k8s-get.sh.tmpl), until one answers or api_timeout passes,
// and decides which CronJobs are stuck. It only reads, so it runs under
// --dry-run too. The master that answered runs every later kubectl.
type findPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) findPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &findPhase{GoPhase: gp, r: r}, nil
}

// ReadOnly: the phase runs for real under --dry-run.
func (p *findPhase) ReadOnly() bool { return true }

// DryRun is Run: the phase only reads.
func (p *findPhase) DryRun(ctx context.Context) error { return p.Run(ctx) }

func (p *findPhase) Run(ctx context.Context) error {
	wait, err := p.r.varInt("api_timeout")
	if err != nil {
		return err
	}
	candidates := p.Hosts.Filter(func(h *hosts.Host) bool { return h.Conn != nil })
	if len(candidates) == 0 {
		return fmt.Errorf("%w: none of %s is connected", ErrNoMaster, strings.Join(p.Hosts.Names(), ", "))
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for round := 1; ; round++ {
		var firstErr error
		noAPI := 0
		for _, h := range candidates {
			start := time.Now()
			lines, err := p.r.script(ctx, h, tmplGet, nil, true)
			if err == nil {
				err = p.decide(h, lines)
			}
			if err == nil {
				p.Record(h.Name, start, nil, p.summary())
				return nil
			}
			if ctx.Err() != nil {
				p.Record(h.Name, start, err, "")
				return err
			}
			var ee *phases.ExitError
			switch {
			case errors.As(err, &ee) && ee.Code == exitNoAPIServer:
				noAPI++
				err = fmt.Errorf("%w: %s", ErrNoAPIServer, ee.Stderr)
			}
			p.Record(h.Name, start, err, fmt.Sprintf("round %d", round))
			p.r.env.Logger.Info("kubectl failed", output.HostKey, h.Name, "round", round, "error", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		// Only an API server that is not (yet) there is waited for: right
		// after a restore it may still be reconnecting to etcd. Anything
		// else (kubectl missing, output that cannot be read, a watch cache
		// from before the restore, which does not catch up by waiting) is
		// final.
		if noAPI < len(candidates) {
			return firstErr
		}
		if time.Now().Add(p.r.opts.RetryInterval).After(deadline) {
			return fmt.Errorf("%w (asked %s for %ds): %w", ErrNoAPIServer,
				strings.Join(candidates.Names(), ", "), wait, stripSentinel(firstErr))
		}
		p.r.env.Out.Printf("    no master reached a ready API server yet (%v); asking again in %s", firstErr, p.r.opts.RetryInterval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.r.opts.RetryInterval):
		}
	}
}

// stripSentinel drops the repeated "no Kubernetes API server is
// reachable: " from a host's error, keeping its chain.
func stripSentinel(err error) error {
	return &trimmedError{err: err, msg: strings.Replace(err.Error(), ErrNoAPIServer.Error()+": ", "", 1)}
}

type trimmedError struct {
	err error
	msg string
}

func (e *trimmedError) Error() string { return e.msg }
func (e *trimmedError) Unwrap() error { return e.err }

func (p *findPhase) decide(h *hosts.Host, lines []string) error {
	l, err := ParseGet([]byte(strings.Join(lines, "\n")))
	if err != nil {
		return fmt.Errorf("%s: %w", tmplGet, err)
	}
	if err := l.CheckFresh(); err != nil {
		return err
	}
	plan, err := NewPlan(l, p.r.opts.Now(), p.r.opts.StaleFactor)
	if err != nil {
		return err
	}
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.host = h
	p.r.res.Host = h.Name
	p.r.res.Plan = plan
	return nil
}

func (p *findPhase) summary() string {
	plan := p.r.plan()
	pods := 0
	for _, it := range plan.Stuck() {
		pods += len(it.Pods)
	}
	s := fmt.Sprintf("%d CronJobs: %d stuck (%d stuck pods), %d healthy, %d suspended", len(plan.Items),
		plan.Count(Stuck), pods, plan.Count(Healthy), plan.Count(Suspended))
	if n := plan.Count(Invalid); n > 0 {
		s += fmt.Sprintf(", %d with a schedule that cannot be read", n)
	}
	return s
}

// ---------------------------------------------------------------- show

// showPhase prints the plan: one row per CronJob, then the stuck pods.
type showPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) showPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	return &showPhase{GoPhase: &phases.GoPhase{Caption: spec.Title}, r: r}, nil
}

// DryRun is Run: the phase only prints.
func (p *showPhase) DryRun(ctx context.Context) error { return p.Run(ctx) }

func (p *showPhase) Run(context.Context) error {
	plan := p.r.plan()
	if plan == nil {
		return errors.New("nothing was read")
	}
	for _, l := range strings.Split(strings.TrimSuffix(PlanTable(plan), "\n"), "\n") {
		p.r.env.Out.Printf("    %s", l)
	}
	return nil
}

// PlanTable formats plan as the table heal shows: namespace, name,
// schedule, last schedule (and how long ago), age of the CronJob, action;
// then one line per stuck pod to delete.
func PlanTable(plan *Plan) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tSCHEDULE\tLAST SCHEDULE\tAGE\tACTION")
	for _, it := range plan.Items {
		last := "<none>"
		if it.LastSchedule != nil {
			last = it.LastSchedule.UTC().Format(time.RFC3339) + " (" + shortDuration(plan.Now.Sub(*it.LastSchedule)) + " ago)"
		}
		sched := it.Schedule
		if it.TimeZone != nil && *it.TimeZone != "" {
			sched += " " + *it.TimeZone
		}
		action := it.ActionText()
		if it.State == Stuck {
			action += fmt.Sprintf(" (stuck: due %s, %s ago)", it.Staleness.Due.UTC().Format("2006-01-02 15:04"), shortDuration(plan.Now.Sub(it.Staleness.Due)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Namespace, it.Name, sched, last, shortDuration(plan.Now.Sub(it.Created)), action)
	}
	_ = tw.Flush()
	for _, it := range plan.Stuck() {
		for _, pod := range it.Pods {
			fmt.Fprintf(&b, "delete pod %s/%s (%s, Job %s of CronJob %s)\n", pod.Namespace, pod.Name, pod.Status, pod.Job, it.Name)
		}
	}
	if len(plan.Items) == 0 {
		b.WriteString("(no CronJobs)\n")
	}
	for _, it := range plan.Items {
		if it.State == Invalid {
			fmt.Fprintf(&b, "%s: %s\n", it.Key(), it.Error)
		}
	}
	return b.String()
}

// shortDuration formats d like kubectl's AGE column: 45s, 18m, 5h12m, 3d4h, 20d.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch s := int64(d / time.Second); {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 8*3600:
		if m := (s % 3600) / 60; m != 0 {
			return fmt.Sprintf("%dh%dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	case s < 2*86400:
		return fmt.Sprintf("%dh", s/3600)
	case s < 8*86400:
		if h := (s % 86400) / 3600; h != 0 {
			return fmt.Sprintf("%dd%dh", s/86400, h)
		}
		return fmt.Sprintf("%dd", s/86400)
	default:
		return fmt.Sprintf("%dd", s/86400)
	}
}

// ---------------------------------------------------------------- repair

// repairPhase replaces every stuck CronJob (k8s-replace-cronjob.sh.tmpl)
// and then deletes its stuck pods (k8s-delete-pods.sh.tmpl), one CronJob
// after another on the master find used. A failure does not stop the
// others; the phase fails at the end if anything failed. The pods of a
// CronJob that could not be replaced are left alone: the CronJob would
// still be stuck, and its Jobs would only make new pods.
type repairPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) repairPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &repairPhase{GoPhase: gp, r: r}, nil
}

// ShouldRun is false when nothing is stuck.
func (p *repairPhase) ShouldRun() bool {
	plan := p.r.plan()
	return plan != nil && len(plan.Stuck()) > 0
}

func (p *repairPhase) Run(ctx context.Context) error {
	h := p.r.kubectlHost()
	if h == nil {
		return errors.New("no master answered the find phase")
	}
	start := time.Now()
	stuck := p.r.plan().Stuck()
	replaced, deleted, failed := 0, 0, 0
	for _, it := range stuck {
		if err := ctx.Err(); err != nil {
			p.Record(h.Name, start, err, "")
			return err
		}
		newUID, err := p.replace(ctx, h, it)
		if err != nil {
			failed++
			p.r.fail("CronJob", it.Namespace, it.Name, err)
			p.r.env.Out.Errorf("CronJob %s not replaced: %v", it.Key(), err)
			if len(it.Pods) > 0 {
				p.r.env.Out.Errorf("its %d stuck pod(s) are left alone", len(it.Pods))
			}
			continue
		}
		replaced++
		p.r.mu.Lock()
		p.r.res.Replaced = append(p.r.res.Replaced, Replaced{Namespace: it.Namespace, Name: it.Name, OldUID: it.UID, NewUID: newUID})
		p.r.mu.Unlock()
		if len(it.Pods) == 0 {
			continue
		}
		n, err := p.deletePods(ctx, h, it)
		deleted += n
		if err != nil {
			failed++
		}
	}
	note := fmt.Sprintf("replaced %d of %d stuck CronJobs, deleted %d stuck pods", replaced, len(stuck), deleted)
	if failed > 0 {
		err := fmt.Errorf("%w: %s; %s", ErrRepair, note, p.r.failures())
		p.Record(h.Name, start, err, "")
		return err
	}
	p.Record(h.Name, start, nil, note)
	return nil
}

// failures is the run's failures in one line.
func (r *run) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := make([]string, len(r.res.Failed))
	for i, f := range r.res.Failed {
		parts[i] = fmt.Sprintf("%s %s/%s: %s", f.Kind, f.Namespace, f.Name, f.Error)
	}
	return strings.Join(parts, "; ")
}

func (p *repairPhase) replace(ctx context.Context, h *hosts.Host, it *Item) (string, error) {
	manifest, err := ForReplace(it.Raw())
	if err != nil {
		return "", err
	}
	lines, err := p.r.script(ctx, h, tmplReplace, map[string]any{
		"namespace": it.Namespace, "name": it.Name, "uid": it.UID, "manifest": string(manifest),
	}, false)
	if err != nil {
		return "", err
	}
	uids := facts(lines)["NEW_UID"]
	if len(uids) != 1 || uids[0] == "" {
		return "", fmt.Errorf("%s printed no NEW_UID", tmplReplace)
	}
	if uids[0] == it.UID {
		return "", fmt.Errorf("the CronJob still has its old UID %s after kubectl replace --force", it.UID)
	}
	return uids[0], nil
}

// deletePods deletes it's stuck pods and returns how many are gone. Each
// pod that is not gone is a failure of its own.
func (p *repairPhase) deletePods(ctx context.Context, h *hosts.Host, it *Item) (int, error) {
	names := make([]string, len(it.Pods))
	for i, pod := range it.Pods {
		names[i] = pod.Name
	}
	lines, runErr := p.r.script(ctx, h, tmplDelete, map[string]any{"namespace": it.Namespace, "pods": names}, false)
	gone := map[string]bool{}
	for _, n := range facts(lines)["GONE"] {
		gone[n] = true
	}
	var errs []error
	n := 0
	for _, pod := range it.Pods {
		if gone[pod.Name] {
			n++
			p.r.mu.Lock()
			p.r.res.DeletedPods = append(p.r.res.DeletedPods, pod)
			p.r.mu.Unlock()
			continue
		}
		err := runErr
		if err == nil {
			err = errors.New("still there after kubectl delete")
		}
		p.r.fail("Pod", pod.Namespace, pod.Name, err)
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// ---------------------------------------------------------------- check

// checkPhase reads the cluster back after the repair: every replaced
// CronJob exists with its new UID, and every deleted pod is gone.
type checkPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) checkPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &checkPhase{GoPhase: gp, r: r}, nil
}

// ShouldRun is false when the repair changed nothing.
func (p *checkPhase) ShouldRun() bool {
	res := p.r.result()
	return len(res.Replaced) > 0 || len(res.DeletedPods) > 0
}

func (p *checkPhase) Run(ctx context.Context) error {
	h := p.r.kubectlHost()
	start := time.Now()
	lines, err := p.r.script(ctx, h, tmplGet, nil, true)
	if err != nil {
		p.Record(h.Name, start, err, "")
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	l, err := ParseGet([]byte(strings.Join(lines, "\n")))
	if err != nil {
		p.Record(h.Name, start, err, "")
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	cronjobs := map[string]*CronJob{}
	for i := range l.CronJobs {
		cronjobs[l.CronJobs[i].Key()] = &l.CronJobs[i]
	}
	pods := map[string]bool{}
	for _, pod := range l.Pods {
		pods[pod.Metadata.UID] = true
	}
	res := p.r.result()
	var problems []string
	for _, rep := range res.Replaced {
		cj := cronjobs[rep.Namespace+"/"+rep.Name]
		switch {
		case cj == nil:
			problems = append(problems, fmt.Sprintf("CronJob %s/%s is gone", rep.Namespace, rep.Name))
		case cj.Metadata.UID != rep.NewUID:
			problems = append(problems, fmt.Sprintf("CronJob %s/%s has UID %s, not the new %s", rep.Namespace, rep.Name, cj.Metadata.UID, rep.NewUID))
		}
	}
	for _, pod := range res.DeletedPods {
		if pods[pod.UID] {
			problems = append(problems, fmt.Sprintf("pod %s/%s is still there", pod.Namespace, pod.Name))
		}
	}
	if len(problems) > 0 {
		err := fmt.Errorf("%w: %s", ErrCheck, strings.Join(problems, "; "))
		p.Record(h.Name, start, err, "")
		return err
	}
	p.Record(h.Name, start, nil, fmt.Sprintf("%d CronJobs recreated with new UIDs, %d stuck pods gone", len(res.Replaced), len(res.DeletedPods)))
	return nil
}

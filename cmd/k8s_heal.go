package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/k8sheal"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/tasks"
)

// exitHealFailed is the exit code of `etcd restore` when the restore
// succeeded and the Kubernetes heal after it did not (or found no API
// server): not 0, so that a script checking $? notices that something
// needs a look, and not 1, so that it never takes the restore for failed
// (and, say, restores again). -o json says the same: status ok and
// k8s_heal.status failed.
const exitHealFailed = 3

func staleFactorFlag() cli.Flag {
	return &cli.Float64Flag{Name: flagStaleFactor, Value: k8sheal.DefaultStaleFactor,
		Usage: "a CronJob is stuck when its last schedule is older than `F` times the interval its schedule implies (F >= 1)"}
}

// k8sHealCommand is `ncnpush k8s heal`.
func k8sHealCommand() *cli.Command {
	return &cli.Command{
		Name:  "heal",
		Usage: "recreate the CronJobs that stopped being scheduled and delete their stuck pods",
		Description: `The last section of CSM's runbook "Restore Bare-Metal etcd Clusters from an S3
Snapshot", automated. With kubectl on one master (the first whose kubectl
reaches a ready API server, KUBECONFIG /etc/kubernetes/admin.conf):

  1. reads every CronJob, Job and not-running pod;
  2. decides in Go which CronJobs are stuck: not suspended, and their last
     schedule (their creation, if never scheduled) older than F times the
     interval their cron schedule implies (F is --stale-factor, default 2);
     their stuck pods are those of their Jobs (by ownerReferences) that are
     neither Running nor Succeeded (Pending: ContainerCreating, Init:0/1...);
  3. shows a table: namespace, name, schedule, last schedule, age, action
     (--dry-run stops here);
  4. replaces each stuck CronJob with the runbook's transform, done in Go
     (no selector, no stale controller-uid label, no uid, resourceVersion or
     status; checked first with a server-side dry run), with kubectl replace
     --force, then deletes its stuck pods; healthy and suspended CronJobs are
     never touched;
  5. reads the cluster back: new UIDs, pods gone.

Lists that are ahead of etcd's revision (an API server still serving what it
cached before an etcd restore made without --bump-revision) are refused with
what to do: restart kube-apiserver on every master, then heal again.

It exits 1 if anything failed (no API server reachable included); the report
and -o json say what was replaced, deleted and failed. etcd restore runs it as
its last step (--skip-k8s-heal turns that off).

Examples:
   ncnpush k8s heal -i inventory.yaml --dry-run
   ncnpush k8s heal -i inventory.yaml
   ncnpush k8s heal -i inventory.yaml --stale-factor 3 -o json
   ncnpush k8s heal -i inventory.yaml -e kubeconfig=/root/.kube/config -e api_timeout=0`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.BoolFlag{Name: flagDryRun, Usage: "read and show what is stuck, change nothing"},
			staleFactorFlag(),
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a task variable `key=value` (kubeconfig, request_timeout, api_timeout, delete_timeout)"},
		}),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, "masters")
			if err != nil {
				return err
			}
			defer s.close()
			extra, err := extraVars(c)
			if err != nil {
				return err
			}
			f := c.Float64(flagStaleFactor)
			if f < 1 {
				return usageErrorf("--%s %g: it must be at least 1", flagStaleFactor, f)
			}
			if extra, err = tasks.CheckBuiltinVars(extra, k8sheal.Task); err != nil {
				return s.finishHeal(nil, k8sheal.Result{}, c.Bool(flagDryRun), &exitError{code: exitUsage, err: fmt.Errorf("-e: %w", err)})
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dialAny(ctx); err != nil {
				return s.finishHeal(nil, k8sheal.Result{}, c.Bool(flagDryRun), err)
			}
			rep, res, err := k8sheal.Run(ctx, k8sheal.Options{
				Env:         s.env(nil, nil, c.Bool(flagDryRun)),
				Vars:        extra,
				StaleFactor: f,
				DryRun:      c.Bool(flagDryRun),
			})
			return s.finishHeal(rep, res, c.Bool(flagDryRun), err)
		},
	}
}

// healPart is what a heal did, as -o json shows it: on its own (`k8s heal`,
// with Report) and as k8s_heal in the document of `etcd restore`.
type healPart struct {
	// Status is ok, failed, or skipped (with Note saying why).
	Status output.Status `json:"status"`
	Error  string        `json:"error,omitempty"`
	Note   string        `json:"note,omitempty"`
	DryRun bool          `json:"dry_run"`
	k8sheal.Result
	// Report is every phase of the heal (only for `k8s heal`: within
	// `etcd restore` the heal's phases are in the restore's report).
	Report *output.Report `json:"report,omitempty"`
}

func newHealPart(res k8sheal.Result, dryRun bool, err error, red *output.Redactor) *healPart {
	p := &healPart{Status: output.StatusOK, DryRun: dryRun, Result: res}
	if p.Replaced == nil {
		p.Replaced = []k8sheal.Replaced{}
	}
	if p.DeletedPods == nil {
		p.DeletedPods = []k8sheal.PodRef{}
	}
	if p.Failed == nil {
		p.Failed = []k8sheal.Failure{}
	}
	if err != nil {
		p.Status, p.Error = output.StatusFailed, red.Redact(err.Error())
	}
	return p
}

// finishHeal prints the report and the heal's result (a table and a
// summary, or one JSON document) and turns err into the exit code.
func (s *session) finishHeal(rep *output.Report, res k8sheal.Result, dryRun bool, err error) error {
	if rep == nil {
		rep = &output.Report{Action: k8sheal.Task, DryRun: dryRun, Status: output.StatusFailed,
			Hosts: s.hosts.Names(), Phases: []output.PhaseResult{}}
		if err != nil {
			rep.Error = err.Error()
		}
	}
	doc := newHealPart(res, dryRun, err, s.redactor)
	doc.Report = rep.Redacted(s.redactor)
	text := func() error {
		if len(rep.Phases) > 0 {
			return s.writeTable(rep)
		}
		return nil
	}
	if werr := s.emit(func(w io.Writer) error { return writeJSON(w, doc) }, text); werr != nil {
		return werr
	}
	if s.json {
		return s.exitError(err)
	}
	writeHealSummary(s.stdout, res, dryRun, s.redactor)
	return s.exitError(err)
}

// writeHealSummary prints what was replaced, deleted and failed.
func writeHealSummary(w io.Writer, res k8sheal.Result, dryRun bool, red *output.Redactor) {
	if res.Plan == nil {
		return
	}
	stuck := res.Plan.Stuck()
	fmt.Fprintln(w)
	switch {
	case len(stuck) == 0:
		fmt.Fprintf(w, "no stuck CronJob (%d CronJobs read on %s, stale factor %g)\n", len(res.Plan.Items), res.Host, res.Plan.Factor)
		return
	case dryRun:
		fmt.Fprintf(w, "dry run: %d stuck CronJobs would be replaced; nothing was changed\n", len(stuck))
		return
	}
	fmt.Fprintf(w, "replaced %d of %d stuck CronJobs (kubectl on %s):\n", len(res.Replaced), len(stuck), res.Host)
	for _, r := range res.Replaced {
		fmt.Fprintf(w, "  %s/%s  uid %s -> %s\n", r.Namespace, r.Name, r.OldUID, r.NewUID)
	}
	if len(res.DeletedPods) > 0 {
		fmt.Fprintf(w, "deleted %d stuck pods:\n", len(res.DeletedPods))
		for _, p := range res.DeletedPods {
			fmt.Fprintf(w, "  %s/%s (%s)\n", p.Namespace, p.Name, p.Status)
		}
	}
	if len(res.Failed) > 0 {
		fmt.Fprintf(w, "failed (%d):\n", len(res.Failed))
		for _, f := range res.Failed {
			fmt.Fprintf(w, "  %s %s/%s: %s\n", f.Kind, f.Namespace, f.Name, red.Redact(f.Error))
		}
	}
}

// restoreOutput is the -o json document of `etcd restore`: its report, as
// before, with k8s_heal beside it.
type restoreOutput struct {
	*output.Report
	// K8sHeal is the heal after the restore: status ok, failed (the
	// restore still succeeded: see status) or skipped.
	K8sHeal *healPart `json:"k8s_heal,omitempty"`
}

// healAfterRestore runs the heal as the last step of a successful restore,
// appends its phases to rep and returns its part of the output, and its
// error.
func (s *session) healAfterRestore(ctx context.Context, c *cli.Context, rep *output.Report, extra map[string]any) (*healPart, error) {
	if c.Bool(flagSkipK8sHeal) {
		p := newHealPart(k8sheal.Result{}, false, nil, s.redactor)
		p.Status, p.Note = output.StatusSkipped, "--"+flagSkipK8sHeal
		return p, nil
	}
	s.out.Printf("==> the restore succeeded; now Kubernetes: stuck CronJobs and pods (ncnpush k8s heal; --%s turns this off)", flagSkipK8sHeal)
	healRep, res, err := k8sheal.Run(ctx, k8sheal.Options{
		Env:         s.env(nil, nil, false),
		Vars:        extra,
		StaleFactor: c.Float64(flagStaleFactor),
	})
	if healRep != nil {
		appendHeal(rep, healRep)
	}
	if err != nil {
		err = fmt.Errorf("the etcd restore succeeded, but the Kubernetes heal after it failed: %w", err)
	}
	return newHealPart(res, false, err, s.redactor), err
}

// appendHeal appends the heal's phases to the restore's report, numbered
// after them and titled "Kubernetes: ...", and adds its duration. The
// restore's status and error are left as they are.
func appendHeal(rep, heal *output.Report) {
	for _, p := range heal.Phases {
		p.Index = len(rep.Phases) + 1
		p.Title = "Kubernetes: " + p.Title
		rep.Phases = append(rep.Phases, p)
	}
	rep.Duration += heal.Duration
}

// finishRestore prints the report of a successful restore and of the heal
// after it. The restore's status stays ok; a failed heal gives exit code
// exitHealFailed (130 if it was interrupted).
func (s *session) finishRestore(rep *output.Report, heal *healPart, healErr error) error {
	doc := restoreOutput{Report: rep.Redacted(s.redactor), K8sHeal: heal}
	err := s.emit(func(w io.Writer) error { return writeJSON(w, doc) }, func() error {
		if err := s.writeTable(rep); err != nil {
			return err
		}
		if heal != nil && heal.Status != output.StatusSkipped {
			writeHealSummary(s.stdout, heal.Result, false, s.redactor)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if healErr == nil {
		return nil
	}
	code := exitHealFailed
	if errors.Is(healErr, context.Canceled) {
		code = exitCancelled
	}
	return &exitError{code: code, err: &redactedError{err: oneLineError{healErr}, red: s.redactor}}
}

// oneLineError keeps an error's chain and prints it on one line.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e oneLineError) Unwrap() error { return e.err }

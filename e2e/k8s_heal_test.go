package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/shell"
)

// The lab suite of `ncnpush k8s heal` and of the heal at the end of `etcd
// restore`, against the lab's real kube-apiserver. The lab has no
// kube-controller-manager and no scheduler: no CronJob is ever scheduled by
// itself, every pod stays Pending unless its status is written, and nothing
// is garbage-collected, so what the tests see is exactly what heal did.

// hkKubectl runs kubectl as root on ncn-m001 (root's kubeconfig is the
// admin's, as on CSM).
func hkKubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return lab.SSH(t, "ncn-m001", "kubectl --request-timeout 20s "+shell.Join(args...))
}

func hkMust(t *testing.T, args ...string) string {
	t.Helper()
	out, err := hkKubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// hkCreate creates objs (in one kubectl create -f -, after the shell
// commands pre, if any) and returns name -> UID.
func hkCreate(t *testing.T, pre string, objs ...map[string]any) map[string]string {
	t.Helper()
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = o
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	cmd := "set -e; " + pre + "printf '%s' " + shell.Quote(string(b)) +
		` | kubectl --request-timeout 20s create -o jsonpath='{.metadata.name}={.metadata.uid}{"\n"}' -f -`
	out, err := lab.SSH(t, "ncn-m001", cmd)
	if err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, out)
	}
	uids := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			uids[k] = v
		}
	}
	if len(uids) != len(objs) {
		t.Fatalf("kubectl create made %d of %d objects:\n%s", len(uids), len(objs), out)
	}
	return uids
}

// hkStatus is the shell command that writes an object's status through the
// status subresource.
func hkStatus(ns, kind, name string, status map[string]any) string {
	b, _ := json.Marshal(map[string]any{"status": status})
	return "kubectl --request-timeout 20s -n " + shell.Join(ns, "patch", kind, name, "--subresource=status", "--type=merge", "-p", string(b)) + " >/dev/null; "
}

// hkUIDs returns name -> UID of every object of kind in ns.
func hkUIDs(t *testing.T, ns, kind string) map[string]string {
	t.Helper()
	out := hkMust(t, "-n", ns, "get", kind, "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}`)
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func hkOwner(kind, name, uid string) []any {
	api := "batch/v1"
	if kind == "Pod" {
		api = "v1"
	}
	return []any{map[string]any{"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}}
}

func hkPodSpec() map[string]any {
	return map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{"name": "main", "image": "registry.local/busybox:1.36",
		"command": []any{"true"}}}}
}

// hkCronJob is a CronJob shaped like CSM's after a restore: its job
// template carries the labels a Job's pod template gets (a stale
// controller-uid), which make every Job made from it invalid.
func hkCronJob(ns, name, schedule string, suspend bool) map[string]any {
	return map[string]any{"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app.kubernetes.io/name": name},
			"annotations": map[string]any{"ncnpush.test/note": "it's kept <as is> & whole"}},
		"spec": map[string]any{"schedule": schedule, "suspend": suspend, "concurrencyPolicy": "Forbid",
			"successfulJobsHistoryLimit": 1,
			"jobTemplate": map[string]any{"spec": map[string]any{"backoffLimit": 0,
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": name,
						"controller-uid":                     "00000000-0000-0000-0000-00000000dead",
						"batch.kubernetes.io/controller-uid": "00000000-0000-0000-0000-00000000dead"}},
					"spec": hkPodSpec()}}}}}
}

func hkJob(ns, name, cronName, cronUID string) map[string]any {
	return map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": name, "namespace": ns, "ownerReferences": hkOwner("CronJob", cronName, cronUID)},
		"spec":     map[string]any{"suspend": true, "template": map[string]any{"spec": hkPodSpec()}}}
}

func hkPod(ns, name, jobName, jobUID string) map[string]any {
	meta := map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"job-name": jobName}}
	if jobUID != "" {
		meta["ownerReferences"] = hkOwner("Job", jobName, jobUID)
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": hkPodSpec()}
}

// hkFixture is one test's namespace of CronJobs, Jobs and pods.
type hkFixture struct {
	ns       string
	cronUIDs map[string]string
	podUIDs  map[string]string
}

// newHKFixture creates, in a namespace of its own:
//
//	stuck-minutely  */1 * * * *, last ran 2h ago        -> stuck
//	stuck-daily     10 23 * * *, last ran 3 days ago    -> stuck
//	healthy         */10 * * * *, last ran a minute ago -> healthy
//	suspended       */1 * * * *, suspended, 2h ago      -> left alone
//	weekly-new      0 0 * * 1, never scheduled, new     -> healthy
//
// and Jobs owned by stuck-minutely, healthy and suspended, with pods: two
// stuck ones of stuck-minutely (Pending, and ContainerCreating), a Running
// one of stuck-minutely, a Pending one each of healthy and suspended, and a
// stray Pending pod with stuck-minutely's Job's labels but no owner.
func newHKFixture(t *testing.T, tag string) *hkFixture {
	t.Helper()
	// A known state: earlier tests restore etcd without --bump-revision,
	// which leaves every API server's watch cache ahead of etcd (see
	// TestKubeAfterRestoreServesTheBackup); a restart makes them read etcd
	// afresh, as the heal's own error tells an admin to do.
	hkAPIServers(t, "restart")
	f := &hkFixture{ns: tag + "-" + exRandHex(3), cronUIDs: map[string]string{}, podUIDs: map[string]string{}}
	t.Cleanup(func() {
		// No controller-manager: a namespace would stay Terminating, so
		// the objects are deleted one kind after another and the empty
		// namespace is left behind.
		hkKubectl(t, "-n", f.ns, "delete", "cronjobs,jobs,pods", "--all", "--wait=false")
	})
	now := time.Now().UTC()
	crons := []struct {
		name, schedule string
		suspend        bool
		last           time.Duration // 0: never scheduled
	}{
		{"stuck-minutely", "*/1 * * * *", false, 2 * time.Hour},
		{"stuck-daily", "10 23 * * *", false, 72 * time.Hour},
		{"healthy", "*/10 * * * *", false, time.Minute},
		{"suspended", "*/1 * * * *", true, 2 * time.Hour},
		{"weekly-new", "0 0 * * 1", false, 0},
	}
	var objs []map[string]any
	for _, c := range crons {
		objs = append(objs, hkCronJob(f.ns, c.name, c.schedule, c.suspend))
	}
	// No controller-manager makes the namespace's default ServiceAccount,
	// which pods need.
	f.cronUIDs = hkCreate(t, "kubectl create namespace "+f.ns+" >/dev/null; kubectl -n "+f.ns+" create serviceaccount default >/dev/null; ", objs...)
	status := ""
	for _, c := range crons {
		if c.last > 0 {
			status += hkStatus(f.ns, "cronjobs.batch", c.name, map[string]any{"lastScheduleTime": now.Add(-c.last).Format(time.RFC3339)})
		}
	}
	jobs := hkCreate(t, status,
		hkJob(f.ns, "stuck-minutely-29000000", "stuck-minutely", f.cronUIDs["stuck-minutely"]),
		hkJob(f.ns, "healthy-29000001", "healthy", f.cronUIDs["healthy"]),
		hkJob(f.ns, "suspended-29000002", "suspended", f.cronUIDs["suspended"]))
	objs = nil
	for _, p := range [][2]string{
		{"stuck-minutely-29000000-pend1", "stuck-minutely-29000000"},
		{"stuck-minutely-29000000-creat", "stuck-minutely-29000000"},
		{"stuck-minutely-29000000-run", "stuck-minutely-29000000"},
		{"healthy-29000001-pend", "healthy-29000001"},
		{"suspended-29000002-pend", "suspended-29000002"},
		{"stuck-minutely-stray", ""},
	} {
		objs = append(objs, hkPod(f.ns, p[0], p[1], jobs[p[1]]))
	}
	f.podUIDs = hkCreate(t, "", objs...)
	lab.MustSSH(t, "ncn-m001", "set -e; "+
		hkStatus(f.ns, "pods", "stuck-minutely-29000000-creat", map[string]any{"phase": "Pending",
			"containerStatuses": []any{map[string]any{"name": "main", "image": "registry.local/busybox:1.36", "imageID": "", "ready": false,
				"restartCount": 0, "state": map[string]any{"waiting": map[string]any{"reason": "ContainerCreating"}}}}})+
		hkStatus(f.ns, "pods", "stuck-minutely-29000000-run", map[string]any{"phase": "Running"}))
	return f
}

// hkOut is the -o json document of `k8s heal`.
type hkOut struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	DryRun bool   `json:"dry_run"`
	Host   string `json:"host"`
	Plan   *struct {
		Factor   float64 `json:"stale_factor"`
		CronJobs []struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			UID       string `json:"uid"`
			State     string `json:"state"`
			Action    string `json:"action"`
			Pods      []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"pods"`
		} `json:"cronjobs"`
	} `json:"plan"`
	Replaced []struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		OldUID    string `json:"old_uid"`
		NewUID    string `json:"new_uid"`
	} `json:"replaced"`
	DeletedPods []struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		UID       string `json:"uid"`
	} `json:"deleted_pods"`
	Failed []struct {
		Kind, Namespace, Name, Error string
	} `json:"failed"`
	Report *struct {
		Status string `json:"status"`
		Phases []struct {
			Title  string `json:"title"`
			Status string `json:"status"`
		} `json:"phases"`
	} `json:"report"`
}

func hkParse(t *testing.T, what string, r result) hkOut {
	t.Helper()
	var o hkOut
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("%s: stdout is not one JSON document: %v\nstdout:\n%s\nstderr:\n%s", what, err, r.stdout, r.stderr)
	}
	return o
}

func healArgs(extra ...string) []string {
	return append([]string{"k8s", "heal", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color"}, extra...)
}

// inNS returns the names of o's replaced CronJobs and deleted pods in ns.
func (o hkOut) inNS(ns string) (replaced, deleted []string) {
	for _, r := range o.Replaced {
		if r.Namespace == ns {
			replaced = append(replaced, r.Name)
		}
	}
	for _, p := range o.DeletedPods {
		if p.Namespace == ns {
			deleted = append(deleted, p.Name)
		}
	}
	slices.Sort(replaced)
	slices.Sort(deleted)
	return replaced, deleted
}

func TestK8sHealReplacesExactlyTheStuckCronJobs(t *testing.T) {
	f := newHKFixture(t, "heal")

	// The breakage is real: a Job made from a stuck CronJob's template is
	// refused by the API server (its stale controller-uid label does not
	// match the selector generated for the new Job).
	if out, err := hkKubectl(t, "-n", f.ns, "create", "job", "--from=cronjob/stuck-minutely", "probe-before"); err == nil {
		t.Fatalf("a Job from the stuck CronJob's template was accepted before the heal:\n%s", out)
	} else {
		t.Logf("before the heal, kubectl create job --from=cronjob/stuck-minutely: %s", strings.TrimSpace(out))
	}

	// --dry-run: reads, shows, changes nothing.
	r := runNcnpush(t, "", healArgs("--dry-run", "-o", "json")...)
	if r.code != 0 {
		t.Fatalf("heal --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	o := hkParse(t, "heal --dry-run", r)
	if !o.DryRun || o.Status != "ok" || len(o.Replaced) != 0 || len(o.DeletedPods) != 0 || o.Plan == nil || o.Plan.Factor != 2 {
		t.Errorf("dry run: %+v", o)
	}
	states := map[string]string{}
	var planned []string
	for _, c := range o.Plan.CronJobs {
		if c.Namespace != f.ns {
			continue
		}
		states[c.Name] = c.State
		for _, p := range c.Pods {
			planned = append(planned, p.Name+"="+p.Status)
		}
	}
	wantStates := map[string]string{"stuck-minutely": "stuck", "stuck-daily": "stuck", "healthy": "healthy",
		"suspended": "suspended", "weekly-new": "healthy"}
	if fmt.Sprint(states) != fmt.Sprint(wantStates) {
		t.Errorf("states %v, want %v", states, wantStates)
	}
	slices.Sort(planned)
	if want := []string{"stuck-minutely-29000000-creat=ContainerCreating", "stuck-minutely-29000000-pend1=Pending"}; !slices.Equal(planned, want) {
		t.Errorf("stuck pods planned %v, want %v", planned, want)
	}
	if !strings.Contains(r.stderr, "LAST SCHEDULE") || !strings.Contains(r.stderr, "none (suspended)") {
		t.Errorf("the table is not in the live output:\n%s", r.stderr)
	}
	if got := hkUIDs(t, f.ns, "cronjobs.batch"); fmt.Sprint(got) != fmt.Sprint(f.cronUIDs) {
		t.Errorf("dry run changed CronJobs: %v, was %v", got, f.cronUIDs)
	}
	if got := hkUIDs(t, f.ns, "pods"); fmt.Sprint(got) != fmt.Sprint(f.podUIDs) {
		t.Errorf("dry run changed pods: %v, was %v", got, f.podUIDs)
	}

	// The heal, in text: the table, then what was done.
	r = runNcnpush(t, "", healArgs()...)
	if r.code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if withoutRunLog(r.stderr) != "" {
		t.Errorf("heal wrote to stderr:\n%s", r.stderr)
	}
	for _, want := range []string{"NAMESPACE", "stuck-minutely", "replace, delete 2 stuck pods", "cronjob.batch/stuck-minutely replaced",
		"replaced 2 of", f.ns + "/stuck-daily"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the output lacks %q:\n%s", want, r.stdout)
		}
	}
	t.Logf("heal output:\n%s", r.stdout)
	cron := hkUIDs(t, f.ns, "cronjobs.batch")
	for name, old := range f.cronUIDs {
		stuck := name == "stuck-minutely" || name == "stuck-daily"
		switch {
		case cron[name] == "":
			t.Errorf("CronJob %s is gone", name)
		case stuck && cron[name] == old:
			t.Errorf("stuck CronJob %s kept its UID %s", name, old)
		case !stuck && cron[name] != old:
			t.Errorf("CronJob %s (%s) was touched: UID %s, was %s", name, wantStates[name], cron[name], old)
		}
	}
	pods := hkUIDs(t, f.ns, "pods")
	var left []string
	for name := range pods {
		left = append(left, name)
	}
	slices.Sort(left)
	if want := []string{"healthy-29000001-pend", "stuck-minutely-29000000-run", "stuck-minutely-stray", "suspended-29000002-pend"}; !slices.Equal(left, want) {
		t.Errorf("pods left %v, want %v", left, want)
	}

	// The new CronJob is the old one without what made it stuck: no
	// status, no stale controller-uid; everything else as it was.
	var cj struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Schedule    string `json:"schedule"`
			JobTemplate struct {
				Spec struct {
					Selector     any `json:"selector"`
					BackoffLimit int `json:"backoffLimit"`
					Template     struct {
						Metadata struct {
							Labels map[string]string `json:"labels"`
						} `json:"metadata"`
					} `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		} `json:"spec"`
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal([]byte(hkMust(t, "-n", f.ns, "get", "cronjob", "stuck-minutely", "-o", "json")), &cj); err != nil {
		t.Fatal(err)
	}
	jt := cj.Spec.JobTemplate.Spec
	if cj.Spec.Schedule != "*/1 * * * *" || jt.BackoffLimit != 0 || jt.Selector != nil || len(cj.Status) != 0 ||
		jt.Template.Metadata.Labels["controller-uid"] != "" || jt.Template.Metadata.Labels["batch.kubernetes.io/controller-uid"] != "" ||
		jt.Template.Metadata.Labels["app"] != "stuck-minutely" || cj.Metadata.Labels["app.kubernetes.io/name"] != "stuck-minutely" ||
		cj.Metadata.Annotations["ncnpush.test/note"] != "it's kept <as is> & whole" {
		t.Errorf("replaced CronJob: %+v", cj)
	}
	// And a Job made from it now gets a selector generated for its own UID.
	hkMust(t, "-n", f.ns, "create", "job", "--from=cronjob/stuck-minutely", "probe-after")
	var job struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(hkMust(t, "-n", f.ns, "get", "job", "probe-after", "-o", "json")), &job); err != nil {
		t.Fatal(err)
	}
	if got := job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]; got == "" || got != job.Metadata.UID {
		t.Errorf("the Job's selector %v is not generated for its UID %s", job.Spec.Selector.MatchLabels, job.Metadata.UID)
	}

	// A second heal, in JSON: nothing of this namespace is stuck any more.
	r = runNcnpush(t, "", healArgs("-o", "json")...)
	o = hkParse(t, "second heal", r)
	if r.code != 0 || o.Status != "ok" {
		t.Fatalf("second heal: exit %d: %+v\n%s", r.code, o, r.stderr)
	}
	if rep, del := o.inNS(f.ns); len(rep) != 0 || len(del) != 0 {
		t.Errorf("second heal replaced %v and deleted %v", rep, del)
	}
	if got := hkUIDs(t, f.ns, "cronjobs.batch"); fmt.Sprint(got) != fmt.Sprint(cron) {
		t.Errorf("second heal changed CronJobs: %v, was %v", got, cron)
	}
}

func TestK8sHealReportsInJSON(t *testing.T) {
	f := newHKFixture(t, "healjson")
	r := runNcnpush(t, "", healArgs("-o", "json")...)
	o := hkParse(t, "heal -o json", r)
	if r.code != 0 || o.Status != "ok" || o.Host == "" || o.Report == nil || o.Report.Status != "ok" || len(o.Report.Phases) != 4 {
		t.Fatalf("heal -o json: exit %d: %+v\n%s", r.code, o, r.stderr)
	}
	replaced, deleted := o.inNS(f.ns)
	if !slices.Equal(replaced, []string{"stuck-daily", "stuck-minutely"}) {
		t.Errorf("replaced %v", replaced)
	}
	if !slices.Equal(deleted, []string{"stuck-minutely-29000000-creat", "stuck-minutely-29000000-pend1"}) {
		t.Errorf("deleted %v", deleted)
	}
	now := hkUIDs(t, f.ns, "cronjobs.batch")
	for _, rep := range o.Replaced {
		if rep.Namespace == f.ns && (rep.OldUID != f.cronUIDs[rep.Name] || rep.NewUID != now[rep.Name] || rep.NewUID == rep.OldUID) {
			t.Errorf("replaced %+v: was %s, is %s", rep, f.cronUIDs[rep.Name], now[rep.Name])
		}
	}
	for _, p := range o.DeletedPods {
		if p.Namespace == f.ns && p.UID != f.podUIDs[p.Name] {
			t.Errorf("deleted pod %+v: its UID was %s", p, f.podUIDs[p.Name])
		}
	}
	if len(o.Failed) != 0 {
		t.Errorf("failed %+v", o.Failed)
	}
}

func TestK8sHealNoAPIServerIsOneClearError(t *testing.T) {
	f := newHKFixture(t, "healdead")
	// A kubeconfig whose server is a dead port, on every master.
	for _, n := range lab.Nodes {
		lab.MustSSH(t, n, `sed 's#^\( *server: \).*#\1https://127.0.0.1:1#' /etc/kubernetes/admin.conf >/etc/kubernetes/dead.conf`)
	}
	args := healArgs("-e", "kubeconfig=/etc/kubernetes/dead.conf", "-e", "api_timeout=0")
	r := runNcnpush(t, "", args...)
	msg := oneLineError(t, "heal with no API server", r)
	if r.code != 1 || !strings.Contains(msg, "no Kubernetes API server is reachable") || !strings.Contains(msg, "ncn-m001, ncn-m002, ncn-m003") {
		t.Errorf("exit %d, error %q", r.code, msg)
	}
	t.Logf("no API server: %s", strings.TrimSpace(msg))
	r = runNcnpush(t, "", append(args, "-o", "json")...)
	o := hkParse(t, "heal -o json with no API server", r)
	if r.code != 1 || o.Status != "failed" || !strings.Contains(o.Error, "no Kubernetes API server is reachable") || len(o.Replaced) != 0 {
		t.Errorf("exit %d: %+v", r.code, o)
	}
	if got := hkUIDs(t, f.ns, "cronjobs.batch"); fmt.Sprint(got) != fmt.Sprint(f.cronUIDs) {
		t.Errorf("CronJobs changed: %v, was %v", got, f.cronUIDs)
	}
}

// hkRestoreOut is the -o json document of `etcd restore`, with k8s_heal.
type hkRestoreOut struct {
	Action string `json:"action"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Phases []struct {
		Title  string `json:"title"`
		Status string `json:"status"`
	} `json:"phases"`
	K8sHeal *hkOut `json:"k8s_heal"`
}

func hkAPIServers(t *testing.T, action string) {
	t.Helper()
	for _, n := range lab.Nodes {
		lab.MustSSH(t, n, "systemctl "+action+" kube-apiserver")
	}
	if action != "stop" {
		deadline := time.Now().Add(90 * time.Second)
		for {
			if out, err := hkKubectl(t, "get", "--raw", "/readyz"); err == nil && strings.TrimSpace(out) == "ok" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("kube-apiserver not ready 90s after start")
			}
			time.Sleep(time.Second)
		}
	}
}

func TestK8sHealRunsAfterEtcdRestore(t *testing.T) {
	f := newHKFixture(t, "healrestore")
	name := csmBackup(t)

	// The restore brings the stuck CronJobs back from the backup, and its
	// last step heals them.
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "-o", "json")...)
	var o hkRestoreOut
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("restore: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != 0 || o.Status != "ok" || o.K8sHeal == nil || o.K8sHeal.Status != "ok" {
		t.Fatalf("restore + heal: exit %d: status %s %s, k8s_heal %+v\n%s", r.code, o.Status, o.Error, o.K8sHeal, r.stderr)
	}
	last := o.Phases[len(o.Phases)-1]
	if !strings.HasPrefix(last.Title, "Kubernetes: ") || last.Status != "ok" {
		t.Errorf("the restore's last phase is %+v", last)
	}
	if replaced, deleted := o.K8sHeal.inNS(f.ns); !slices.Equal(replaced, []string{"stuck-daily", "stuck-minutely"}) ||
		!slices.Equal(deleted, []string{"stuck-minutely-29000000-creat", "stuck-minutely-29000000-pend1"}) {
		t.Errorf("the heal after the restore replaced %v and deleted %v", replaced, deleted)
	}

	// With no API server, the restore is still reported as succeeded: exit
	// 3, status ok, k8s_heal failed with one clear error.
	hkAPIServers(t, "stop")
	t.Cleanup(func() { hkAPIServers(t, "start") })
	r = runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "-e", "api_timeout=5", "-o", "json")...)
	o = hkRestoreOut{}
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("restore with no API server: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != 3 || o.Status != "ok" || o.K8sHeal == nil || o.K8sHeal.Status != "failed" ||
		!strings.Contains(o.K8sHeal.Error, "no Kubernetes API server is reachable") {
		t.Fatalf("restore with no API server: exit %d, status %s, k8s_heal %+v", r.code, o.Status, o.K8sHeal)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if l := lines[len(lines)-1]; !strings.HasPrefix(l, "ncnpush: the etcd restore succeeded, but the Kubernetes heal after it failed: ") ||
		!strings.Contains(l, "no Kubernetes API server is reachable") {
		t.Errorf("last stderr line %q", l)
	}
	t.Logf("restore with no API server: exit %d, %s", r.code, lines[len(lines)-1])

	// --skip-k8s-heal: no heal, exit 0 with the API servers still stopped.
	r = runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "-e", "api_timeout=0", "--skip-k8s-heal")...)
	if r.code != 0 || strings.Contains(r.stdout, "Kubernetes: ") {
		t.Errorf("--skip-k8s-heal: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A restore without --bump-revision takes etcd's revision back below
	// what every API server has cached: heal refuses to decide on the
	// cache, says what to do, and the restore is still reported succeeded.
	hkAPIServers(t, "start")
	r = runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "-o", "json")...)
	t.Cleanup(func() { hkAPIServers(t, "restart") })
	o = hkRestoreOut{}
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("restore without --bump-revision: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != 3 || o.Status != "ok" || o.K8sHeal == nil || o.K8sHeal.Status != "failed" ||
		!strings.Contains(o.K8sHeal.Error, "serves what it cached before the etcd restore") ||
		!strings.Contains(o.K8sHeal.Error, "restart kube-apiserver on every master") {
		t.Fatalf("restore without --bump-revision: exit %d, status %s, k8s_heal %+v", r.code, o.Status, o.K8sHeal)
	}
	t.Logf("restore without --bump-revision: %s", o.K8sHeal.Error)
}

package k8sheal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/templates"
)

// fakeCluster is what the fake kubectl (testdata/fake-kubectl.sh) serves.
type fakeCluster struct {
	dir  string
	bin  string
	now  time.Time
	conf string
	pki  string
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	f := &fakeCluster{dir: t.TempDir(), bin: t.TempDir(), now: ts("2026-12-01T12:00:00Z"), conf: "/etc/kubernetes/admin.conf"}
	self, err := filepath.Abs("testdata/fake-kubectl.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(f.bin, "kubectl")); err != nil {
		t.Fatal(err)
	}
	etcdctl, err := filepath.Abs("testdata/fake-etcdctl.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(etcdctl, filepath.Join(f.bin, "etcdctl")); err != nil {
		t.Fatal(err)
	}
	// The etcd PKI the template looks for before it runs etcdctl.
	f.pki = t.TempDir()
	if err := os.WriteFile(filepath.Join(f.pki, "ca.crt"), []byte("fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.touch(t, "etcd-rev", "5000")
	f.touch(t, "list-rv", "4990")
	return f
}

func (f *fakeCluster) write(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeCluster) touch(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeCluster) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func kList(items ...map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
}

func owner(kind, name, uid string) []any {
	api := "batch/v1"
	return []any{map[string]any{"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}}
}

func cronJobObj(name, uid, schedule string, last time.Time, suspend bool) map[string]any {
	st := map[string]any{}
	if !last.IsZero() {
		st["lastScheduleTime"] = last.Format(time.RFC3339)
	}
	return map[string]any{
		"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": name, "namespace": "services", "uid": uid, "resourceVersion": "4242",
			"creationTimestamp": "2026-11-01T00:00:00Z", "generation": 1,
			"managedFields": []any{map[string]any{"manager": "kubectl"}}},
		"spec": map[string]any{"schedule": schedule, "suspend": suspend, "concurrencyPolicy": "Forbid",
			"jobTemplate": map[string]any{"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"controller-uid": "stale-" + uid}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": name, "controller-uid": "stale-" + uid}},
					"spec": map[string]any{"restartPolicy": "Never",
						"containers": []any{map[string]any{"name": "c", "image": "busybox"}}}}}}},
		"status": st,
	}
}

func jobObj(name, uid, cronName, cronUID string) map[string]any {
	return map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": name, "namespace": "services", "uid": uid, "ownerReferences": owner("CronJob", cronName, cronUID)}}
}

func podObj(name, uid, jobName, jobUID, phase, waiting string) map[string]any {
	st := map[string]any{"phase": phase}
	if waiting != "" {
		st["containerStatuses"] = []any{map[string]any{"name": "c", "ready": false,
			"state": map[string]any{"waiting": map[string]any{"reason": waiting}}}}
	}
	m := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "services", "uid": uid}, "status": st}
	if jobUID != "" {
		m["metadata"].(map[string]any)["ownerReferences"] = owner("Job", jobName, jobUID)
	}
	return m
}

// setup writes a cluster with: sonar-sync (*/1, stuck, 2 stuck pods and a
// Running and a Succeeded one), hms-discovery (*/3, stuck, no pods),
// kube-etcdbackup (*/10, healthy, a Pending pod), old-suspended (suspended,
// a Pending pod), and a stray Pending pod with sonar-sync's labels but no
// owner.
func (f *fakeCluster) setup(t *testing.T) {
	t.Helper()
	long := f.now.Add(-18 * time.Minute)
	f.write(t, "cronjobs.json", kList(
		cronJobObj("sonar-sync", "uid-sonar", "*/1 * * * *", long, false),
		cronJobObj("hms-discovery", "uid-hms", "*/3 * * * *", f.now.Add(-20*time.Minute), false),
		cronJobObj("kube-etcdbackup", "uid-backup", "*/10 * * * *", f.now.Add(-5*time.Minute), false),
		cronJobObj("old-suspended", "uid-susp", "*/1 * * * *", f.now.Add(-48*time.Hour), true),
	))
	f.write(t, "jobs.json", kList(
		jobObj("sonar-sync-27758660", "uid-job-sonar", "sonar-sync", "uid-sonar"),
		jobObj("kube-etcdbackup-27758661", "uid-job-backup", "kube-etcdbackup", "uid-backup"),
		jobObj("old-suspended-1", "uid-job-susp", "old-suspended", "uid-susp"),
	))
	stray := podObj("sonar-sync-stray", "uid-pod-stray", "", "", "Pending", "")
	stray["metadata"].(map[string]any)["labels"] = map[string]any{"controller-uid": "uid-job-sonar", "job-name": "sonar-sync-27758660"}
	pods := []map[string]any{
		podObj("sonar-sync-27758660-75qxb", "uid-pod-1", "sonar-sync-27758660", "uid-job-sonar", "Pending", "ContainerCreating"),
		podObj("sonar-sync-27758660-abcde", "uid-pod-2", "sonar-sync-27758660", "uid-job-sonar", "Pending", ""),
		podObj("sonar-sync-27758660-run", "uid-pod-3", "sonar-sync-27758660", "uid-job-sonar", "Running", ""),
		podObj("sonar-sync-27758660-done", "uid-pod-4", "sonar-sync-27758660", "uid-job-sonar", "Succeeded", ""),
		podObj("kube-etcdbackup-27758661-x", "uid-pod-5", "kube-etcdbackup-27758661", "uid-job-backup", "Pending", "ContainerCreating"),
		podObj("old-suspended-1-y", "uid-pod-6", "old-suspended-1", "uid-job-susp", "Pending", ""),
		stray,
	}
	f.write(t, "pods.json", kList(pods...))
	f.write(t, "pods-after.json", kList(pods[2:]...))
	after := kList(
		cronJobObj("sonar-sync", "new-sonar-sync", "*/1 * * * *", time.Time{}, false),
		cronJobObj("hms-discovery", "new-hms-discovery", "*/3 * * * *", time.Time{}, false),
		cronJobObj("kube-etcdbackup", "uid-backup", "*/10 * * * *", f.now.Add(-5*time.Minute), false),
		cronJobObj("old-suspended", "uid-susp", "*/1 * * * *", f.now.Add(-48*time.Hour), true),
	)
	for _, it := range after["items"].([]map[string]any)[:2] {
		it["metadata"].(map[string]any)["creationTimestamp"] = f.now.Format(time.RFC3339)
	}
	f.write(t, "cronjobs-after.json", after)
	for name, uid := range map[string]string{"sonar-sync": "uid-sonar", "hms-discovery": "uid-hms", "kube-etcdbackup": "uid-backup", "old-suspended": "uid-susp"} {
		f.touch(t, "uid-services-"+name, uid)
	}
}

func (f *fakeCluster) env(t *testing.T, names ...string) *phases.Env {
	t.Helper()
	set, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	hs := hoststest.Hosts(names)
	for _, h := range hs {
		h.Conn.(*hoststest.Conn).Env = []string{"PATH=" + f.bin + ":" + os.Getenv("PATH"), "FAKE_DIR=" + f.dir, "FAKE_KUBECONFIG=" + f.conf}
	}
	return &phases.Env{Hosts: hs, Selector: hoststest.Selector{Hosts: hs}, Templates: set}
}

func (f *fakeCluster) run(t *testing.T, env *phases.Env, dryRun bool, vars map[string]any) (*output.Report, Result, error) {
	t.Helper()
	all := map[string]any{"pki_dir": f.pki}
	for k, v := range vars {
		all[k] = v
	}
	return Run(context.Background(), Options{Env: env, DryRun: dryRun, Vars: all, Now: func() time.Time { return f.now },
		RetryInterval: 10 * time.Millisecond})
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestRunReplacesExactlyTheStuck(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	rep, res, err := f.run(t, f.env(t, "ncn-m001", "ncn-m002"), false, nil)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep)
	}
	if res.Host != "ncn-m001" {
		t.Errorf("kubectl ran on %q", res.Host)
	}
	var states []string
	for _, it := range res.Plan.Items {
		states = append(states, it.Name+"="+string(it.State))
	}
	if want := "hms-discovery=stuck kube-etcdbackup=healthy old-suspended=suspended sonar-sync=stuck"; strings.Join(states, " ") != want {
		t.Errorf("states %s, want %s", strings.Join(states, " "), want)
	}
	want := []Replaced{{"services", "hms-discovery", "uid-hms", "new-hms-discovery"}, {"services", "sonar-sync", "uid-sonar", "new-sonar-sync"}}
	if !slices.Equal(res.Replaced, want) {
		t.Errorf("replaced %+v, want %+v", res.Replaced, want)
	}
	var deleted []string
	for _, p := range res.DeletedPods {
		deleted = append(deleted, p.Name+":"+p.Status)
	}
	if got := strings.Join(deleted, " "); got != "sonar-sync-27758660-75qxb:ContainerCreating sonar-sync-27758660-abcde:Pending" {
		t.Errorf("deleted %s", got)
	}
	if len(res.Failed) != 0 {
		t.Errorf("failed %+v", res.Failed)
	}
	calls := f.calls(t)
	if n := count(calls, "replace --force"); n != 2 {
		t.Errorf("%d replace calls: %q", n, calls)
	}
	if n := count(calls, "replace --dry-run=server"); n != 2 {
		t.Errorf("%d server-side dry runs", n)
	}
	if n := count(calls, "-n services delete pods"); n != 1 {
		t.Errorf("%d delete calls: %q", n, calls)
	}
	for _, c := range calls {
		if strings.Contains(c, "delete") && (strings.Contains(c, "-run") || strings.Contains(c, "-done") ||
			strings.Contains(c, "stray") || strings.Contains(c, "etcdbackup") || strings.Contains(c, "suspended")) {
			t.Errorf("deleted a pod heal must leave alone: %s", c)
		}
	}
	// The manifest that reached kubectl replace: the transform's.
	b, err := os.ReadFile(filepath.Join(f.dir, "manifest-services-sonar-sync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v: %s", err, b)
	}
	meta := m["metadata"].(map[string]any)
	js := path(m, "spec", "jobTemplate", "spec")
	if _, ok := m["status"]; ok || meta["uid"] != nil || meta["resourceVersion"] != nil || js["selector"] != nil ||
		path(js, "template", "metadata", "labels")["controller-uid"] != nil || path(js, "template", "metadata", "labels")["app"] != "sonar-sync" {
		t.Errorf("manifest not transformed: %s", b)
	}
	// Every phase ran, on ncn-m001; the report says what was done.
	if len(rep.Phases) != 4 || rep.Status != output.StatusOK {
		t.Fatalf("report %+v", rep)
	}
	for _, p := range rep.Phases {
		if p.Status != output.StatusOK {
			t.Errorf("phase %q: %s %s", p.Title, p.Status, p.Note)
		}
	}
	if n := rep.Phases[2].Hosts[0].Note; n != "replaced 2 of 2 stuck CronJobs, deleted 2 stuck pods" {
		t.Errorf("repair note %q", n)
	}

	// A second run finds nothing stuck and changes nothing.
	before := len(f.calls(t))
	rep, res, err = f.run(t, f.env(t, "ncn-m001"), false, nil)
	if err != nil || len(res.Replaced) != 0 || len(res.Plan.Stuck()) != 0 {
		t.Fatalf("second run: %v, %+v", err, res)
	}
	if rep.Phases[2].Status != output.StatusSkipped || count(f.calls(t)[before:], "replace") != 0 {
		t.Errorf("second run changed something: %+v", rep.Phases[2])
	}
}

func TestRunDryRunChangesNothing(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	var buf strings.Builder
	env := f.env(t, "ncn-m001")
	env.Out = output.NewPrinter(&buf, output.PrinterOptions{})
	rep, res, err := f.run(t, env, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Stuck()) != 2 || len(res.Replaced) != 0 || len(res.DeletedPods) != 0 {
		t.Errorf("result %+v", res)
	}
	for _, c := range f.calls(t) {
		if !strings.HasPrefix(c, "get ") {
			t.Errorf("dry run called kubectl %s", c)
		}
	}
	if rep.Phases[2].Status != output.StatusDryRun || rep.Phases[3].Status == output.StatusOK {
		t.Errorf("phases %+v", rep.Phases)
	}
	out := buf.String()
	for _, want := range []string{"NAMESPACE", "LAST SCHEDULE", "sonar-sync", "*/1 * * * *", "replace, delete 2 stuck pods",
		"none (suspended)", "delete pod services/sonar-sync-27758660-75qxb (ContainerCreating"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

func TestRunNoAPIServer(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	f.touch(t, "down", "")
	rep, _, err := f.run(t, f.env(t, "ncn-m001", "ncn-m002", "ncn-m003"), false, map[string]any{"api_timeout": "0"})
	if !errors.Is(err, ErrNoAPIServer) {
		t.Fatalf("err = %v, want ErrNoAPIServer", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "ncn-m001, ncn-m002, ncn-m003") || !strings.Contains(msg, "refused") ||
		strings.Count(msg, ErrNoAPIServer.Error()) != 1 {
		t.Errorf("error is not one clear line: %q", msg)
	}
	if rep.Phases[0].Status != output.StatusFailed || rep.Phases[2].Status != output.StatusSkipped {
		t.Errorf("phases %+v", rep.Phases)
	}
	for _, c := range f.calls(t) {
		if !strings.HasPrefix(c, "get --raw") {
			t.Errorf("called %s with no API server", c)
		}
	}
	if n := len(f.calls(t)); n != 3 {
		t.Errorf("%d calls, want one per master", n)
	}
}

func TestRunWaitsForTheAPIServer(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	f.touch(t, "down", "")
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.Remove(filepath.Join(f.dir, "down"))
	}()
	_, res, err := f.run(t, f.env(t, "ncn-m001"), true, map[string]any{"api_timeout": "30"})
	if err != nil || res.Plan == nil {
		t.Fatalf("%v", err)
	}
}

func TestRunRefusedManifestLeavesPods(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	f.touch(t, "refuse", "")
	_, res, err := f.run(t, f.env(t, "ncn-m001"), false, nil)
	if !errors.Is(err, ErrRepair) {
		t.Fatalf("err = %v, want ErrRepair", err)
	}
	if len(res.Replaced) != 0 || len(res.DeletedPods) != 0 || len(res.Failed) != 2 {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Failed[0].Error, "server-side dry run, nothing changed") {
		t.Errorf("failure %q", res.Failed[0].Error)
	}
	for _, c := range f.calls(t) {
		if strings.HasPrefix(c, "replace --force") || strings.Contains(c, "delete") {
			t.Errorf("called %s after the server refused the manifest", c)
		}
	}
}

func TestRunChangedUIDIsNotReplaced(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	f.touch(t, "uid-services-sonar-sync", "someone-else-recreated-it")
	_, res, err := f.run(t, f.env(t, "ncn-m001"), false, nil)
	if !errors.Is(err, ErrRepair) || len(res.Failed) != 1 || res.Failed[0].Name != "sonar-sync" ||
		!strings.Contains(res.Failed[0].Error, "changed since it was read") {
		t.Fatalf("%v, %+v", err, res.Failed)
	}
	if len(res.Replaced) != 1 || res.Replaced[0].Name != "hms-discovery" {
		t.Errorf("replaced %+v", res.Replaced)
	}
}

func TestRunSkipsUnconnectedMaster(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	env := f.env(t, "ncn-m001", "ncn-m002")
	env.Hosts[0].Conn = nil
	_, res, err := f.run(t, env, true, nil)
	if err != nil || res.Host != "ncn-m002" {
		t.Fatalf("%v, host %q", err, res.Host)
	}
	env.Hosts[1].Conn = nil
	if _, _, err := f.run(t, env, true, nil); !errors.Is(err, ErrNoMaster) {
		t.Errorf("err = %v, want ErrNoMaster", err)
	}
	_ = hosts.ErrNotConnected
	_ = fmt.Sprint
}

// After a restore without --bump-revision, the API server lists from a
// watch cache ahead of etcd: heal refuses to decide on it, at once, with
// what to do.
func TestRunRefusesAStaleWatchCache(t *testing.T) {
	f := newFakeCluster(t)
	f.setup(t)
	f.touch(t, "list-rv", "5200")
	start := time.Now()
	_, res, err := f.run(t, f.env(t, "ncn-m001"), false, nil)
	if !errors.Is(err, ErrStaleAPIServer) || res.Plan != nil {
		t.Fatalf("err = %v, plan %v; want ErrStaleAPIServer and no plan", err, res.Plan)
	}
	if msg := err.Error(); !strings.Contains(msg, "resourceVersion 5200, etcd is at revision 5000") || !strings.Contains(msg, "restart kube-apiserver") {
		t.Errorf("error %q", msg)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s: a stale cache must not be waited for", d)
	}
	for _, c := range f.calls(t) {
		if strings.HasPrefix(c, "replace") || strings.Contains(c, "delete") {
			t.Errorf("called %s on a stale cache", c)
		}
	}
	// Without the etcd PKI (so no etcdctl read) there is nothing to
	// compare with: heal goes on.
	if err := os.Remove(filepath.Join(f.pki, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	if _, res, err := f.run(t, f.env(t, "ncn-m001"), true, nil); err != nil || len(res.Plan.Stuck()) != 2 {
		t.Errorf("without etcd's revision: %v", err)
	}
}

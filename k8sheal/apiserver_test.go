package k8sheal

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestForReplaceOnACronJobFromTheAPIServer runs the transform on a CronJob
// as a real kube-apiserver (v1.34.2, the lab's) returned it with `kubectl
// get cronjob -o json` (kubectl leaves managedFields out): identity and
// status go, and every other field (the last-applied-configuration
// annotation with its newline, the defaulted pod template fields) stays
// exactly as it came.
//
// cronjob-stale-label-from-apiserver.json is a CSM-shaped kube-etcdbackup
// whose job template carries a stale controller-uid label, created through
// the same API server (which accepts it) and read back: the label goes, the
// rest stays.
func TestForReplaceOnACronJobFromTheAPIServer(t *testing.T) {
	for _, f := range []string{"cronjob-from-apiserver.json", "cronjob-stale-label-from-apiserver.json"} {
		t.Run(f, func(t *testing.T) { testForReplaceOnFile(t, "testdata/"+f) })
	}
}

func testForReplaceOnFile(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	orig := decode(t, raw)
	meta := orig["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp"} {
		if meta[k] == nil {
			t.Fatalf("%s has no metadata.%s: not an object from an API server", file, k)
		}
	}
	out, err := ForReplace(raw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(out, "\n") {
		t.Errorf("the manifest is not one line")
	}
	got := decode(t, out)
	want := wantReplaced(decode(t, raw))
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("transform:\n--- got\n%s\n--- want\n%s", g, w)
	}
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields"} {
		if _, ok := got["metadata"].(map[string]any)[k]; ok {
			t.Errorf("metadata.%s kept", k)
		}
	}
	if _, ok := got["status"]; ok {
		t.Error("status kept")
	}
	if l := path(got, "spec", "jobTemplate", "spec", "template", "metadata", "labels"); l["controller-uid"] != nil || l["batch.kubernetes.io/controller-uid"] != nil {
		t.Errorf("controller-uid label kept: %v", l)
	}
	if got["apiVersion"] != "batch/v1" || got["kind"] != "CronJob" {
		t.Errorf("apiVersion %v kind %v", got["apiVersion"], got["kind"])
	}
	// The same object as an item of `kubectl get cronjobs -A -o json`
	// decodes, and its raw JSON is what ForReplace is given.
	list := []byte(`{"apiVersion":"v1","kind":"List","items":[` + string(raw) + `],"metadata":{"resourceVersion":""}}`)
	l, err := ParseGet([]byte(`{"cronjobs":` + string(list) + `,"jobs":{"kind":"List","items":[]},"pods":{"kind":"List","items":[]}}`))
	if err != nil || len(l.CronJobs) != 1 {
		t.Fatalf("ParseGet: %v", err)
	}
	cj := l.CronJobs[0]
	if cj.Metadata.UID != meta["uid"] || cj.Spec.Schedule == "" || cj.Metadata.CreationTimestamp.IsZero() {
		t.Errorf("decoded %+v", cj.Metadata)
	}
	if again, err := ForReplace(cj.Raw); err != nil || !bytes.Equal(again, out) {
		t.Errorf("ForReplace of the list item differs: %v", err)
	}
}

// TestPlanOnObjectsFromTheAPIServer decides on the real CronJob, its Job
// and its ContainerCreating pod: stuck once its last schedule is old, the
// pod found through the two ownerReferences.
func TestPlanOnObjectsFromTheAPIServer(t *testing.T) {
	read := func(name string) json.RawMessage {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	doc := `{"cronjobs":{"kind":"List","items":[` + string(read("cronjob-from-apiserver.json")) + `]},` +
		`"jobs":{"kind":"List","items":[` + string(read("job-from-apiserver.json")) + `]},` +
		`"pods":{"kind":"List","items":[` + string(read("pod-from-apiserver.json")) + `]}}`
	l, err := ParseGet([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	last := *l.CronJobs[0].Status.LastScheduleTime
	for _, tc := range []struct {
		after time.Duration
		state State
		pods  int
	}{
		{19 * time.Minute, Healthy, 0},
		{20*time.Minute + time.Second, Stuck, 1},
	} {
		p, err := NewPlan(l, last.Add(tc.after), DefaultStaleFactor)
		if err != nil {
			t.Fatal(err)
		}
		it := p.Items[0]
		if it.State != tc.state || len(it.Pods) != tc.pods || it.Staleness.Interval != 10*time.Minute {
			t.Errorf("%s after the last schedule: %s, %d pods, interval %s", tc.after, it.State, len(it.Pods), it.Staleness.Interval)
		}
		if tc.pods > 0 && (it.Pods[0].Status != "ContainerCreating" || it.Pods[0].Phase != PodPending || it.Pods[0].Job != l.Jobs[0].Metadata.Name) {
			t.Errorf("pod %+v", it.Pods[0])
		}
	}
}

package k8sheal

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// wantReplaced is obj with exactly what ForReplace documents removed,
// computed independently of it.
func wantReplaced(obj map[string]any) map[string]any {
	meta := obj["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
		"deletionTimestamp", "deletionGracePeriodSeconds"} {
		delete(meta, k)
	}
	delete(obj, "status")
	spec := obj["spec"].(map[string]any)
	delete(spec, "selector")
	if tmpl, ok := spec["template"].(map[string]any); ok {
		if md, ok := tmpl["metadata"].(map[string]any); ok {
			if l, ok := md["labels"].(map[string]any); ok {
				delete(l, "controller-uid")
			}
		}
	}
	js := spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)
	if m, _ := js["manualSelector"].(bool); !m {
		delete(js, "selector")
		if md, ok := js["template"].(map[string]any)["metadata"].(map[string]any); ok {
			if l, ok := md["labels"].(map[string]any); ok {
				delete(l, "controller-uid")
				delete(l, "batch.kubernetes.io/controller-uid")
			}
		}
	}
	return obj
}

func TestForReplaceRunbookAndCronJobPaths(t *testing.T) {
	raw := []byte(`{
  "apiVersion": "batch/v1", "kind": "CronJob",
  "metadata": {"name": "kube-etcdbackup", "namespace": "kube-system", "uid": "u1", "resourceVersion": "99",
    "generation": 3, "creationTimestamp": "2024-05-01T10:00:00Z", "managedFields": [{"manager": "helm"}],
    "labels": {"app": "kube-etcdbackup"}, "annotations": {"meta.helm.sh/release-name": "cray-etcd-backup", "x": "<&>"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "ou"}], "finalizers": ["f"]},
  "spec": {
    "schedule": "*/10 * * * *", "startingDeadlineSeconds": 200, "successfulJobsHistoryLimit": 1,
    "selector": {"matchLabels": {"controller-uid": "old"}},
    "template": {"metadata": {"labels": {"controller-uid": "old", "keep": "yes"}}},
    "jobTemplate": {"spec": {
      "selector": {"matchLabels": {"controller-uid": "old"}},
      "backoffLimit": 9007199254740993,
      "template": {"metadata": {"labels": {"controller-uid": "old", "batch.kubernetes.io/controller-uid": "old",
        "job-name": "kube-etcdbackup-1", "app": "kube-etcdbackup"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "env": [{"name": "N", "value": "it's"}]}]}}}}},
  "status": {"lastScheduleTime": "2024-05-01T10:10:00Z", "active": [{"name": "j"}]}
}`)
	out, err := ForReplace(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, out)
	if want := wantReplaced(decode(t, raw)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %s", out)
	}
	s := string(out)
	for _, gone := range []string{`"uid":"u1"`, `"resourceVersion"`, `"managedFields"`, `"generation"`, `"status"`, `"old"`, `"creationTimestamp"`} {
		if strings.Contains(s, gone) {
			t.Errorf("%s kept: %s", gone, s)
		}
	}
	for _, kept := range []string{`"keep":"yes"`, `"job-name":"kube-etcdbackup-1"`, `"x":"<&>"`, `9007199254740993`, `"finalizers":["f"]`,
		`"ownerReferences"`, `"startingDeadlineSeconds":200`, `"value":"it's"`} {
		if !strings.Contains(s, kept) {
			t.Errorf("%s lost: %s", kept, s)
		}
	}

	// With manualSelector the owner chose the selector and labels: kept.
	manual := strings.Replace(string(raw), `"backoffLimit"`, `"manualSelector": true, "backoffLimit"`, 1)
	out, err = ForReplace([]byte(manual))
	if err != nil {
		t.Fatal(err)
	}
	js := path(decode(t, out), "spec", "jobTemplate", "spec")
	if js["selector"] == nil || path(js, "template", "metadata", "labels")["controller-uid"] != "old" {
		t.Errorf("manualSelector: selector or labels dropped: %s", out)
	}
}

func TestForReplaceRefuses(t *testing.T) {
	for _, raw := range []string{``, `[]`, `null`, `{"kind":"Job","metadata":{"name":"x"}}`, `{"kind":"CronJob","metadata":{}}`, `{"kind":`} {
		if _, err := ForReplace([]byte(raw)); !errors.Is(err, ErrTransform) {
			t.Errorf("ForReplace(%q) = %v, want ErrTransform", raw, err)
		}
	}
}

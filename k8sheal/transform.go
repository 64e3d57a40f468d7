package k8sheal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrTransform is matched (errors.Is) when a CronJob's JSON cannot be turned
// into the manifest that replaces it.
var ErrTransform = errors.New("cannot build the replacement CronJob")

// The labels the Job controller puts on a Job's pod template, holding the
// Job's UID (the legacy name and the batch.kubernetes.io one).
var controllerUIDLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid"}

// ForReplace turns a CronJob as the API server returned it (one item of
// `kubectl get cronjobs -o json`) into the manifest `kubectl replace --force
// -f -` recreates it from: CSM's runbook transform, done in Go.
//
// The object is kept as a map, so that every field heal does not know of
// survives as it came. Removed:
//
//   - .spec.selector and .spec.template.metadata.labels["controller-uid"]:
//     the runbook's own paths (`jq 'del(.spec.selector)' | jq
//     'del(.spec.template.metadata.labels."controller-uid")'`). A CronJob has
//     neither (they are a Job's), so on a real CronJob they are no-ops; they
//     are applied anyway, for an object shaped like the runbook expects.
//   - .spec.jobTemplate.spec.selector and the controller-uid and
//     batch.kubernetes.io/controller-uid labels of
//     .spec.jobTemplate.spec.template.metadata: where a CronJob really holds
//     them (a job template copied from a Job). A Job made from such a
//     template gets a selector generated for its own UID that the stale
//     label no longer matches, and the API server refuses it. Unless
//     .spec.jobTemplate.spec.manualSelector is true: then the selector and
//     labels are the owner's choice, required as they are, and kept.
//   - metadata.uid, resourceVersion, creationTimestamp, generation,
//     managedFields, selfLink, deletionTimestamp, deletionGracePeriodSeconds,
//     and status: --force deletes the CronJob and creates it anew, and a
//     create must not carry the old object's identity (the API server
//     refuses a resourceVersion on create) or its status (the
//     lastScheduleTime that made it stuck). The new object gets a new UID,
//     and an empty status the controller fills in.
//
// Labels, annotations (kubectl.kubernetes.io/last-applied-configuration,
// Helm's), ownerReferences and finalizers are kept. The result is compact
// JSON (no newline).
func ForReplace(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep every number exactly as it came
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransform, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrTransform)
	}
	if k, _ := obj["kind"].(string); k != "" && k != "CronJob" {
		return nil, fmt.Errorf("%w: kind %q is not CronJob", ErrTransform, k)
	}
	if v, _ := obj["apiVersion"].(string); v == "" {
		obj["apiVersion"] = "batch/v1"
	}
	obj["kind"] = "CronJob"
	meta, _ := obj["metadata"].(map[string]any)
	if name, _ := meta["name"].(string); name == "" {
		return nil, fmt.Errorf("%w: no metadata.name", ErrTransform)
	}
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		delete(meta, k)
	}
	delete(obj, "status")

	// The runbook's paths.
	spec, _ := obj["spec"].(map[string]any)
	delete(spec, "selector")
	deleteLabels(path(spec, "template", "metadata", "labels"), "controller-uid")

	// Where a CronJob holds them.
	jobSpec := path(spec, "jobTemplate", "spec")
	if manual, _ := jobSpec["manualSelector"].(bool); !manual {
		delete(jobSpec, "selector")
		deleteLabels(path(jobSpec, "template", "metadata", "labels"), controllerUIDLabels...)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & as they came
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransform, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// path walks nested objects; nil when a step is missing or not an object.
func path(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m, _ = m[k].(map[string]any)
	}
	return m
}

func deleteLabels(labels map[string]any, keys ...string) {
	for _, k := range keys {
		delete(labels, k)
	}
}

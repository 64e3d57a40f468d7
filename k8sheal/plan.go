package k8sheal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrParse is matched (errors.Is) when kubectl's output is not the lists
// heal expects.
var ErrParse = errors.New("unexpected kubectl output")

// State is what heal found a CronJob to be.
type State string

const (
	// Healthy: scheduled recently enough; never touched.
	Healthy State = "healthy"
	// Stuck: not suspended and its last schedule too old; replaced.
	Stuck State = "stuck"
	// Suspended: .spec.suspend is true; never touched, however old.
	Suspended State = "suspended"
	// Invalid: its schedule or time zone could not be understood; never
	// touched, reported.
	Invalid State = "invalid"
)

// ErrStaleAPIServer is matched (errors.Is) when the API server lists
// objects at a resourceVersion ahead of etcd's revision: its watch cache was
// filled before an etcd restore that did not bump the revision, and what it
// lists is not what etcd holds. Nothing is decided on such lists.
var ErrStaleAPIServer = errors.New("the Kubernetes API server serves what it cached before the etcd restore")

// Lists is what `kubectl get {cronjobs,jobs,pods} -A -o json` returned.
type Lists struct {
	CronJobs []CronJob
	Jobs     []Job
	Pods     []Pod
	// ResourceVersions are those of a one-item list of each kind taken
	// right after the lists (kind -> resourceVersion; 0 if not a number).
	ResourceVersions map[string]int64
	// EtcdRevision is the etcd cluster's revision read after them (0:
	// unknown, e.g. no etcdctl on the master).
	EtcdRevision int64
}

// CheckFresh fails with ErrStaleAPIServer when a list's resourceVersion is
// ahead of etcd's revision. An API server's lists are never ahead of etcd:
// its watch cache follows etcd's revisions. After a restore without
// --bump-revision, etcd's revision goes back to the snapshot's while every
// API server's cache keeps the newer objects, and a consistent read is
// served from that cache, since it looks fresh enough. Deciding on it would
// miss the restored stuck CronJobs, or replace objects etcd no longer has.
func (l Lists) CheckFresh() error {
	if l.EtcdRevision <= 0 {
		return nil
	}
	for _, kind := range []string{"cronjobs", "jobs", "pods"} {
		if rv := l.ResourceVersions[kind]; rv > l.EtcdRevision {
			return fmt.Errorf("%w (%s listed at resourceVersion %d, etcd is at revision %d): restart kube-apiserver on every master, "+
				"or restore with --bump-revision, then run ncnpush k8s heal", ErrStaleAPIServer, kind, rv, l.EtcdRevision)
		}
	}
	return nil
}

// ParseGet parses the document k8s-get.sh.tmpl prints: one JSON object
// {"cronjobs": LIST, "jobs": LIST, "pods": LIST}, each a `kubectl get -A -o
// json` List. Each CronJob keeps its raw JSON (CronJob.Raw).
func ParseGet(doc []byte) (Lists, error) {
	var top struct {
		CronJobs *list `json:"cronjobs"`
		Jobs     *list `json:"jobs"`
		Pods     *list `json:"pods"`
		Probes   map[string]struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		} `json:"probes"`
		Etcd *struct {
			Header struct {
				Revision int64 `json:"revision"`
			} `json:"header"`
		} `json:"etcd"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return Lists{}, fmt.Errorf("%w: %w", ErrParse, err)
	}
	if top.CronJobs == nil || top.Jobs == nil || top.Pods == nil {
		return Lists{}, fmt.Errorf("%w: want cronjobs, jobs and pods", ErrParse)
	}
	var l Lists
	var err error
	if l.CronJobs, err = items[CronJob](top.CronJobs, "cronjobs"); err != nil {
		return Lists{}, err
	}
	for i := range l.CronJobs {
		l.CronJobs[i].Raw = top.CronJobs.Items[i]
	}
	if l.Jobs, err = items[Job](top.Jobs, "jobs"); err != nil {
		return Lists{}, err
	}
	if l.Pods, err = items[Pod](top.Pods, "pods"); err != nil {
		return Lists{}, err
	}
	l.ResourceVersions = map[string]int64{}
	for kind, p := range top.Probes {
		if rv, err := strconv.ParseInt(p.Metadata.ResourceVersion, 10, 64); err == nil {
			l.ResourceVersions[kind] = rv
		}
	}
	if top.Etcd != nil {
		l.EtcdRevision = top.Etcd.Header.Revision
	}
	return l, nil
}

func items[T any](l *list, what string) ([]T, error) {
	if l.Kind != "" && l.Kind != "List" && !strings.HasSuffix(l.Kind, "List") {
		return nil, fmt.Errorf("%w: %s: kind %q is not a List", ErrParse, what, l.Kind)
	}
	out := make([]T, len(l.Items))
	for i, raw := range l.Items {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%w: %s item %d: %w", ErrParse, what, i, err)
		}
	}
	return out, nil
}

// PodRef is a stuck pod of a stuck CronJob's Job.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// Job is the Job that owns the pod.
	Job string `json:"job"`
	// Phase is .status.phase; Status is what `kubectl get pods` shows
	// (ContainerCreating, Init:0/1, Pending...).
	Phase  string `json:"phase"`
	Status string `json:"status"`
}

// Item is one CronJob and what heal decided for it.
type Item struct {
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	UID       string  `json:"uid"`
	Schedule  string  `json:"schedule"`
	TimeZone  *string `json:"time_zone,omitempty"`
	// LastSchedule is .status.lastScheduleTime (nil: never scheduled).
	LastSchedule *time.Time `json:"last_schedule_time"`
	Created      time.Time  `json:"creation_timestamp"`
	State        State      `json:"state"`
	// Staleness is the decision's detail (empty for Invalid).
	Staleness Staleness `json:"staleness"`
	// Action is what heal does with it, in words (see [Item.ActionText]).
	Action string `json:"action"`
	// Error says why a CronJob is Invalid.
	Error string `json:"error,omitempty"`
	// Pods are the stuck pods of its Jobs (only for a Stuck CronJob).
	Pods []PodRef `json:"pods,omitempty"`

	raw json.RawMessage
}

// Key is "namespace/name".
func (it *Item) Key() string { return it.Namespace + "/" + it.Name }

// Raw is the CronJob as the API server returned it.
func (it *Item) Raw() json.RawMessage { return it.raw }

// ActionText is what heal does with it, in words for the table: "replace,
// delete 2 stuck pods", "none", "none (suspended)".
func (it *Item) ActionText() string {
	switch it.State {
	case Stuck:
		a := "replace"
		if n := len(it.Pods); n > 0 {
			a += fmt.Sprintf(", delete %d stuck pod%s", n, plural(n))
		}
		return a
	case Suspended:
		return "none (suspended)"
	case Invalid:
		return "none (cannot read its schedule)"
	}
	return "none"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Plan is heal's decision for every CronJob.
type Plan struct {
	// Now is the time the decision was made at.
	Now time.Time `json:"now"`
	// Factor is the stale factor F.
	Factor float64 `json:"stale_factor"`
	// Items are every CronJob, by namespace then name.
	Items []Item `json:"cronjobs"`
}

// Stuck returns the stuck CronJobs, in order.
func (p *Plan) Stuck() []*Item {
	var out []*Item
	for i := range p.Items {
		if p.Items[i].State == Stuck {
			out = append(out, &p.Items[i])
		}
	}
	return out
}

// Count returns how many items are in state s.
func (p *Plan) Count(s State) int {
	n := 0
	for _, it := range p.Items {
		if it.State == s {
			n++
		}
	}
	return n
}

// NewPlan decides, at now with stale factor factor, which CronJobs of l are
// stuck (see [Stale]) and finds their stuck pods: pods that are neither
// Running nor Succeeded (Pending, which covers ContainerCreating and Init,
// Failed, Unknown) and whose owner is a Job whose owner is the stuck
// CronJob.
//
// Ownership is followed by ownerReferences and UID only, never by labels or
// names: the Job controller always sets ownerReferences on the pods it makes
// and the CronJob controller on its Jobs, names are reused once a CronJob is
// replaced, and labels can be copied onto any pod (a debug copy, a pod
// someone orphaned on purpose with --cascade=orphan, which also drops the
// reference). A pod without such a reference is not heal's to delete.
func NewPlan(l Lists, now time.Time, factor float64) (*Plan, error) {
	if factor < 1 {
		return nil, fmt.Errorf("stale factor %g: it must be at least 1", factor)
	}
	p := &Plan{Now: now.UTC(), Factor: factor, Items: make([]Item, 0, len(l.CronJobs))}
	byUID := map[string]int{} // CronJob UID -> index in p.Items
	for _, cj := range l.CronJobs {
		it := Item{Namespace: cj.Metadata.Namespace, Name: cj.Metadata.Name, UID: cj.Metadata.UID,
			Schedule: cj.Spec.Schedule, TimeZone: cj.Spec.TimeZone, LastSchedule: cj.Status.LastScheduleTime,
			Created: cj.Metadata.CreationTimestamp, raw: cj.Raw}
		st, err := Stale(&cj, now, factor)
		it.Staleness = st
		switch {
		case err != nil:
			it.State, it.Error = Invalid, err.Error()
		case cj.Suspended():
			it.State = Suspended
		case st.Stuck:
			it.State = Stuck
		default:
			it.State = Healthy
		}
		p.Items = append(p.Items, it)
	}
	slices.SortFunc(p.Items, func(a, b Item) int { return strings.Compare(a.Key(), b.Key()) })
	for i, it := range p.Items {
		if it.UID != "" {
			byUID[it.UID] = i
		}
	}
	jobOwner := map[string]int{} // Job UID -> index of its stuck CronJob
	jobName := map[string]string{}
	for _, j := range l.Jobs {
		for _, ref := range j.Metadata.OwnerReferences {
			if i, ok := byUID[ref.UID]; ok && ref.Kind == "CronJob" && p.Items[i].State == Stuck &&
				j.Metadata.Namespace == p.Items[i].Namespace {
				jobOwner[j.Metadata.UID] = i
				jobName[j.Metadata.UID] = j.Metadata.Name
			}
		}
	}
	for _, pod := range l.Pods {
		if pod.Status.Phase == PodRunning || pod.Status.Phase == PodSucceeded {
			continue
		}
		for _, ref := range pod.Metadata.OwnerReferences {
			i, ok := jobOwner[ref.UID]
			if !ok || ref.Kind != "Job" || pod.Metadata.Namespace != p.Items[i].Namespace {
				continue
			}
			p.Items[i].Pods = append(p.Items[i].Pods, PodRef{Namespace: pod.Metadata.Namespace, Name: pod.Metadata.Name,
				UID: pod.Metadata.UID, Job: jobName[ref.UID], Phase: pod.Status.Phase, Status: PodDisplayStatus(&pod)})
			break
		}
	}
	for i := range p.Items {
		p.Items[i].Action = p.Items[i].ActionText()
		slices.SortFunc(p.Items[i].Pods, func(a, b PodRef) int { return strings.Compare(a.Name, b.Name) })
	}
	return p, nil
}

// PodDisplayStatus is the STATUS column of `kubectl get pods` for p, as
// kubectl computes it (in short): an init container's state as Init:N/M or
// Init:REASON, else the last waiting or terminated reason of a container
// (ContainerCreating, CrashLoopBackOff...), else the phase; Terminating
// once the pod is being deleted.
func PodDisplayStatus(p *Pod) string {
	reason := p.Status.Phase
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	initializing := false
	for i, c := range p.Status.InitContainerStatuses {
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case c.State.Terminated != nil:
			if c.State.Terminated.Reason != "" {
				reason = "Init:" + c.State.Terminated.Reason
			} else {
				reason = fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode)
			}
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Status.InitContainerStatuses))
		}
		initializing = true
		break
	}
	if !initializing {
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := p.Status.ContainerStatuses[i]
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				reason = c.State.Terminated.Reason
			}
		}
	}
	if p.Metadata.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	if reason == "" {
		reason = "Unknown"
	}
	return reason
}

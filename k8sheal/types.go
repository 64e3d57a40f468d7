package k8sheal

import (
	"encoding/json"
	"time"
)

// The subset of the Kubernetes batch/v1 CronJob and Job and core/v1 Pod
// objects that heal reads, as `kubectl get ... -o json` prints them. Only
// what a decision needs is decoded; a CronJob that is replaced is rebuilt
// from its raw JSON (see [ForReplace]), so nothing unknown to these types
// is lost.

// ObjectMeta is the part of metadata heal reads.
type ObjectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	CreationTimestamp time.Time         `json:"creationTimestamp"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	OwnerReferences   []OwnerReference  `json:"ownerReferences,omitempty"`
}

// OwnerReference names an object's owner.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller *bool  `json:"controller,omitempty"`
}

// CronJob is a batch/v1 CronJob. Raw is the object as the API server sent
// it (set by [ParseCronJobs]).
type CronJob struct {
	Metadata ObjectMeta    `json:"metadata"`
	Spec     CronJobSpec   `json:"spec"`
	Status   CronJobStatus `json:"status"`

	Raw json.RawMessage `json:"-"`
}

// CronJobSpec is the part of a CronJob's spec heal reads.
type CronJobSpec struct {
	Schedule string  `json:"schedule"`
	TimeZone *string `json:"timeZone,omitempty"`
	Suspend  *bool   `json:"suspend,omitempty"`
}

// CronJobStatus is the part of a CronJob's status heal reads.
type CronJobStatus struct {
	LastScheduleTime   *time.Time `json:"lastScheduleTime,omitempty"`
	LastSuccessfulTime *time.Time `json:"lastSuccessfulTime,omitempty"`
	Active             []struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"active,omitempty"`
}

// Suspended reports .spec.suspend.
func (c *CronJob) Suspended() bool { return c.Spec.Suspend != nil && *c.Spec.Suspend }

// Key is "namespace/name".
func (c *CronJob) Key() string { return c.Metadata.Namespace + "/" + c.Metadata.Name }

// Job is a batch/v1 Job (metadata only: its owner is what matters).
type Job struct {
	Metadata ObjectMeta `json:"metadata"`
}

// Pod is a core/v1 Pod.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     struct {
		NodeName string `json:"nodeName,omitempty"`
	} `json:"spec"`
	Status PodStatus `json:"status"`
}

// Pod phases.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// PodStatus is the part of a pod's status heal reads.
type PodStatus struct {
	Phase                 string            `json:"phase"`
	Reason                string            `json:"reason,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
}

// ContainerStatus is the part of a container's status heal reads.
type ContainerStatus struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	State struct {
		Waiting *struct {
			Reason string `json:"reason,omitempty"`
		} `json:"waiting,omitempty"`
		Running    *struct{} `json:"running,omitempty"`
		Terminated *struct {
			ExitCode int    `json:"exitCode"`
			Reason   string `json:"reason,omitempty"`
		} `json:"terminated,omitempty"`
	} `json:"state"`
}

// list is a `kubectl get -A -o json` List: its items are kept raw.
type list struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

package etcdrestore

import (
	"encoding/json"
	"fmt"

	"github.com/ncnpush/ncnpush/hosts"
)

// TaskStatus is the built-in task `ncnpush etcd status` runs; it registers
// each member's view as "health" (etcd-health.sh.tmpl).
const TaskStatus = "etcd-status"

// MemberStatus is one member's health as `ncnpush etcd status` shows it.
type MemberStatus struct {
	Host     string `json:"host"`     // inventory host
	Member   string `json:"member"`   // etcd member name ("" when unknown)
	Healthy  bool   `json:"healthy"`  // the member answered its status
	Leader   bool   `json:"leader"`   // the member is the raft leader
	Revision int64  `json:"revision"` // its store revision
	DBSize   int64  `json:"dbSize"`   // its DB size in bytes
	Keys     int64  `json:"keys"`     // keys it holds (serializable count)
	Version  string `json:"version"`  // its etcd version
	Members  int    `json:"members"`  // members in its member list
	Error    string `json:"error,omitempty"`
}

// parseHealth reads a registered etcd-health.sh.tmpl output.
func parseHealth(v any) (health, error) {
	var h health
	b, err := json.Marshal(v)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, err
	}
	if len(h.Status) == 0 {
		return h, fmt.Errorf("no endpoint status")
	}
	return h, nil
}

// Statuses turns every host's registered "health" into a MemberStatus.
func Statuses(hs hosts.Hosts) []MemberStatus {
	var out []MemberStatus
	for _, host := range hs {
		ms := MemberStatus{Host: host.Name}
		v, ok := host.Fact("health")
		if !ok {
			ms.Error = "no answer"
			out = append(out, ms)
			continue
		}
		h, err := parseHealth(v)
		if err != nil {
			ms.Error = err.Error()
			out = append(out, ms)
			continue
		}
		st := h.Status[0].Status
		ms.Healthy = true
		ms.Leader = st.Leader != 0 && st.Leader == st.Header.MemberID
		ms.Revision, ms.DBSize, ms.Version, ms.Keys = st.Header.Revision, st.DBSize, st.Version, h.Keys.Count
		ms.Members = len(h.Members.Members)
		for _, m := range h.Members.Members {
			if m.ID == st.Header.MemberID {
				ms.Member = m.Name
			}
		}
		out = append(out, ms)
	}
	return out
}

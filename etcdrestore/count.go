package etcdrestore

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ncnpush/ncnpush/hosts"
)

// snapshotCount is what etcd-count-keys.sh.tmpl reports: the keys a
// throw-away etcd serves from a restored copy of the staged snapshot, and
// its revision.
type snapshotCount struct {
	// Keys is the number of live keys in the snapshot.
	Keys int64 `json:"keys"`
	// Revision is the snapshot's revision as etcd serves it.
	Revision int64 `json:"revision"`
	// StatusRevision is the revision the node's etcd tools read from the
	// file itself (`snapshot status`); it must equal Revision.
	StatusRevision int64 `json:"status_revision"`
}

// snapshotKeys reads the count registered as "snapshot_keys" (the phase
// runs on one master only). ok is false when no host has it.
func snapshotKeys(hs hosts.Hosts) (c snapshotCount, ok bool, err error) {
	for _, h := range hs {
		v, found := h.Fact("snapshot_keys")
		if !found {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return c, false, fmt.Errorf("%s: snapshot key count: %w", h.Name, err)
		}
		if err := json.Unmarshal(b, &c); err != nil {
			return c, false, fmt.Errorf("%s: snapshot key count %s: %w", h.Name, b, err)
		}
		if c.Revision <= 0 {
			return c, false, fmt.Errorf("%s: snapshot key count: no revision in %s", h.Name, b)
		}
		if c.StatusRevision <= 0 {
			return c, false, fmt.Errorf("%s: snapshot status: no revision in %s", h.Name, b)
		}
		return c, true, nil
	}
	return c, false, nil
}

// restoredRevision is the revision every member holds right after the swap:
// the snapshot's, raised by bump when the restore bumped it.
func restoredRevision(snapRev int64, bump bool, amount any) (int64, error) {
	if !bump {
		return snapRev, nil
	}
	n, err := strconv.ParseInt(fmt.Sprint(amount), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bump_amount %v is not a non-negative integer", amount)
	}
	return snapRev + n, nil
}

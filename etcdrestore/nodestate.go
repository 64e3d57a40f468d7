package etcdrestore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// NodeState is what ncnpush's etcd runs left on one master, as
// etcd-node-state.sh.tmpl reads it: what `etcd status` shows, what the
// restore's preflight and `etcd cleanup` refuse on, and what `etcd recover`
// works from.
type NodeState struct {
	// Etcd is `systemctl is-active etcd`.
	Etcd string `json:"etcd"`
	// Hold: the restore's hold drop-in is in place (etcd cannot start).
	Hold bool `json:"hold"`
	// Lock is the lock holder's line ("run ID since TIME"); empty when free.
	Lock string `json:"lock,omitempty"`
	// Kept are the member directories restores kept.
	Kept []Dir `json:"kept,omitempty"`
	// Leftovers are staging directories a run left behind.
	Leftovers []Dir `json:"leftovers,omitempty"`
	// Journals are the runs whose journal is still open: interrupted ones
	// (or the one holding the lock now).
	Journals []Journal `json:"interrupted,omitempty"`
	// Closed are the newest runs whose journal is closed here, run ID ->
	// outcome (restored, rolled-back, not-stopped, abandoned): a run open
	// on another master may have ended here.
	Closed map[string]string `json:"-"`
}

// Dir is a directory and its size.
type Dir struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Journal is one run's journal on one node (see etcd-lib.sh.tmpl): its
// paths, and the steps it reached, in order.
type Journal struct {
	Run     string   `json:"run"`
	Staging string   `json:"staging,omitempty"`
	Data    string   `json:"data,omitempty"`
	Aside   string   `json:"aside,omitempty"`
	Failed  string   `json:"failed,omitempty"`
	Hold    string   `json:"hold,omitempty"`
	Reached []string `json:"reached"`
}

// Has reports whether the run reached step on this node.
func (j Journal) Has(step string) bool { return slices.Contains(j.Reached, step) }

// Last is the last step the run reached ("" for none).
func (j Journal) Last() string {
	if len(j.Reached) == 0 {
		return ""
	}
	return j.Reached[len(j.Reached)-1]
}

// Stopped reports whether the run went past staging on this node: it
// stopped etcd, or began to (from then on only a rollback or a completed
// start ends it).
func (j Journal) Stopped() bool {
	for _, s := range j.Reached {
		if s != "staged" {
			return true
		}
	}
	return false
}

// Steps a journal records, in the order a run reaches them.
const (
	stepStaged     = "staged"
	stepStop       = "stop"
	stepSwap       = "swap"
	stepMovedAside = "moved-aside"
	stepSwapped    = "swapped"
	stepStart      = "start"
	stepRollback   = "rollback"
	stepRolledBack = "rolled-back"
	stepVerified   = "verified"
)

// Journal ends (the finish's journal_end).
const (
	endRestored   = "restored"
	endRolledBack = "rolled-back"
	endNotStopped = "not-stopped"
)

// parseNodeState reads etcd-node-state.sh.tmpl's lines.
func parseNodeState(lines []string) (NodeState, error) {
	var st NodeState
	var j *Journal
	for i, l := range lines {
		if j != nil {
			key, val, _ := strings.Cut(l, " ")
			switch key {
			case "end-journal":
				st.Journals = append(st.Journals, *j)
				j = nil
			case "at":
				step, _, _ := strings.Cut(val, " ")
				j.Reached = append(j.Reached, step)
			case "staging":
				j.Staging = val
			case "data":
				j.Data = val
			case "aside":
				j.Aside = val
			case "failed":
				j.Failed = val
			case "hold":
				j.Hold = val
			}
			continue
		}
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "":
		case "etcd":
			st.Etcd = val
		case "hold":
			st.Hold = val == "yes"
		case "lock":
			if h, ok := strings.CutPrefix(val, "held"); ok {
				st.Lock = strings.TrimSpace(h)
				if st.Lock == "" {
					st.Lock = "held"
				}
			}
		case "kept", "leftover":
			size, p, ok := strings.Cut(val, " ")
			n, err := strconv.ParseInt(size, 10, 64)
			if !ok || err != nil {
				n = -1
				if !ok {
					p = val
				}
			}
			if key == "kept" {
				st.Kept = append(st.Kept, Dir{Path: p, Bytes: n})
			} else {
				st.Leftovers = append(st.Leftovers, Dir{Path: p, Bytes: n})
			}
		case "journal":
			j = &Journal{Run: val}
		case "closed":
			run, outcome, _ := strings.Cut(val, " ")
			if st.Closed == nil {
				st.Closed = map[string]string{}
			}
			st.Closed[run] = outcome
		default:
			return st, fmt.Errorf("node state line %d: unexpected %q", i+1, l)
		}
	}
	if j != nil {
		return st, fmt.Errorf("node state: journal %s not ended", j.Run)
	}
	return st, nil
}

// nodeStateOf parses the "node_state" fact a host registered.
func nodeStateOf(v any, ok bool) (NodeState, error) {
	if !ok {
		return NodeState{}, fmt.Errorf("no node state read")
	}
	lines, _ := v.([]string)
	return parseNodeState(lines)
}

// lockedBy reports whether run holds the node's lock now: its journal is
// open because it is running, not because it was interrupted.
func (st NodeState) lockedBy(run string) bool {
	return run != "" && strings.HasPrefix(st.Lock, "run "+run+" ")
}

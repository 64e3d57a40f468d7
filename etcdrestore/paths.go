package etcdrestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// ErrBadPath is matched (errors.Is) by CheckPaths errors: a path variable
// that ncnpush refuses to write in, before it connects anywhere.
var ErrBadPath = errors.New("refused path")

// Paths are the remote paths one run uses on one master. They are resolved
// once per host from that host's variables (phases.Env.VarsFor: task
// defaults, inventory host and group vars, -e), registered as the host's
// fact "paths" for the templates, and used by Go for the stream's target,
// the plan and the report: the two never disagree.
type Paths struct {
	// Data is etcd's data directory (data_dir); only member/ inside it is
	// moved.
	Data string
	// Staging is this run's private staging directory,
	// <staging_dir>.<run ID>: made by the run (mkdir, 0700), removed by it.
	Staging string
	// State is ncnpush's own directory on the node (state_dir, root 0700):
	// the lock and the runs' journals.
	State string
	// Journal is this run's journal, <state_dir>/<run ID>.journal.
	Journal string
	// Aside is where the swap moves the member from before the restore.
	Aside string
	// Failed is where a rollback moves the restored member.
	Failed string
	// Lock is the node's restore lock (lock_file).
	Lock string
	// Hold is the drop-in that holds etcd stopped (hold_dropin).
	Hold string
}

// fact is p as the templates see it: .Self.paths.staging and so on.
func (p Paths) fact() map[string]any {
	return map[string]any{"data": p.Data, "staging": p.Staging, "state": p.State, "journal": p.Journal,
		"aside": p.Aside, "failed": p.Failed, "lock": p.Lock, "hold": p.Hold}
}

// pathsFor resolves a run's paths from one host's variables.
func pathsFor(vars map[string]any, runID string) Paths {
	data := str(vars["data_dir"])
	state := str(vars["state_dir"])
	return Paths{
		Data:    data,
		Staging: str(vars["staging_dir"]) + "." + runID,
		State:   state,
		Journal: path.Join(state, runID+".journal"),
		Aside:   path.Join(data, "member.pre-restore-"+runID),
		Failed:  path.Join(data, "member.failed-restore-"+runID),
		Lock:    str(vars["lock_file"]),
		Hold:    str(vars["hold_dropin"]),
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// newRunID is a run's ID: its start time (UTC, to the second, so that IDs
// sort by time and `etcd cleanup --older-than` can read it) and 32 random
// bits, so that no two runs ever share one (a clock set back, a node
// restored from a VM snapshot): the swap refuses a pre-restore directory its
// own run did not make.
func newRunID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return now.UTC().Format(runIDTime) + "-" + hex.EncodeToString(b)
}

// runIDTime is the time layout at the start of a run ID.
const runIDTime = "20060102T150405Z"

// RunTime is the time a run ID (or a kept directory's suffix) starts with.
func RunTime(id string) (time.Time, bool) {
	if len(id) < len(runIDTime) {
		return time.Time{}, false
	}
	t, err := time.Parse(runIDTime, id[:len(runIDTime)])
	return t, err == nil
}

// systemDirs are directories no ncnpush path variable may name: staging in
// them would make the run's clean-up remove them, and a lock or journal
// there would sit where other users write.
var systemDirs = []string{"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
	"/root", "/run", "/run/lock", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/local",
	"/usr/sbin", "/var", "/var/lib", "/var/log", "/var/tmp", "/var/run", "/var/spool", "/var/cache", "/dev/shm",
	"/etc/kubernetes", "/etc/systemd", "/etc/systemd/system"}

// internalVars are the variables a run sets for its templates: the run's
// identity and what its journal says. An override would let a typo forge a
// journal step (start_note=rolled-back) or another run's paths.
var internalVars = []string{"run_id", "start_note", "journal_end", "journal_step", "keys_rev", "dump_sha256", "dump_bytes", "bump_revision"}

// pathVars are the restore's path variables, checked by CheckPaths.
var pathVars = []string{"data_dir", "staging_dir", "state_dir", "lock_file", "hold_dropin", "pki_dir", "kubeadm_config"}

// CheckPaths refuses path variables that would make a run write, or remove,
// where it must not: every path must be absolute and clean; staging_dir and
// state_dir must not be a system directory, nor equal to, inside or above
// data_dir (the run's clean-up removes its staging directory whole), nor
// inside or above each other; lock_file must be inside state_dir. vars are
// one host's resolved variables; the error names the host and is one line.
func CheckPaths(host string, vars map[string]any) error {
	if err := checkPaths(vars); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadPath, host, err)
	}
	return nil
}

// checkPaths is CheckPaths' check; its error names neither the host nor
// ErrBadPath.
func checkPaths(vars map[string]any) error {
	for _, k := range pathVars {
		v, ok := vars[k]
		if !ok {
			continue
		}
		p := str(v)
		switch {
		case p == "":
			return fmt.Errorf("%s is empty", k)
		case strings.ContainsAny(p, "\x00\n\r"):
			return fmt.Errorf("%s %q contains a control character", k, p)
		case !path.IsAbs(p):
			return fmt.Errorf("%s %q is not an absolute path", k, p)
		case path.Clean(p) != p:
			return fmt.Errorf("%s %q is not a clean path (write it %q)", k, p, path.Clean(p))
		}
	}
	data := str(vars["data_dir"])
	for _, k := range []string{"staging_dir", "state_dir"} {
		p := str(vars[k])
		if p == "" {
			continue
		}
		for _, s := range systemDirs {
			if p == s {
				return fmt.Errorf("%s %s is a system directory: name a directory of ncnpush's own, e.g. %s/ncnpush-etcd-restore",
					k, p, map[bool]string{true: "/var/tmp", false: "/var/lib"}[k == "staging_dir"])
			}
		}
		if data != "" && related(p, data) {
			return fmt.Errorf("%s %s is %s data_dir %s: it must be apart from etcd's data", k, p, relation(p, data), data)
		}
	}
	if st, sd := str(vars["staging_dir"]), str(vars["state_dir"]); st != "" && sd != "" && related(st, sd) {
		return fmt.Errorf("staging_dir %s is %s state_dir %s: they must be apart", st, relation(st, sd), sd)
	}
	if h := str(vars["hold_dropin"]); h != "" && (path.Ext(h) != ".conf" || !strings.HasSuffix(path.Dir(h), "/etcd.service.d")) {
		return fmt.Errorf("hold_dropin %s must be a .conf file in etcd.service.d/ (systemd reads no other: etcd would not be held)", h)
	}
	if l, sd := str(vars["lock_file"]), str(vars["state_dir"]); l != "" && sd != "" && path.Dir(l) != sd {
		return fmt.Errorf("lock_file %s must be in state_dir %s (ncnpush's own directory: no other user can hold or redirect the lock there)",
			l, sd)
	}
	return nil
}

// related reports whether a and b are equal or one is inside the other.
func related(a, b string) bool {
	return a == b || strings.HasPrefix(a, strings.TrimSuffix(b, "/")+"/") || strings.HasPrefix(b, strings.TrimSuffix(a, "/")+"/")
}

func relation(a, b string) string {
	switch {
	case a == b:
		return "equal to"
	case strings.HasPrefix(a, strings.TrimSuffix(b, "/")+"/"):
		return "inside"
	default:
		return "above"
	}
}

// CheckHosts checks the restore's variables before any connection, so that
// a typo in -e or in an inventory var changes nothing anywhere: the -e
// overrides and every host's inventory vars against the types the restore's
// tasks (and more, say the k8s heal that follows) declare, then every host's
// resolved paths (the task etcd-restore's vars, the host's vars, the
// overrides: as the run will resolve them) with CheckPaths. It returns the
// overrides converted to their types ("120" → 120), for Options.Vars.
func CheckHosts(hs hosts.Hosts, overrides map[string]any, more ...string) (map[string]any, error) {
	for _, k := range internalVars {
		if _, ok := overrides[k]; ok {
			return nil, fmt.Errorf("-e %s: ncnpush sets it itself for each run; it cannot be overridden", k)
		}
		for _, h := range hs {
			if _, ok := h.Vars[k]; ok {
				return nil, fmt.Errorf("%s: inventory var %s: ncnpush sets it itself for each run; remove it from the inventory", h.Name, k)
			}
		}
	}
	names := append([]string{TaskRestore, TaskRollback, TaskFinish}, more...)
	conv, err := tasks.CheckBuiltinVars(overrides, names...)
	if err != nil {
		return nil, fmt.Errorf("-e: %w", err)
	}
	t, err := tasks.LoadBuiltin(TaskRestore)
	if err != nil {
		return nil, err
	}
	env := &phases.Env{}
	env.InitVars(t.Vars, conv)
	var errs []error
	// The same refusal on every host is said once, naming them all.
	var order []string
	byMsg := map[string][]string{}
	for _, h := range hs {
		if len(h.Vars) > 0 {
			hv := make(map[string]any, len(h.Vars))
			for k, v := range h.Vars {
				hv[k] = v
			}
			if _, err := tasks.CheckBuiltinVars(hv, names...); err != nil {
				errs = append(errs, fmt.Errorf("%s: inventory vars: %w", h.Name, err))
				continue
			}
		}
		if err := checkPaths(env.VarsFor(h, t)); err != nil {
			if byMsg[err.Error()] == nil {
				order = append(order, err.Error())
			}
			byMsg[err.Error()] = append(byMsg[err.Error()], h.Name)
		}
	}
	for _, msg := range order {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrBadPath, strings.Join(byMsg[msg], ", "), msg))
	}
	if len(hs) == 0 {
		if err := CheckPaths("-", env.VarsFor(nil, t)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return conv, nil
}

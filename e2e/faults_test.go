package e2e

// The fault-injection suite (issue 8): one table of cells, each a fault
// injected at the phase where it hurts most, all on the suite's lab. Every
// cell starts from a known state (the data set of the backup plus data
// written after it, etcd healthy on every member, no staging left) and
// proves, whatever happened:
//
//  1. a clear error naming the problem, and the exit code;
//  2. zero data lost: every member holds exactly its original data (a
//     failure before the stop, or a rollback: the very member directory it
//     had before) or exactly the backup's data (success: the pre-restore
//     member directory is kept) — never a mix;
//  3. security: the staged snapshot is gone on every node, and neither the
//     S3 secret nor a marker value stored in the snapshot appears in
//     stdout, stderr or -o json; no injected command ran.
//
// TestFaults writes docs/reliability.md from the outcomes when every cell
// ran.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	faultBefore  = "fault-before" // in the backup
	faultBeforeN = 200
	faultAfter   = "fault-after" // written after the backup: the restore removes it
	faultAfterN  = 50
	markerKey    = "/ncnpush-fault/marker"
	// stagingDir is the default staging_dir: each run stages in its own
	// <staging_dir>.<run ID>, made by the run and removed by it.
	stagingDir = "/var/tmp/ncnpush-etcd-restore"
	// stateDir is ncnpush's own directory on a node (root 0700): the lock
	// and every run's journal, <run ID>.journal.
	stateDir = "/var/lib/ncnpush-etcd-restore"
	lockFile = stateDir + "/lock"
	holdFile = "/etc/systemd/system/etcd.service.d/00-ncnpush-restore-hold.conf"

	dataOriginal = "original"
	dataBackup   = "backup"
)

// faultSuite is what the cells share.
type faultSuite struct {
	backup   string // the good backup's name, made once
	key      string // its object key
	archive  []byte // its bytes
	marker   string // a value in the snapshot that no output may show
	secret   string
	pwned    string // the file an injected command would create
	proxy    *s3Proxy
	cleanups []func()
}

// cellRun is what a cell's run returns.
type cellRun struct {
	r       result
	staging string // the run's staging_dir (default stagingDir): <staging>.* must be gone
	// lost is a node ncnpush lost during the run (its sshd killed): ncnpush
	// could not clean its staging directory; the snapshot must still not
	// be left there.
	lost string
	// extra are more strings that must not appear in any output.
	extra []string
	// note is added to the matrix.
	note string
	// swap overrides the matrix's etcd column (a killed run reports
	// nothing of its own).
	swap string
}

type faultCell struct {
	name  string // subtest name
	fault string // the fault number and what it is
	phase string // where it is injected
	ref   string // an existing test proves this cell: not run here
	run   func(t *testing.T, s *faultSuite) cellRun
	// code is the wanted exit code; errHas must all appear in the error
	// (its first line holds errHas[0]).
	code   int
	errHas []string
	data   string // dataOriginal or dataBackup
	// recover runs a plain restore after the cell and checks that it
	// brings back the backup's data.
	recover bool
	// killed: the cell kills ncnpush with SIGKILL (code 137): there is no
	// error line and no -o json document to check; the cell itself runs
	// etcd recover before the checks.
	killed bool
}

// cellOutcome is one row of docs/reliability.md.
type cellOutcome struct {
	fault, phase, ref string
	stoppedAt         string
	code              int
	errLine           string
	data              string
	swap              string
	staging           string
	recovered         string
	secs              float64
	pass              bool
}

func TestFaults(t *testing.T) {
	start := time.Now()
	s := setupFaultSuite(t)
	cells := faultCells()
	var outcomes []cellOutcome
	ran := 0
	for _, c := range cells {
		if c.ref != "" {
			outcomes = append(outcomes, cellOutcome{fault: c.fault, phase: c.phase, ref: c.ref, pass: true})
			continue
		}
		var o cellOutcome
		ok := t.Run(c.name, func(t *testing.T) {
			ran++
			o = s.runCell(t, c)
		})
		o.pass = ok
		outcomes = append(outcomes, o)
	}
	t.Logf("fault suite: %d cells run in %s", ran, time.Since(start).Round(time.Second))
	if ran == len(cells)-countRefs(cells) {
		writeReliability(t, outcomes, time.Since(start))
	}
}

func countRefs(cells []faultCell) int {
	n := 0
	for _, c := range cells {
		if c.ref != "" {
			n++
		}
	}
	return n
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func setupFaultSuite(t *testing.T) *faultSuite {
	t.Helper()
	s := &faultSuite{
		marker: "ncnpush-snapshot-marker-" + randHex(12),
		secret: lab.S3Env["AWS_SECRET_ACCESS_KEY"],
		pwned:  "/tmp/ncnpush-pwned-" + randHex(6),
	}
	// A reused lab may hold the data written after an earlier run's
	// backup: the backup must not.
	if out, err := lab.script("etcdctl", "del", "--prefix", "/ncnpush-lab/"+faultAfter+"/"); err != nil {
		t.Fatalf("etcdctl del: %v\n%s", err, out)
	}
	if out, err := lab.script("seed", "-tag", faultBefore, "-n", fmt.Sprint(faultBeforeN)); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	if out, err := lab.script("etcdctl", "put", markerKey, s.marker); err != nil {
		t.Fatalf("marker: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // backup names have a one-second resolution
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.key = lines[len(lines)-1]
	s.backup = strings.TrimSuffix(strings.TrimPrefix(s.key, "bare-metal/"), ".tar.gz")
	s.archive = getObject(t, s.key)
	if !strings.Contains(string(readDump(t, s.archive)), s.marker) {
		t.Fatalf("the marker is not in the snapshot: the secrecy check would prove nothing")
	}
	s.proxy = newS3Proxy(t)
	t.Cleanup(func() {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
		for _, n := range lab.Nodes {
			sshdUp(t, n)
		}
	})
	return s
}

// reset puts the lab back into the known state: sshd and etcd running on
// every member, a healthy cluster, no staging, the original data set.
// With keepStaging, what a run left in staging stays: the next run must
// deal with it.
func (s *faultSuite) reset(t *testing.T, keepStaging bool) {
	t.Helper()
	clean := "rm -rf -- " + stagingDir + ".*; "
	if keepStaging {
		clean = ""
	}
	for _, n := range lab.Nodes {
		sshdUp(t, n)
	}
	// A cell that failed may have left a run interrupted (it reported
	// that): end it the operator's way, so that the next cell starts clean.
	if open := openJournals(t); len(open) > 0 {
		t.Logf("runs left interrupted by an earlier cell: %v: running etcd recover", open)
		rr := runNcnpush(t, "", etcdArgs("recover", "--yes")...)
		if left := openJournals(t); rr.code != 0 || len(left) > 0 {
			t.Fatalf("etcd recover did not end the runs left interrupted (%v): exit %d\n%s%s", left, rr.code, rr.stdout, rr.stderr)
		}
	}
	for _, n := range lab.Nodes {
		lab.MustSSH(t, n, "systemctl is-active --quiet etcd || { systemctl reset-failed etcd; systemctl start --no-block etcd; }; "+
			clean+"rm -f "+s.pwned)
	}
	waitHealthy(t)
	if out, err := lab.script("seed", "-tag", faultAfter, "-n", fmt.Sprint(faultAfterN)); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	os.Remove(s.pwned)
}

// openJournals lists, per node, the journals of runs that are still open
// (no "end" line): interrupted runs.
func openJournals(t *testing.T) map[string]string {
	t.Helper()
	open := map[string]string{}
	for _, n := range lab.Nodes {
		out := lab.MustSSH(t, n, "cd "+stateDir+" 2>/dev/null && grep -L '^end ' -- *.journal 2>/dev/null; true")
		if out = strings.TrimSpace(out); out != "" {
			open[n] = strings.ReplaceAll(out, "\n", " ")
		}
	}
	return open
}

// etcdArgs are the arguments of `ncnpush etcd SUB` on the lab's masters.
func etcdArgs(sub string, extra ...string) []string {
	return append([]string{"etcd", sub, "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color"}, extra...)
}

// memberState is a node's member directory (its inode) and the member*
// entries of the data directory.
type memberState struct {
	inode string
	dirs  string
}

func memberStates(t *testing.T) map[string]memberState {
	t.Helper()
	st := map[string]memberState{}
	for _, n := range lab.Nodes {
		out := lab.MustSSH(t, n, "stat -c %i /var/lib/etcd/member; cd /var/lib/etcd && ls -d member* | sort | tr '\\n' ' '")
		inode, dirs, _ := strings.Cut(out, "\n")
		st[n] = memberState{inode: strings.TrimSpace(inode), dirs: strings.TrimSpace(dirs)}
	}
	return st
}

// dataState says which data every member holds: original, backup, or a
// description of anything else.
func dataState(t *testing.T) string {
	t.Helper()
	o1, err1 := lab.script("check", "-tag", faultBefore, "-n", fmt.Sprint(faultBeforeN))
	o2, err2 := lab.script("check", "-tag", faultAfter, "-n", fmt.Sprint(faultAfterN))
	if err1 == nil && err2 == nil {
		return dataOriginal
	}
	o3, err3 := lab.script("check", "-tag", faultBefore, "-n", fmt.Sprint(faultBeforeN), "-absent", faultAfter)
	if err3 == nil {
		return dataBackup
	}
	return "neither original nor backup:\n" + o1 + o2 + o3
}

type jsonReport struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Phases []struct {
		Title  string `json:"title"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"phases"`
}

// errorText is the error ncnpush printed last on stderr ("ncnpush: ...",
// possibly with indented lines after it), without the prefix.
func errorText(stderr string) string {
	i := strings.LastIndex(stderr, "\nncnpush: ")
	switch {
	case i >= 0:
		return strings.TrimSpace(stderr[i+len("\nncnpush: "):])
	case strings.HasPrefix(stderr, "ncnpush: "):
		return strings.TrimSpace(stderr[len("ncnpush: "):])
	}
	return ""
}

var runIDRe = regexp.MustCompile(`member\.pre-restore-([0-9]{8}T[0-9]{6}Z-[0-9a-f]{8})`)

func (s *faultSuite) runCell(t *testing.T, c faultCell) cellOutcome {
	o := cellOutcome{fault: c.fault, phase: c.phase, stoppedAt: "-"}
	s.reset(t, false)
	before := memberStates(t)
	start := time.Now()
	cr := c.run(t, s)
	o.secs = time.Since(start).Seconds()
	r := cr.r
	if cr.staging == "" {
		cr.staging = stagingDir
	}
	if cr.lost != "" {
		sshdUp(t, cr.lost)
	}
	t.Logf("exit %d\nstderr:\n%s", r.code, r.stderr)
	o.code = r.code

	// 1. The error and the exit code.
	msg := errorText(r.stderr)
	first, _, _ := strings.Cut(msg, "\n")
	o.errLine = first
	if r.code != c.code {
		t.Errorf("exit code %d, want %d", r.code, c.code)
	}
	if c.killed {
		o.errLine = "(killed with SIGKILL: no output)"
	}
	if c.code != 0 && !c.killed {
		if msg == "" {
			t.Errorf("no error line on stderr")
		}
		if len(c.errHas) > 0 && !strings.Contains(first, c.errHas[0]) {
			t.Errorf("error's first line %q lacks %q", first, c.errHas[0])
		}
		for _, w := range c.errHas {
			if !strings.Contains(msg, w) {
				t.Errorf("error lacks %q:\n%s", w, msg)
			}
		}
		if len(c.errHas) > 1 && !strings.Contains(first, c.errHas[1]) {
			// The detail (a host, a file) is on a line of its own: show it too.
			for _, l := range strings.Split(msg, "\n") {
				if strings.Contains(l, c.errHas[1]) {
					o.errLine += " / " + strings.TrimSpace(l)
					break
				}
			}
		}
	}
	// Every outcome prints one JSON document under -o json, a usage error
	// found before the run started (an inventory that does not load)
	// included.
	var rep jsonReport
	if c.killed {
		o.swap = cr.swap
	} else if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Errorf("stdout is not one JSON document (-o json): %v\n%s", err, r.stdout)
	} else {
		if c.code != 0 && rep.Error == "" {
			t.Errorf("-o json has no error")
		}
		if c.code != 0 && msg != "" && !strings.HasPrefix(rep.Error, first) {
			t.Errorf("-o json error %q does not start like stderr's %q", rep.Error, first)
		}
		stopRan := false
		for _, p := range rep.Phases {
			if p.Status == "failed" && o.stoppedAt == "-" {
				o.stoppedAt = p.Title
			}
			if p.Title == "Stop etcd on every master" && p.Status != "skipped" {
				stopRan = true
			}
		}
		switch {
		case !stopRan:
			o.swap = "not stopped"
		case rep.Status == "ok":
			o.swap = "swapped"
		default:
			o.swap = "stopped, rolled back"
		}
	}

	// 3. Security: nothing secret in any output, nothing injected ran, no
	// staged snapshot left on any node.
	all := r.stdout + r.stderr
	for _, secret := range append([]string{s.secret, s.marker}, cr.extra...) {
		if secret != "" && strings.Contains(all, secret) {
			t.Errorf("a secret (%.12s...) appears in the output", secret)
		}
	}
	if _, err := os.Stat(s.pwned); err == nil {
		t.Errorf("an injected command ran on the host: %s exists", s.pwned)
	}
	o.staging = "removed"
	leftOn := ""
	for _, n := range lab.Nodes {
		// Every run stages in its own <staging_dir>.<run ID>: none may be
		// left, nor a staged snapshot or a partial upload anywhere.
		out := lab.MustSSH(t, n, fmt.Sprintf("test ! -e %s || echo PWNED; find /var/tmp /tmp -xdev \\( -name etcd-dump.bin -o -name '.ncnpush-upload-*' \\) 2>/dev/null; "+
			"ls -d -- %s.* 2>/dev/null && echo STAGING-LEFT; true", s.pwned, q(cr.staging)))
		if strings.Contains(out, "PWNED") {
			t.Errorf("%s: an injected command ran: %s exists", n, s.pwned)
		}
		out = strings.ReplaceAll(out, "PWNED\n", "")
		snap := strings.Contains(out, "etcd-dump.bin") || strings.Contains(out, ".ncnpush-upload-")
		switch {
		case n == cr.lost && snap:
			// ncnpush lost this node before its clean-up: the next run must
			// remove what is left (checked after the recovery below).
			o.staging = "left on the lost " + n + " (ncnpush could not reach it)"
			leftOn = n
			if !c.recover {
				t.Errorf("%s: a staged snapshot is left on the lost node, and the cell shows no recovery:\n%s", n, out)
			}
		case snap:
			t.Errorf("%s: a staged snapshot is left:\n%s", n, out)
			o.staging = "LEFT on " + n
		case strings.Contains(out, "STAGING-LEFT") && n == cr.lost:
			o.staging = "removed (an empty staging directory on the lost " + n + ")"
		case strings.Contains(out, "STAGING-LEFT"):
			t.Errorf("%s: staging directory %s left:\n%s", n, cr.staging, out)
			o.staging = "LEFT on " + n
		}
	}

	// 2. Zero data lost.
	m := runIDRe.FindStringSubmatch(r.stderr)
	// A failed rollback leaves the run's journals open: whatever failed,
	// the error must send the operator to etcd recover.
	if strings.Contains(msg, "rollback failed") && !strings.Contains(msg, "ncnpush etcd recover") {
		t.Errorf("the rollback failed and the error does not name ncnpush etcd recover:\n%s", msg)
	}
	if cr.lost != "" && m != nil && strings.Contains(msg, "once reachable") {
		// What ncnpush tells the operator to do once the node it lost is
		// back: etcd recover, with the restore's inventory and known_hosts.
		if !strings.Contains(msg, "ncnpush etcd recover") {
			t.Errorf("the error does not tell the operator to run ncnpush etcd recover on %s:\n%s", cr.lost, msg)
		}
		if strings.Contains(msg, "daemon-reload") || strings.Contains(msg, "mv ") {
			t.Errorf("the error still gives manual steps (mv, daemon-reload) instead of etcd recover:\n%s", msg)
		}
		rr := runNcnpush(t, "", etcdArgs("recover", "--yes")...)
		t.Logf("etcd recover: exit %d\n%s%s", rr.code, rr.stdout, rr.stderr)
		if rr.code != 0 {
			t.Errorf("etcd recover after the lost %s came back: exit %d\n%s", cr.lost, rr.code, rr.stderr)
		}
		for _, n := range lab.Nodes {
			if out, err := lab.SSH(t, n, "systemctl is-active etcd"); err != nil {
				t.Errorf("%s: etcd %s after etcd recover", n, strings.TrimSpace(out))
			}
		}
		cr.note = fmt.Sprintf("on the lost %s, once back, `ncnpush etcd recover --yes` (as the error says) exited %d", cr.lost, rr.code)
	}
	for _, n := range lab.Nodes {
		if out, err := lab.SSH(t, n, "systemctl is-active etcd"); err != nil {
			if n != cr.lost {
				t.Errorf("%s: ncnpush left etcd %s", n, strings.TrimSpace(out))
			}
			// Where ncnpush lost the node, the operator starts etcd.
			lab.SSH(t, n, "systemctl reset-failed etcd; systemctl start --no-block etcd")
		}
	}
	if err := healthyWithin(t, 60*time.Second); err != nil {
		o.data = "cluster not healthy"
		t.Errorf("the cluster is not healthy after the cell: %v", err)
	} else {
		o.data = dataState(t)
	}
	if o.data != c.data {
		t.Errorf("data after the cell: %s, want %s", o.data, c.data)
	}
	after := memberStates(t)
	for _, n := range lab.Nodes {
		if o.data == "cluster not healthy" {
			break
		}
		b, a := before[n], after[n]
		switch {
		case o.data == dataBackup:
			if m == nil {
				t.Errorf("%s: the run named no pre-restore directory", n)
				break
			}
			kept := lab.MustSSH(t, n, "stat -c %i /var/lib/etcd/member.pre-restore-"+m[1]+" 2>&1")
			if strings.TrimSpace(kept) != b.inode {
				t.Errorf("%s: member.pre-restore-%s is not the member from before (inode %s, was %s)", n, m[1], strings.TrimSpace(kept), b.inode)
			}
		case o.swap == "not stopped":
			if a != b {
				t.Errorf("%s: member directories changed although etcd was never stopped:\nbefore %+v\nafter  %+v", n, b, a)
			}
		default: // rolled back: the very same member directory is back
			if a.inode != b.inode {
				t.Errorf("%s: the member is not the one from before the run (inode %s, was %s): %s", n, a.inode, b.inode, a.dirs)
			}
		}
	}
	if o.data == dataBackup {
		o.swap = "swapped, pre-restore kept"
	}

	if c.recover {
		o.recovered = "no"
		for _, n := range lab.Nodes {
			sshdUp(t, n)
		}
		rr := runNcnpush(t, "", s.restoreJSON()...)
		if rr.code != 0 {
			t.Errorf("the next run did not recover: exit %d\n%s", rr.code, rr.stderr)
		} else if err := healthyWithin(t, 60*time.Second); err != nil {
			t.Errorf("not healthy after the next run: %v", err)
		} else if d := dataState(t); d != dataBackup {
			t.Errorf("the next run left %s data, want the backup's", d)
		} else {
			o.recovered = "yes"
		}
		if leftOn != "" {
			if out, err := lab.SSH(t, leftOn, "! ls -d -- "+q(cr.staging)+".* 2>/dev/null"); err != nil {
				t.Errorf("%s: the next run did not remove the staging left behind: %s", leftOn, out)
			} else {
				o.staging += "; the next run removed it"
			}
		}
	}
	// No run is left interrupted: every journal is closed.
	if open := openJournals(t); len(open) > 0 {
		t.Errorf("runs left interrupted (journals without an end line): %v", open)
		o.staging += "; JOURNAL LEFT OPEN"
	}
	if cr.note != "" {
		o.staging += "; " + cr.note
	}
	return o
}

// archiveAs is the suite's backup as it would be under another name: the
// archive's directory carries the backup's name.
func (s *faultSuite) archiveAs(t *testing.T, name string) []byte {
	return tarGz(t, []archiveEntry{{name: name + "/", dir: true}, {name: name + "/etcd-dump.bin", data: readDump(t, s.archive)}}, false)
}

// healthyWithin waits until every member answers a health check.
func healthyWithin(t *testing.T, d time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := lab.Etcdctl(t, "ncn-m001", lab.endpoints(), "endpoint health")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return fmt.Errorf("%v: %s", err, lines[len(lines)-1])
		}
		time.Sleep(time.Second)
	}
}

// q single-quotes for the test's own shell commands.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// restoreJSON are the arguments of a restore of the suite's backup.
func (s *faultSuite) restoreJSON(extra ...string) []string {
	return restoreArgs(append([]string{"--backup", s.backup, "--yes", "-o", "json", "--skip-k8s-heal"}, extra...)...)
}

// reachedMark names a file in /run (cleared by a reboot) that an overridden
// template creates when it gets to the injected line, so that a cell
// injects its fault at that point on a slow machine as on a fast one,
// instead of after a fixed sleep. The file is removed from every node when
// the cell ends.
func reachedMark(t *testing.T) string {
	mark := "/run/ncnpush-fault-reached-" + randHex(4)
	t.Cleanup(func() {
		for _, n := range lab.Nodes {
			lab.SSH(t, n, "rm -f "+mark)
		}
	})
	return mark
}

// waitReached waits until node's template run created mark, or fails the
// cell if ncnpush ends first or a minute passes.
func waitReached(t *testing.T, l *liveRun, node, mark string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := lab.SSH(t, node, "test -e "+mark); err == nil {
			return
		}
		select {
		case <-l.done:
			t.Fatalf("ncnpush ended before the template reached the fault point on %s:\n%s", node, l.err.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the template never reached the fault point on %s (%s):\n%s", node, mark, l.err.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// overrideTemplate writes a copy of a built-in template into dir with line
// inserted before the first line that starts with anchor ("" = the top).
func overrideTemplate(t *testing.T, dir, name, anchor, line string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "templates", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	out := []string{}
	done := false
	for _, l := range lines {
		if !done && (anchor == "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "{{") || anchor != "" && strings.HasPrefix(strings.TrimSpace(l), anchor)) {
			out = append(out, line)
			done = true
		}
		out = append(out, l)
	}
	if !done {
		t.Fatalf("%s: no line starts with %q", name, anchor)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// header is the live-output line that starts phase title.
func header(title string) string { return "] " + title }

// ---------------------------------------------------------------- the cells

func faultCells() []faultCell {
	const (
		phPreflight = "Preflight: read every master's etcd facts"
		phCheck     = "Preflight: cross-check the masters and take their locks"
		phStage     = "Prepare the private staging directory"
		phPush      = "Stream the snapshot from S3 to every master"
		phDump      = "Check the staged snapshot on every master"
		phRestore   = "Restore the snapshot into staging"
		phCount     = "Count the snapshot's keys"
		phConfirm   = "Confirm"
		phStop      = "Stop etcd on every master"
		phSwap      = "Swap in the restored member"
		phStart     = "Start etcd on every master together"
		phVerify    = "Verify the restored cluster"
		phFinish    = "Remove the staged snapshot and restore output"
		phRollback  = "Rollback: put back the pre-restore member"
	)
	cells := []faultCell{
		{fault: "1 unreachable node at start", phase: "connect", ref: "TestRestoreUnreachableNodeChangesNothing"},
		{
			name: "sshd-killed-during-fan-out", fault: "1 sshd killed on one node", phase: phPush,
			code: 1, errHas: []string{"snapshot push failed", "ncn-m003"}, data: dataOriginal, recover: true,
			run: func(t *testing.T, s *faultSuite) cellRun {
				s.proxy.mode.Store(proxySlow)
				defer s.proxy.mode.Store(proxyPass)
				l := startNcnpush(t, s.proxy.env(), s.restoreJSON()...)
				if !l.waitFor(header(phPush), 3*time.Minute) {
					t.Fatalf("no push phase:\n%s", l.err.String())
				}
				time.Sleep(1500 * time.Millisecond)
				sshdDown(t, "ncn-m003")
				return cellRun{r: l.wait(t, 3*time.Minute), lost: "ncn-m003"}
			},
		},
		{
			name: "sshd-killed-after-stop", fault: "1 sshd killed on one node", phase: phStop + " (etcd stopped)",
			code: 1, errHas: []string{"rollback failed", "ncn-m003"}, data: dataOriginal, recover: true,
			run: func(t *testing.T, s *faultSuite) cellRun {
				dir := t.TempDir()
				mark := reachedMark(t)
				overrideTemplate(t, dir, "etcd-stop.sh.tmpl", "state=", ": >"+mark+"; sleep 4")
				l := startNcnpush(t, nil, s.restoreJSON("--templates", dir)...)
				if !l.waitFor(header(phStop), 3*time.Minute) {
					t.Fatalf("no stop phase:\n%s", l.err.String())
				}
				waitReached(t, l, "ncn-m003", mark) // etcd is stopped there
				sshdDown(t, "ncn-m003")
				return cellRun{r: l.wait(t, 5*time.Minute), lost: "ncn-m003"}
			},
		},
		{fault: "3 etcd fails to start after the swap", phase: phStart, ref: "TestRestoreRollsBackWhenEtcdFailsToStart"},
		{
			name: "s3-endpoint-down", fault: "5 S3 endpoint down", phase: "select backup",
			code: 1, errHas: []string{"S3 endpoint unreachable", "127.0.0.1:1"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				return cellRun{r: runNcnpushEnv(t, "", []string{"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, s.restoreJSON("--s3-max-attempts", "1")...)}
			},
		},
		{
			name: "s3-wrong-credentials", fault: "5 S3 credentials wrong", phase: "select backup",
			code: 1, errHas: []string{"S3 access denied"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				wrong := "Wr0ng-" + randHex(10)
				return cellRun{r: runNcnpushEnv(t, "", []string{"AWS_SECRET_ACCESS_KEY=" + wrong}, s.restoreJSON()...), extra: []string{wrong}}
			},
		},
		{
			name: "s3-object-missing", fault: "5 S3 object missing", phase: "select backup",
			code: 2, errHas: []string{"no such backup", "etcd-backup-2001-02-03-04-05-06"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				return cellRun{r: runNcnpush(t, "", restoreArgs("--backup", "etcd-backup-2001-02-03-04-05-06", "--yes", "-o", "json")...)}
			},
		},
		{
			name: "s3-object-deleted-after-listing", fault: "5 S3 object missing", phase: phPreflight + " (deleted after it was listed)",
			code: 1, errHas: []string{"preflight failed", "no such backup"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				name := "etcd-backup-2001-02-03-04-05-07"
				key := "bare-metal/" + name + ".tar.gz"
				putObject(t, key, s.archiveAs(t, name))
				dir := t.TempDir()
				// The preflight waits (up to a minute) until the object is gone.
				overrideTemplate(t, dir, "etcd-preflight.sh.tmpl", "section kubeadmcfg",
					"for i in $(seq 300); do [ -e /run/ncnpush-fault-go ] && break; sleep 0.2; done")
				l := startNcnpush(t, nil, restoreArgs("--backup", name, "--yes", "-o", "json", "--skip-k8s-heal", "--templates", dir)...)
				if !l.waitFor(header(phPreflight), 3*time.Minute) {
					t.Fatalf("no preflight:\n%s", l.err.String())
				}
				removeObject(t, key)
				for _, n := range lab.Nodes {
					lab.MustSSH(t, n, "touch /run/ncnpush-fault-go")
				}
				r := l.wait(t, 3*time.Minute)
				for _, n := range lab.Nodes {
					lab.SSH(t, n, "rm -f /run/ncnpush-fault-go")
				}
				return cellRun{r: r}
			},
		},
		{
			name: "s3-object-truncated", fault: "5 S3 object truncated (connection dropped mid-body)", phase: phPush,
			code: 1, errHas: []string{"snapshot push failed", "truncated"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				s.proxy.mode.Store(proxyTruncate)
				defer s.proxy.mode.Store(proxyPass)
				return cellRun{r: runNcnpushEnv(t, "", s.proxy.env(), s.restoreJSON("--s3-max-attempts", "1")...)}
			},
		},
		{
			name: "s3-object-stalls", fault: "5 S3 object stalls, timeout", phase: phPush,
			code: 1, errHas: []string{"snapshot push failed", "S3 timeout"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				s.proxy.mode.Store(proxyStall)
				defer s.proxy.mode.Store(proxyPass)
				return cellRun{r: runNcnpushEnv(t, "", s.proxy.env(), s.restoreJSON("--s3-timeout", "3s", "--s3-max-attempts", "1")...)}
			},
		},
	}
	// 6. Bad archives, uploaded under bare-metal/etcd-backup-<ts>.tar.gz.
	type badArchive struct {
		name, what string
		want       []string
		make       func(t *testing.T, s *faultSuite, dir string) []byte
	}
	bad := []badArchive{
		{"corrupt-snapshot", "6 corrupt snapshot (one byte flipped)", []string{"snapshot push failed", "sha256"},
			func(t *testing.T, s *faultSuite, dir string) []byte {
				d := readDump(t, s.archive)
				d[len(d)/2] ^= 0x01
				return tarGz(t, []archiveEntry{{name: dir + "/", dir: true}, {name: dir + "/etcd-dump.bin", data: d}}, false)
			}},
		{"two-dumps", "6 tar with two dumps", []string{"snapshot push failed", "unexpected backup layout"},
			func(t *testing.T, s *faultSuite, dir string) []byte {
				d := readDump(t, s.archive)
				return tarGz(t, []archiveEntry{{name: dir + "/", dir: true}, {name: dir + "/etcd-dump.bin", data: d}, {name: dir + "/etcd-dump.bin", data: d}}, false)
			}},
		{"no-dump", "6 tar without a dump", []string{"preflight failed", "unexpected backup layout"},
			func(t *testing.T, s *faultSuite, dir string) []byte {
				return tarGz(t, []archiveEntry{{name: dir + "/", dir: true}, {name: dir + "/README", data: []byte("no dump here\n")}}, false)
			}},
		{"dotdot-path", "6 tar with ../ paths", []string{"preflight failed", "unexpected backup layout"},
			func(t *testing.T, s *faultSuite, dir string) []byte {
				d := readDump(t, s.archive)
				return tarGz(t, []archiveEntry{{name: dir + "/../../etc/etcd-dump.bin", data: d}}, false)
			}},
		{"not-gzip", "6 object is not gzip", []string{"preflight failed", "unexpected backup layout"},
			func(t *testing.T, s *faultSuite, dir string) []byte {
				d := readDump(t, s.archive)
				return tarGz(t, []archiveEntry{{name: dir + "/", dir: true}, {name: dir + "/etcd-dump.bin", data: d}}, true)
			}},
	}
	for i, b := range bad {
		cells = append(cells, faultCell{
			name: "archive-" + b.name, fault: b.what, phase: phPush,
			code: 1, errHas: b.want, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				name := fmt.Sprintf("etcd-backup-2001-01-01-00-00-%02d", i+10)
				key := "bare-metal/" + name + ".tar.gz"
				putObject(t, key, b.make(t, s, name))
				defer removeObject(t, key)
				return cellRun{r: runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "-o", "json", "--skip-k8s-heal")...)}
			},
		})
	}
	// The staged copy is not hashed again on the node (see
	// etcd-check-dump.sh.tmpl): the restore into staging must refuse a copy
	// that went bad on one node's disk after the stream.
	cells = append(cells, faultCell{
		name: "archive-corrupt-on-node", fault: "6 staged copy corrupt on one node (a byte flipped on disk)", phase: phRestore,
		code: 1, errHas: []string{"ncn-m002", "does not match the sha256 etcd appended to it"}, data: dataOriginal,
		run: func(t *testing.T, s *faultSuite) cellRun {
			dir := t.TempDir()
			overrideTemplate(t, dir, "etcd-check-dump.sh.tmpl", "printf '{\"bytes\"",
				`if [[ $(hostname) == ncn-m002 ]]; then b=$(dd if="$dump" bs=1 skip=8192 count=1 status=none | od -An -tu1 | tr -d ' '); `+
					`printf "\\$(printf %03o $(((b ^ 1) & 255)))" | dd of="$dump" bs=1 seek=8192 conv=notrunc status=none; fi`)
			return cellRun{r: runNcnpush(t, "", s.restoreJSON("--templates", dir)...)}
		},
	})
	cells = append(cells,
		faultCell{
			name: "host-key-changed", fault: "7 changed host key on one node", phase: "connect",
			code: 1, errHas: []string{"connect: 1 of 3 hosts failed", "ncn-m002", "has CHANGED"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				dir := t.TempDir()
				if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "k")).CombinedOutput(); err != nil {
					t.Fatalf("ssh-keygen: %v\n%s", err, out)
				}
				pub, _ := os.ReadFile(filepath.Join(dir, "k.pub"))
				kh, _ := os.ReadFile(lab.KnownHosts)
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(string(kh)), "\n") {
					if strings.HasPrefix(l, "ncn-m002,") {
						f := strings.Fields(string(pub))
						l = strings.Fields(l)[0] + " " + f[0] + " " + f[1]
					}
					lines = append(lines, l)
				}
				known := filepath.Join(dir, "known_hosts")
				os.WriteFile(known, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
				return cellRun{r: runNcnpush(t, "", "etcd", "restore", "-i", lab.Inventory, "--known-hosts", known,
					"--backup", s.backup, "--yes", "-o", "json", "--skip-k8s-heal")}
			},
		},
		kubeadmCell("kubeadmcfg-missing", "8 kubeadmcfg.yaml missing", "ncn-m002",
			"rm -f /etc/kubernetes/kubeadmcfg.yaml", []string{"preflight", "ncn-m002"}),
		kubeadmCell("kubeadmcfg-malformed", "8 kubeadmcfg.yaml malformed", "ncn-m002",
			`printf 'apiVersion: "kubeadm.k8s.io/v1beta2"\nkind: ClusterConfiguration\netcd: [local: {extraArgs: \n' > /etc/kubernetes/kubeadmcfg.yaml`,
			[]string{"preflight failed", "ncn-m002"}),
		kubeadmCell("kubeadmcfg-clusters-disagree", "8 initial-clusters disagree", "ncn-m003",
			`sed -i '/initial-cluster:/s/ncn-m001=https:\/\/[0-9.]*:2380/ncn-m001=https:\/\/10.77.250.99:2380/' /etc/kubernetes/kubeadmcfg.yaml`,
			[]string{"preflight failed", "initial-cluster differs"}),
		faultCell{fault: "8 a member name not in the inventory", phase: phPreflight, ref: "TestRestorePreflightFailureChangesNothing"},
		faultCell{
			name: "inject-node-name", fault: "9 shell injection: node name", phase: "inventory",
			code: 2, errHas: []string{"inventory"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				inv := filepath.Join(t.TempDir(), "inventory.yaml")
				b, _ := os.ReadFile(lab.Inventory)
				evil := "ncn-m001'; touch " + s.pwned + "; '"
				text := strings.Replace(string(b), "  ncn-m001: {", "  \""+evil+"\": {", 1)
				text = strings.Replace(text, "[ncn-m001,", "[\""+evil+"\",", 1)
				os.WriteFile(inv, []byte(text), 0o600)
				return cellRun{r: runNcnpush(t, "", "etcd", "restore", "-i", inv, "--known-hosts", lab.KnownHosts,
					"--backup", s.backup, "--yes", "-o", "json", "--skip-k8s-heal")}
			},
		},
		faultCell{
			name: "inject-node-name-no-spaces", fault: "9 shell injection: node name", phase: "every phase (literal name)",
			code: 0, data: dataBackup,
			run: func(t *testing.T, s *faultSuite) cellRun {
				inv := filepath.Join(t.TempDir(), "inventory.yaml")
				b, _ := os.ReadFile(lab.Inventory)
				evil := "ncn-m001$(touch${IFS}" + s.pwned + ")`touch${IFS}" + s.pwned + "`;touch${IFS}" + s.pwned
				text := strings.Replace(string(b), "  ncn-m001: {", "  '"+evil+"': {", 1)
				text = strings.Replace(text, "[ncn-m001,", "['"+evil+"',", 1)
				os.WriteFile(inv, []byte(text), 0o600)
				return cellRun{r: runNcnpush(t, "", "etcd", "restore", "-i", inv, "--known-hosts", lab.KnownHosts,
					"--backup", s.backup, "--yes", "-o", "json", "--skip-k8s-heal")}
			},
		},
		faultCell{
			name: "inject-backup-name", fault: "9 shell injection: backup name", phase: "select backup",
			code: 2, errHas: []string{"invalid backup name"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				return cellRun{r: runNcnpush(t, "", restoreArgs("--backup", "etcd-backup-$(touch "+s.pwned+")", "--yes", "-o", "json")...)}
			},
		},
		faultCell{
			name: "inject-extra-var", fault: "9 shell injection: -e staging_dir", phase: "every phase (literal path)",
			code: 0, data: dataBackup,
			run: func(t *testing.T, s *faultSuite) cellRun {
				dir := "/var/tmp/ncnpush-inj'$(touch " + s.pwned + ")\"; touch " + s.pwned + "; \"`touch " + s.pwned + "`"
				// ncnpush makes only the run's own <staging_dir>.<run> in
				// staging_dir's parent, which must exist (root's, not writable
				// by others): the test makes it, literally, on every master.
				parent := path.Dir(dir)
				top := "/var/tmp/" + strings.SplitN(strings.TrimPrefix(dir, "/var/tmp/"), "/", 2)[0]
				for _, n := range lab.Nodes {
					lab.MustSSH(t, n, "mkdir -p -- "+q(parent))
				}
				defer func() {
					for _, n := range lab.Nodes {
						lab.SSH(t, n, "rm -rf -- "+q(top))
					}
				}()
				r := runNcnpush(t, "", s.restoreJSON("-e", "staging_dir="+dir)...)
				for _, n := range lab.Nodes {
					if out := lab.MustSSH(t, n, "ls -A -- "+q(parent)); strings.TrimSpace(out) != "" {
						t.Errorf("%s: left in the literal staging parent: %s", n, out)
					}
				}
				return cellRun{r: r, staging: dir, note: "literal staging path used and removed"}
			},
		},
		noConnectCell("extra-var-staging-is-data-dir", "9 -e staging_dir=/var/lib/etcd (etcd's data directory)", "staging_dir=/var/lib/etcd",
			[]string{"refused path", "staging_dir /var/lib/etcd"}, "refused path"),
		noConnectCell("extra-var-start-timeout-typo", "9 -e start_timeout=120s (not a number of seconds)", "start_timeout=120s",
			[]string{"start_timeout", "120s"}, "start_timeout"),
		faultCell{fault: "10 second concurrent restore", phase: phCheck, ref: "TestRestoreSecondConcurrentRunIsRefused"},
		faultCell{
			name: "disk-small-staging", fault: "2 staging area too small (8 MiB tmpfs)", phase: phCheck,
			code: 1, errHas: []string{"preflight failed", "ncn-m002"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				// staging_dir's parent on every master; only ncn-m002's is a
				// tiny tmpfs.
				const tiny = "/var/tmp/ncnpush-fault-tiny"
				for _, n := range lab.Nodes {
					lab.MustSSH(t, n, "mkdir -p -m 0700 "+tiny)
				}
				lab.MustSSH(t, "ncn-m002", "mount -t tmpfs -o size=8m,mode=0700 tmpfs "+tiny)
				undo := func() {
					lab.SSH(t, "ncn-m002", "umount "+tiny)
					for _, n := range lab.Nodes {
						lab.SSH(t, n, "rmdir "+tiny)
					}
				}
				defer undo()
				r := runNcnpush(t, "", s.restoreJSON("-e", "staging_dir="+tiny+"/stage")...)
				// The mount point itself is left by the test, not by ncnpush:
				// nothing else may be left in it.
				if out := lab.MustSSH(t, "ncn-m002", "ls -A "+tiny); strings.TrimSpace(out) != "" {
					t.Errorf("ncn-m002: left in the staging parent: %s", out)
				}
				undo()
				return cellRun{r: r, staging: tiny + "/stage"}
			},
		},
		faultCell{
			name: "disk-fills-during-push", fault: "2 staging disk fills up during the push", phase: phPush,
			code: 1, errHas: []string{"snapshot push failed", "ncn-m002", "No space left on device"}, data: dataOriginal,
			run: func(t *testing.T, s *faultSuite) cellRun {
				// staging_dir's parent on every master (root 0700, as the
				// staging must be); only ncn-m002's is a small tmpfs.
				const mnt = "/var/tmp/ncnpush-fault-small"
				for _, n := range lab.Nodes {
					lab.MustSSH(t, n, "mkdir -p -m 0700 "+mnt)
				}
				lab.MustSSH(t, "ncn-m002", "mount -t tmpfs -o size=160m,mode=0700 tmpfs "+mnt)
				defer func() {
					lab.SSH(t, "ncn-m002", "umount "+mnt)
					for _, n := range lab.Nodes {
						lab.SSH(t, n, "rmdir "+mnt)
					}
				}()
				s.proxy.mode.Store(proxySlow)
				defer s.proxy.mode.Store(proxyPass)
				l := startNcnpush(t, s.proxy.env(), s.restoreJSON("-e", "staging_dir="+mnt+"/stage")...)
				if !l.waitFor(header(phPush), 3*time.Minute) {
					t.Fatalf("no push phase:\n%s", l.err.String())
				}
				lab.MustSSH(t, "ncn-m002", "dd if=/dev/zero of="+mnt+"/filler bs=1M 2>/dev/null; true")
				r := l.wait(t, 3*time.Minute)
				// The filler is the test's; nothing of the run may be left.
				for _, n := range lab.Nodes {
					if out := lab.MustSSH(t, n, "rm -f "+mnt+"/filler; ls -A "+mnt); strings.TrimSpace(out) != "" {
						t.Errorf("%s: left in the staging parent %s: %s", n, mnt, out)
					}
				}
				return cellRun{r: r, staging: mnt + "/stage"}
			},
		},
	)
	// 4. SIGINT in each phase; the next run recovers.
	type sig struct {
		id     string
		phase  string
		tmpl   string // template to slow down ("" none)
		anchor string // insert the sleep before this line
		slowS3 bool
		noYes  bool
	}
	for _, g := range []sig{
		{id: "01-facts", phase: phPreflight, tmpl: "etcd-preflight.sh.tmpl", anchor: "section kubeadmcfg"},
		{id: "02-locks", phase: phCheck},
		{id: "03-stage", phase: phStage, tmpl: "etcd-stage.sh.tmpl", anchor: "mkdir -m 0700 -- \"$staging\""},
		{id: "04-push", phase: phPush, slowS3: true},
		{id: "05-check-dump", phase: phDump, tmpl: "etcd-check-dump.sh.tmpl", anchor: "bytes=$(stat"},
		{id: "06-restore-staging", phase: phRestore, tmpl: "etcd-restore-staging.sh.tmpl", anchor: "echo \"restored member"},
		{id: "07-count-keys", phase: phCount},
		{id: "08-confirm", phase: phConfirm, noYes: true},
		{id: "09-stop", phase: phStop, tmpl: "etcd-stop.sh.tmpl", anchor: "state="},
		{id: "10-swap", phase: phSwap, tmpl: "etcd-swap.sh.tmpl", anchor: "rm -rf -- \"$incoming\""},
		{id: "11-start", phase: phStart, tmpl: "etcd-start.sh.tmpl", anchor: "deadline="},
		{id: "12-verify", phase: phVerify},
	} {
		cells = append(cells, faultCell{
			name:  "sigint-" + g.id,
			fault: "4 SIGINT", phase: g.phase, code: 130, errHas: []string{""}, data: dataOriginal, recover: true,
			run: func(t *testing.T, s *faultSuite) cellRun {
				args := restoreArgs("--backup", s.backup, "-o", "json", "--skip-k8s-heal")
				if !g.noYes {
					args = append(args, "--yes")
				}
				var env []string
				if g.tmpl != "" {
					dir := t.TempDir()
					overrideTemplate(t, dir, g.tmpl, g.anchor, "sleep 5")
					args = append(args, "--templates", dir)
				}
				if g.slowS3 {
					s.proxy.mode.Store(proxySlow)
					defer s.proxy.mode.Store(proxyPass)
					env = s.proxy.env()
				}
				l := startNcnpush(t, env, args...)
				want := header(g.phase)
				if g.noYes {
					want = "Type \"restore\""
				}
				if !l.waitFor(want, 3*time.Minute) {
					t.Fatalf("never reached %q:\n%s", g.phase, l.err.String())
				}
				if g.tmpl != "" || g.slowS3 {
					time.Sleep(time.Second)
				}
				l.cmd.Process.Signal(syscall.SIGINT)
				if g.noYes {
					// wait closes stdin: an EOF at the prompt is a "no", not
					// an interruption. Let the signal be seen first.
					l.waitFor("Confirm failed", time.Minute)
				}
				return cellRun{r: l.wait(t, 5*time.Minute)}
			},
		})
	}
	// SIGINT after the swap, while the staged copies are being removed:
	// the clean-up runs to its end (it holds every Secret), the restore
	// stands, and the next run works as usual.
	cells = append(cells, faultCell{
		name: "sigint-13-finish", fault: "4 SIGINT", phase: phFinish, code: 0, errHas: []string{""}, data: dataBackup, recover: true,
		run: func(t *testing.T, s *faultSuite) cellRun {
			dir := t.TempDir()
			overrideTemplate(t, dir, "etcd-cleanup-staging.sh.tmpl", "", "sleep 4")
			l := startNcnpush(t, nil, s.restoreJSON("--templates", dir)...)
			if !l.waitFor(header(phFinish), 3*time.Minute) {
				t.Fatalf("no clean-up phase:\n%s", l.err.String())
			}
			time.Sleep(time.Second)
			l.cmd.Process.Signal(syscall.SIGINT)
			r := l.wait(t, 5*time.Minute)
			if !strings.Contains(r.stderr, "interrupted: removing the staged copies and releasing the locks first") {
				t.Errorf("the deferred interrupt is not explained:\n%s", r.stderr)
			}
			return cellRun{r: r}
		},
	})
	cells = append(cells, faultCell{
		name: "node-reboots-mid-swap", fault: "11 a node reboots (container restarted)", phase: phSwap + " (member moved aside)",
		code: 1, errHas: []string{"rollback failed", "ncn-m003"}, data: dataOriginal, recover: true,
		run: func(t *testing.T, s *faultSuite) cellRun {
			dir := t.TempDir()
			mark := reachedMark(t)
			// Every master waits, its member moved aside, until the test
			// lets it go on: ncn-m003 reboots right there, however long the
			// restart takes; the others go on once it is done.
			goFile := mark + ".go"
			overrideTemplate(t, dir, "etcd-swap.sh.tmpl", "rm -rf -- \"$incoming\"", pauseLine(mark, goFile))
			t.Cleanup(func() {
				for _, n := range lab.Nodes {
					lab.SSH(t, n, "rm -f "+goFile)
				}
			})
			l := startNcnpush(t, nil, s.restoreJSON("--templates", dir)...)
			if !l.waitFor(header(phSwap), 3*time.Minute) {
				t.Fatalf("no swap phase:\n%s", l.err.String())
			}
			waitReached(t, l, "ncn-m003", mark) // its member is moved aside
			if out, err := lab.script("restart", "ncn-m003"); err != nil {
				t.Fatalf("restart ncn-m003: %v\n%s", err, out)
			}
			for _, n := range []string{"ncn-m001", "ncn-m002"} {
				lab.MustSSH(t, n, "touch "+goFile)
			}
			return cellRun{r: l.wait(t, 5*time.Minute), lost: "ncn-m003"}
		},
	})
	cells = append(cells,
		plantedCell(),
		cleanupDuringRestoreCell(phSwap),
		killCell(killSpec{name: "sigkill-at-stop", phase: phStop + " (etcd stopped and held)", phaseTitle: phStop,
			tmpl: "etcd-stop.sh.tmpl", anchor: "state=", step: "stop"}),
		killCell(killSpec{name: "sigkill-at-swap", phase: phSwap + " (members moved aside)", phaseTitle: phSwap,
			tmpl: "etcd-swap.sh.tmpl", anchor: `rm -rf -- "$incoming"`, step: "moved-aside", tryRestore: true}),
		killCell(killSpec{name: "sigkill-at-start", phase: phStart + " (every member swapped and started)", phaseTitle: phStart,
			tmpl: "etcd-start.sh.tmpl", anchor: "deadline=", step: "start", complete: true}),
		// The start fails on ncn-m002 (the restore rolls back), and the
		// rollback is killed between its two moves: the restored member
		// moved to member.failed-restore-<run>, no member/ at all.
		killCell(killSpec{name: "sigkill-at-rollback", phase: phRollback + " (restored member moved out, none back yet)", phaseTitle: phRollback,
			tmpl: "etcd-rollback.sh.tmpl", anchor: `journal_note "$journal" putting-back`, step: "rollback", refuseComplete: true,
			setup: func(t *testing.T, dir string) {
				overrideTemplate(t, dir, "etcd-start.sh.tmpl", `journal_note "$journal" "$note"`,
					`if [[ $note == start && $(hostname) == ncn-m002 ]]; then echo "fault: the start fails on ncn-m002" >&2; exit 1; fi`)
			}}),
	)
	return cells
}

// kubeadmCell breaks one node's kubeadmcfg.yaml (put back afterwards).
func kubeadmCell(name, fault, node, breakIt string, errHas []string) faultCell {
	return faultCell{
		name: name, fault: fault, phase: "Preflight: read every master's etcd facts",
		code: 1, errHas: errHas, data: dataOriginal,
		run: func(t *testing.T, s *faultSuite) cellRun {
			const cfg = "/etc/kubernetes/kubeadmcfg.yaml"
			lab.MustSSH(t, node, "cp -p "+cfg+" /root/kubeadmcfg.yaml.fault && "+breakIt)
			restore := func() { lab.SSH(t, node, "test -e /root/kubeadmcfg.yaml.fault && mv /root/kubeadmcfg.yaml.fault "+cfg) }
			t.Cleanup(restore)
			r := runNcnpush(t, "", s.restoreJSON()...)
			restore()
			return cellRun{r: r}
		},
	}
}

// ---------------------------------------------------------------- the matrix

var (
	normRunID  = regexp.MustCompile(`[0-9]{8}T[0-9]{6}Z(-[0-9a-f]{8})?`)
	normBackup = regexp.MustCompile(`etcd-backup-20[0-9]{2}(-[0-9]{2}){5}`)
	normPort   = regexp.MustCompile(`127\.0\.0\.1:[0-9]{2,5}`)
	normNet    = regexp.MustCompile(`10\.77\.[0-9]+\.`)
	normHex    = regexp.MustCompile(`[0-9a-f]{12,}`)
	normTmp    = regexp.MustCompile(`/tmp/TestFaults[^/ ]*/[0-9]+`)
	normFP     = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)
)

func normalize(s string) string {
	s = normRunID.ReplaceAllString(s, "<run>")
	s = normBackup.ReplaceAllStringFunc(s, func(b string) string {
		if strings.HasPrefix(b, "etcd-backup-2001-") {
			return b
		}
		return "etcd-backup-<ts>"
	})
	s = normPort.ReplaceAllStringFunc(s, func(p string) string {
		if p == "127.0.0.1:1" {
			return p
		}
		return "127.0.0.1:<port>"
	})
	s = normNet.ReplaceAllString(s, "10.77.N.")
	s = normHex.ReplaceAllString(s, "<hex>")
	s = normTmp.ReplaceAllString(s, "<tmp>")
	s = normFP.ReplaceAllString(s, "SHA256:<fingerprint>")
	if r := []rune(s); len(r) > 260 {
		s = string(r[:260]) + " …"
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

func writeReliability(t *testing.T, outcomes []cellOutcome, total time.Duration) {
	var b strings.Builder
	b.WriteString(`# Reliability: fault × phase

Generated by ` + "`TestFaults`" + ` (e2e/faults_test.go) from the outcomes of its last full run
on the container-master lab (etcd ` + lab.Version + `). Do not edit by hand: run
` + "`NCNPUSH_LAB_REUSE=1 go test ./e2e -run TestFaults`" + ` on an up lab to regenerate it.

Every cell starts from the same state: the data set of one backup plus keys
written after it, etcd healthy on all three members, no staging directory. It
injects one fault at the phase where it hurts most and checks:

- the exit code and the error (its first line here; host details follow on
  indented lines in the real output);
- the data every member holds afterwards, read member by member with
  serializable reads: **original** (exactly what it held before: for a failure
  before the stop, the same member directory, untouched; after a rollback, the
  very same member directory back in place) or **backup** (exactly the
  backup's data; the member from before kept as member.pre-restore-<run>),
  never a mix;
- that no staged snapshot (etcd-dump.bin, or a partial upload) is left on any
  node, that neither the S3 secret nor a value stored in the snapshot appears
  in stdout, stderr or ` + "`-o json`" + `, and that no injected command ran.

A cell with a proof test is covered by that test (e2e/restore_test.go), not
run again here.

| fault | injected at | stopped at (failed phase) | exit | error (first line) | etcd | data after | staged snapshot | next run recovers | s | result |
|---|---|---|---|---|---|---|---|---|---|---|
`)
	for _, o := range outcomes {
		if o.ref != "" {
			fmt.Fprintf(&b, "| %s | %s | see `%s` | | | | | | | | proof test |\n", o.fault, o.phase, o.ref)
			continue
		}
		res := "pass"
		if !o.pass {
			res = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n",
			o.fault, normalize(o.phase), o.stoppedAt, o.code, "`"+normalize(o.errLine)+"`", o.swap, o.data, normalize(o.staging),
			orDash(o.recovered), int(o.secs+0.5), res)
	}
	fmt.Fprintf(&b, "\nSuite duration: about %d min.\n", int(total.Minutes()+0.5))
	path := filepath.Join(repoRoot(), "docs", "reliability.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("write %s: %v", path, err)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

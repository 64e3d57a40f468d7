package e2e

// The executor suite: the real ncnpush binary (exec, run, tasks, templates)
// against the container masters' real sshd. Every test works in its own
// directory /tmp/ncnpush-e2e-<test>-<random> on the nodes and removes it.
// Nothing here restarts etcd, nodes or the lab: the lab may be shared.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// The binary and how it is run.

// ncnpushBin returns the binary TestMain built.
func ncnpushBin(t *testing.T) string {
	t.Helper()
	return ncnpush(t)
}

// exResult is one finished ncnpush process.
type exResult struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r exResult) String() string {
	return fmt.Sprintf("ncnpush %s\nexit code: %d\n--- stdout\n%s--- stderr\n%s", exShellWords(r.args), r.code, r.stdout, r.stderr)
}

func exShellWords(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"$`\\;&|()<>*?[]{}!#~") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// exCmd prepares ncnpush with a hermetic environment: an empty HOME (no
// ~/.ssh/config, ~/.ssh/known_hosts or default keys), no ssh-agent and no
// NCNPUSH_* or AWS_* settings from the caller.
func exCmd(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	bin := ncnpushBin(t)
	cmd := exec.CommandContext(ctx, bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "SSH_AUTH_SOCK" || k == "NO_COLOR" || strings.HasPrefix(k, "NCNPUSH_") || strings.HasPrefix(k, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "HOME="+t.TempDir(), "NO_COLOR=1")
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exRun runs the binary to its end (at most a minute) and returns what it
// printed and its exit code.
func exRun(t *testing.T, args ...string) exResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, stdout, stderr := exCmd(t, ctx, args...)
	err := cmd.Run()
	r := exResult{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("ncnpush did not run to its end: %v\n%s", err, r)
	}
	return r
}

// exMustSucceed fails the test unless r exited 0.
func exMustSucceed(t *testing.T, r exResult) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit code 0:\n%s", r)
	}
}

// exWithLab returns the arguments of subcommand sub (e.g. "exec") with the
// lab's inventory and known_hosts, then args.
func exWithLab(sub string, args ...string) []string {
	return append([]string{sub, "-i", lab.Inventory, "--known-hosts", lab.KnownHosts}, args...)
}

// ---------------------------------------------------------------------------
// The -o json report, decoded independently of package output, so that a
// renamed field breaks these tests as it would break a consumer.

type exReport struct {
	Action string    `json:"action"`
	DryRun bool      `json:"dry_run"`
	Status string    `json:"status"`
	Error  string    `json:"error"`
	Hosts  []string  `json:"hosts"`
	Phases []exPhase `json:"phases"`
}

type exPhase struct {
	Index  int      `json:"index"`
	Title  string   `json:"title"`
	Detail string   `json:"detail"`
	Status string   `json:"status"`
	Error  string   `json:"error"`
	Note   string   `json:"note"`
	Hosts  []exHost `json:"hosts"`
}

type exHost struct {
	Host     string    `json:"host"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	ExitCode *int      `json:"exit_code"`
	Error    string    `json:"error"`
	Note     string    `json:"note"`
	Output   []string  `json:"output"`
	Stderr   []string  `json:"stderr"`
}

// exParseReport decodes stdout as exactly one JSON document.
func exParseReport(t *testing.T, r exResult) *exReport {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var rep exReport
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (next token: %v)\n%s", err, r)
	}
	return &rep
}

// phase returns the phase titled title.
func (rep *exReport) phase(t *testing.T, title string) *exPhase {
	t.Helper()
	for i := range rep.Phases {
		if rep.Phases[i].Title == title {
			return &rep.Phases[i]
		}
	}
	t.Fatalf("report has no phase %q: %+v", title, rep.Phases)
	return nil
}

// host returns the result of host in phase p.
func (p *exPhase) host(t *testing.T, name string) *exHost {
	t.Helper()
	for i := range p.Hosts {
		if p.Hosts[i].Host == name {
			return &p.Hosts[i]
		}
	}
	t.Fatalf("phase %q has no result for %s: %+v", p.Title, name, p.Hosts)
	return nil
}

// statuses maps host to status in p.
func (p *exPhase) statuses() map[string]string {
	m := map[string]string{}
	for _, h := range p.Hosts {
		m[h.Host] = h.Status
	}
	return m
}

// ---------------------------------------------------------------------------
// Files: user task files and templates on this machine, work directories on
// the nodes.

func exRandHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// exRemoteDir returns a fresh path /tmp/ncnpush-e2e-<name>-<random> (not
// created) and removes it from every node when the test ends.
func exRemoteDir(t *testing.T, name string) string {
	t.Helper()
	dir := "/tmp/ncnpush-e2e-" + name + "-" + exRandHex(4)
	t.Cleanup(func() {
		for _, n := range lab.Nodes {
			if out, err := lab.SSH(t, n, "rm -rf -- "+dir); err != nil {
				t.Errorf("clean-up on %s: rm -rf %s: %v\n%s", n, dir, err, out)
			}
		}
	})
	return dir
}

// exWriteFiles writes files (name → content) into dir and returns dir.
func exWriteFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exRemoteFiles returns the regular files of dir on node, name → content, in
// one SSH call; exists is false when dir does not exist.
func exRemoteFiles(t *testing.T, node, dir string) (files map[string]string, exists bool) {
	t.Helper()
	out, err := lab.SSH(t, node, "cd "+dir+" 2>/dev/null || { echo absent; exit 0; }; echo present; "+
		`for f in * .[!.]*; do [ -f "$f" ] || continue; printf '%s %s\n' "$f" "$(base64 -w0 -- "$f")"; done`)
	if err != nil {
		t.Fatalf("%s: list %s: %v\n%s", node, dir, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] == "absent" {
		return nil, false
	}
	if lines[0] != "present" {
		t.Fatalf("%s: list %s: %q", node, dir, out)
	}
	files = map[string]string{}
	for _, l := range lines[1:] {
		name, enc, _ := strings.Cut(l, " ")
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("%s: %s/%s: %v", node, dir, name, err)
		}
		files[name] = string(b)
	}
	return files, true
}

// exAssigned reports whether lines hold the assignment name=value as
// shell.Quote renders it: value as is when it needs no quoting, else in
// single quotes.
func exAssigned(lines []string, name, value string) bool {
	return slices.Contains(lines, name+"="+value) || slices.Contains(lines, name+"='"+value+"'")
}

// exHostLines returns the "host | line" lines of text written for host.
func exHostLines(text, host string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if h, rest, ok := strings.Cut(l, " | "); ok && strings.TrimSpace(h) == host {
			out = append(out, rest)
		}
	}
	return out
}

// exAnyHostLine reports whether text holds a "host | line" line of any lab node.
func exAnyHostLine(text string) bool {
	for _, n := range lab.Nodes {
		if len(exHostLines(text, n)) > 0 {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// 1. exec on the three masters.

func TestExecOnThreeMasters(t *testing.T) {
	text := exRun(t, exWithLab("exec", "--", "hostname")...)
	exMustSucceed(t, text)
	for _, n := range lab.Nodes {
		if got := exHostLines(text.stdout, n); !slices.Equal(got, []string{n}) {
			t.Errorf("%s: live lines %q, want exactly [%q]\n%s", n, got, n, text)
		}
	}
	if !strings.Contains(text.stdout, "==> [1/1] Run command (parallel, 3 hosts)") {
		t.Errorf("no phase header on stdout:\n%s", text)
	}

	// -o json: one document on stdout; the live lines move to stderr.
	js := exRun(t, exWithLab("exec", "-o", "json", "--", "hostname")...)
	exMustSucceed(t, js)
	rep := exParseReport(t, js)
	if rep.Action != "exec" || rep.Status != "ok" || !slices.Equal(rep.Hosts, lab.Nodes) || len(rep.Phases) != 1 {
		t.Fatalf("report: action=%q status=%q hosts=%v phases=%d\n%s", rep.Action, rep.Status, rep.Hosts, len(rep.Phases), js)
	}
	p := rep.Phases[0]
	if p.Status != "ok" || len(p.Hosts) != 3 {
		t.Fatalf("phase: status=%q hosts=%d\n%s", p.Status, len(p.Hosts), js)
	}
	for _, n := range lab.Nodes {
		h := p.host(t, n)
		if h.Status != "ok" || h.ExitCode == nil || *h.ExitCode != 0 || !slices.Equal(h.Output, []string{n}) {
			t.Errorf("%s: status=%q exit=%v output=%q, want ok 0 [%q]", n, h.Status, h.ExitCode, h.Output, n)
		}
		if h.Started.IsZero() || h.Ended.Before(h.Started) {
			t.Errorf("%s: started=%v ended=%v", n, h.Started, h.Ended)
		}
		if got := exHostLines(js.stderr, n); !slices.Equal(got, []string{n}) {
			t.Errorf("%s: under -o json the live line belongs on stderr, got %q", n, got)
		}
	}
}

// ---------------------------------------------------------------------------
// 2. serial phases run one host after another, in order; parallel ones
// overlap.

const exTimingTemplate = `# e2e user template: when did this host run?
echo "start $(date +%s%N)"
sleep 0.5
echo "end $(date +%s%N)"
`

const exTimingTask = `name: timing
description: e2e - serial then parallel, each host sleeping 0.5s
phases:
  - title: Serial timing
    template: timing.sh.tmpl
    strategy: serial
  - title: Parallel timing
    template: timing.sh.tmpl
    strategy: parallel
`

type exInterval struct {
	host       string
	start, end int64 // ns since the epoch, from the node's clock
}

// exIntervals reads the start/end lines every host of p printed, in p's order.
func exIntervals(t *testing.T, p *exPhase) []exInterval {
	t.Helper()
	var out []exInterval
	for _, h := range p.Hosts {
		iv := exInterval{host: h.Host}
		for _, l := range h.Output {
			k, v, _ := strings.Cut(l, " ")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: output line %q", p.Title, h.Host, l)
			}
			switch k {
			case "start":
				iv.start = n
			case "end":
				iv.end = n
			}
		}
		if iv.start == 0 || iv.end <= iv.start {
			t.Fatalf("%s: %s: no start/end in output %q", p.Title, h.Host, h.Output)
		}
		out = append(out, iv)
	}
	return out
}

func TestRunSerialOrderAndParallelOverlap(t *testing.T) {
	tmpl := exWriteFiles(t, t.TempDir(), map[string]string{"timing.sh.tmpl": exTimingTemplate})
	task := filepath.Join(exWriteFiles(t, t.TempDir(), map[string]string{"timing.yaml": exTimingTask}), "timing.yaml")
	r := exRun(t, exWithLab("run", "--templates", tmpl, "-o", "json", task)...)
	exMustSucceed(t, r)
	rep := exParseReport(t, r)

	// The nodes are containers on one kernel: their clocks are the same
	// clock, so intervals from different nodes compare.
	serial := rep.phase(t, "Serial timing")
	if serial.Detail != "serial, 3 hosts" {
		t.Errorf("serial phase detail %q", serial.Detail)
	}
	s := exIntervals(t, serial)
	if got := []string{s[0].host, s[1].host, s[2].host}; !slices.Equal(got, lab.Nodes) {
		t.Fatalf("serial phase hosts %v, want inventory order %v", got, lab.Nodes)
	}
	for i := 1; i < len(s); i++ {
		if s[i].start < s[i-1].end {
			t.Errorf("serial: %s started %s before %s ended", s[i].host,
				time.Duration(s[i-1].end-s[i].start), s[i-1].host)
		}
	}
	// The client-side timestamps of the report agree.
	for i := 1; i < len(serial.Hosts); i++ {
		prev, cur := serial.Hosts[i-1], serial.Hosts[i]
		if cur.Started.Before(prev.Ended) {
			t.Errorf("serial report: %s started %v before %s ended %v", cur.Host, cur.Started, prev.Host, prev.Ended)
		}
	}

	par := exIntervals(t, rep.phase(t, "Parallel timing"))
	latestStart, earliestEnd := par[0].start, par[0].end
	for _, iv := range par[1:] {
		latestStart, earliestEnd = max(latestStart, iv.start), min(earliestEnd, iv.end)
	}
	if latestStart >= earliestEnd {
		t.Errorf("parallel: the three hosts never ran at the same time: %+v", par)
	}
	// And parallel must not have been serial in disguise: every host of the
	// serial phase ended before the next started, no host of this one did.
	for i := 1; i < len(par); i++ {
		if par[i].start >= par[i-1].end {
			t.Errorf("parallel: %s started after %s ended: %+v", par[i].host, par[i-1].host, par)
		}
	}
}

// ---------------------------------------------------------------------------
// 3. a host failing a phase stops the task before the next phase.

const exFailTemplate = `# e2e user template: fails on one host, leaves a file on the others
dir={{ q .Vars.dir }}
bad={{ q .Vars.bad_host }}
mkdir -p -- "${dir}"
if [[ $(hostname) == "${bad}" ]]; then
	echo "refusing to go on on $(hostname)" >&2
	exit 3
fi
sleep 0.3
touch -- "${dir}/phase1-$(hostname)"
echo "phase 1 done on $(hostname)"
`

const exMarkerTemplate = `# e2e user template: the phase that must not run
dir={{ q .Vars.dir }}
touch -- "${dir}/marker-$(hostname)"
`

func TestRunFailingHostStopsNextPhase(t *testing.T) {
	tmpl := exWriteFiles(t, t.TempDir(), map[string]string{"fail.sh.tmpl": exFailTemplate, "marker.sh.tmpl": exMarkerTemplate})
	for _, tc := range []struct {
		strategy string
		phase1   map[string]string // host → status in phase 1
	}{
		// parallel: the other hosts run to their end.
		{"parallel", map[string]string{"ncn-m001": "ok", "ncn-m002": "failed", "ncn-m003": "ok"}},
		// serial: the hosts after the failed one do not start.
		{"serial", map[string]string{"ncn-m001": "ok", "ncn-m002": "failed", "ncn-m003": "skipped"}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			dir := exRemoteDir(t, "fail")
			task := filepath.Join(exWriteFiles(t, t.TempDir(), map[string]string{"failing.yaml": fmt.Sprintf(`name: failing
vars:
  bad_host: ncn-m002
phases:
  - title: Fail on one host
    template: fail.sh.tmpl
    strategy: %s
  - title: Leave a marker
    template: marker.sh.tmpl
`, tc.strategy)}), "failing.yaml")
			r := exRun(t, exWithLab("run", "--templates", tmpl, "-e", "dir="+dir, "-o", "json", task)...)
			if r.code != 1 {
				t.Fatalf("want exit code 1 (the task failed):\n%s", r)
			}
			rep := exParseReport(t, r)
			if rep.Status != "failed" || !strings.Contains(rep.Error, "ncn-m002") {
				t.Errorf("report status=%q error=%q, want failed naming ncn-m002", rep.Status, rep.Error)
			}
			p1 := rep.phase(t, "Fail on one host")
			if got := p1.statuses(); !maps.Equal(got, tc.phase1) {
				t.Errorf("phase 1 statuses %v, want %v", got, tc.phase1)
			}
			if h := p1.host(t, "ncn-m002"); h.ExitCode == nil || *h.ExitCode != 3 ||
				!slices.Contains(h.Stderr, "refusing to go on on ncn-m002") {
				t.Errorf("ncn-m002: exit=%v stderr=%q, want 3 and its message", h.ExitCode, h.Stderr)
			}
			for n, st := range tc.phase1 {
				if st == "ok" && !slices.Contains(p1.host(t, n).Output, "phase 1 done on "+n) {
					t.Errorf("%s: did not finish phase 1: %q", n, p1.host(t, n).Output)
				}
			}
			p2 := rep.phase(t, "Leave a marker")
			if p2.Status != "skipped" || !strings.Contains(p2.Note, "earlier phase failed") {
				t.Errorf("phase 2 status=%q note=%q, want skipped because an earlier phase failed", p2.Status, p2.Note)
			}
			for _, h := range p2.Hosts {
				if h.Status != "skipped" {
					t.Errorf("phase 2: %s status %q", h.Host, h.Status)
				}
			}
			if !strings.Contains(r.stderr, `phase [1/2] "Fail on one host"`) || !strings.Contains(r.stderr, "ncn-m002") {
				t.Errorf("stderr does not name the failed phase and host:\n%s", r.stderr)
			}

			// What the nodes say: phase 1 files where phase 1 succeeded, no
			// phase 2 marker anywhere.
			for _, n := range lab.Nodes {
				files, _ := exRemoteFiles(t, n, dir)
				var got []string
				for f := range files {
					got = append(got, f)
				}
				slices.Sort(got)
				var want []string
				if tc.phase1[n] == "ok" {
					want = []string{"phase1-" + n}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s holds %v, want %v (phase 1's file where it succeeded, never phase 2's marker)", n, dir, got, want)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. a changed host key refuses the whole run.

// exFingerprint returns the SHA256 fingerprint of the public key on a
// known_hosts or .pub line, as ssh-keygen -l prints it.
func exFingerprint(t *testing.T, keyType, key string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "k.pub")
	if err := os.WriteFile(f, []byte(keyType+" "+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", f).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 || !strings.HasPrefix(fields[1], "SHA256:") {
		t.Fatalf("ssh-keygen -l printed %q", out)
	}
	return fields[1]
}

// exLabHostKeys returns the lab's known_hosts lines by node name: type, key.
func exLabHostKeys(t *testing.T) map[string][2]string {
	t.Helper()
	b, err := os.ReadFile(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("lab known_hosts line %q", line)
		}
		names := strings.Split(f[0], ",")
		keys[names[0]] = [2]string{f[1], f[2]}
	}
	for _, n := range lab.Nodes {
		if _, ok := keys[n]; !ok {
			t.Fatalf("lab known_hosts has no line for %s:\n%s", n, b)
		}
	}
	return keys
}

func TestExecHostKeyMismatchRefused(t *testing.T) {
	const victim = "ncn-m002"
	labKeys := exLabHostKeys(t)

	// A fresh ed25519 key takes the place of ncn-m002's in a copy of known_hosts.
	keyDir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-impostor",
		"-f", filepath.Join(keyDir, "impostor")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(keyDir, "impostor.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pf := strings.Fields(string(pub))
	orig, _ := os.ReadFile(lab.KnownHosts)
	var lines []string
	replaced := false
	for _, line := range strings.Split(strings.TrimSpace(string(orig)), "\n") {
		f := strings.Fields(line)
		if slices.Contains(strings.Split(f[0], ","), victim) {
			line = f[0] + " " + pf[0] + " " + pf[1]
			replaced = true
		}
		lines = append(lines, line)
	}
	if !replaced {
		t.Fatalf("no %s line in %s", victim, lab.KnownHosts)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	offered := exFingerprint(t, labKeys[victim][0], labKeys[victim][1]) // what sshd presents
	recorded := exFingerprint(t, pf[0], pf[1])                          // what the copy expects

	dir := exRemoteDir(t, "hostkey")
	command := "mkdir -p " + dir + " && touch " + dir + "/ran-$(hostname) && hostname"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			r := exRun(t, "exec", "-i", lab.Inventory, "--known-hosts", kh, "-o", format, "--", command)
			if r.code != 1 {
				t.Fatalf("want exit code 1:\n%s", r)
			}
			var line string
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.Contains(l, "host "+victim+":") {
					line = l
				}
			}
			for _, want := range []string{"CHANGED", offered, recorded, "refusing to connect"} {
				if !strings.Contains(line, want) {
					t.Errorf("the error line for %s lacks %q:\n%s", victim, want, r.stderr)
				}
			}
			for _, n := range lab.Nodes {
				if n != victim && strings.Contains(r.stderr, "host "+n+":") {
					t.Errorf("stderr reports a failure of %s, whose key is fine:\n%s", n, r.stderr)
				}
			}
			// Connecting is all or nothing: no host ran the command. Under
			// -o json stdout still holds one document: a failed run with no
			// phase, whose error names the refused host.
			if format == "json" {
				rep := exParseReport(t, r)
				if rep.Status != "failed" || len(rep.Phases) != 0 || !strings.Contains(rep.Error, victim) {
					t.Errorf("-o json report of a refused run: status %q, %d phases, error %q", rep.Status, len(rep.Phases), rep.Error)
				}
			}
			if exAnyHostLine(r.stdout) || exAnyHostLine(r.stderr) {
				t.Errorf("a host printed output although the run was refused:\n%s", r)
			}
			for _, n := range lab.Nodes {
				if _, exists := exRemoteFiles(t, n, dir); exists {
					t.Errorf("%s ran the command (%s exists) although %s's key was refused", n, dir, victim)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 5. an unknown host is refused, unless --accept-new-host-keys records it.

func TestExecUnknownHostRefused(t *testing.T) {
	labKeys := exLabHostKeys(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"exec", "-i", lab.Inventory, "--known-hosts", kh}

	refused := exRun(t, append(args, "--", "hostname")...)
	if refused.code != 1 || exAnyHostLine(refused.stdout) {
		t.Fatalf("want exit code 1 and no host output:\n%s", refused)
	}
	for _, n := range lab.Nodes {
		// Each host's refusal is one self-contained line.
		var line string
		for _, l := range strings.Split(refused.stderr, "\n") {
			if strings.Contains(l, "host "+n+":") {
				line = l
			}
		}
		fp := exFingerprint(t, labKeys[n][0], labKeys[n][1])
		for _, want := range []string{"unknown host key", fp, lab.IPs[n], "--accept-new-host-keys"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: the error line lacks %q:\n%s", n, want, refused.stderr)
			}
		}
	}
	if b, _ := os.ReadFile(kh); len(b) != 0 {
		t.Fatalf("a refused run wrote known_hosts:\n%s", b)
	}

	accepted := exRun(t, append(args, "--accept-new-host-keys", "--", "hostname")...)
	exMustSucceed(t, accepted)
	for _, n := range lab.Nodes {
		if got := exHostLines(accepted.stdout, n); !slices.Equal(got, []string{n}) {
			t.Errorf("%s: output %q", n, got)
		}
	}
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	recorded := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(recorded) != 3 {
		t.Fatalf("known_hosts holds %d lines after --accept-new-host-keys, want 3:\n%s", len(recorded), b)
	}
	byAddr := map[string][2]string{}
	for _, l := range recorded {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("recorded line %q", l)
		}
		byAddr[f[0]] = [2]string{f[1], f[2]}
	}
	for _, n := range lab.Nodes {
		if byAddr[lab.IPs[n]] != labKeys[n] {
			t.Errorf("%s: recorded key for %s is %v, want the node's real key %v", n, lab.IPs[n], byAddr[lab.IPs[n]], labKeys[n])
		}
	}

	// Now the keys are known: a strict run succeeds and records nothing more.
	strict := exRun(t, append(args, "--", "hostname")...)
	exMustSucceed(t, strict)
	for _, n := range lab.Nodes {
		if got := exHostLines(strict.stdout, n); !slices.Equal(got, []string{n}) {
			t.Errorf("%s: output %q", n, got)
		}
	}
	if b2, _ := os.ReadFile(kh); !bytes.Equal(b, b2) {
		t.Errorf("a strict run changed known_hosts:\n%s\nthen:\n%s", b, b2)
	}
}

// ---------------------------------------------------------------------------
// 6. through a jump host.

func TestExecThroughJumpHost(t *testing.T) {
	tmp := t.TempDir()
	targets := []string{"ncn-m002", "ncn-m003"}

	// Native inventory of the two targets, the key by identity_file.
	inv := filepath.Join(tmp, "targets.yaml")
	exWriteFiles(t, tmp, map[string]string{"targets.yaml": fmt.Sprintf(`defaults:
  user: root
  identity_file: %s
hosts:
  ncn-m002: {address: %s}
  ncn-m003: {address: %s}
`, lab.Key, lab.IPs["ncn-m002"], lab.IPs["ncn-m003"])})

	// The same through ssh_config alone: names, users, keys, known_hosts and
	// ProxyJump come from the config; the inventory only names the hosts.
	bare := filepath.Join(tmp, "bare.yaml")
	cfg := filepath.Join(tmp, "ssh_config")
	exWriteFiles(t, tmp, map[string]string{
		"bare.yaml": "hosts:\n  ncn-m002: {}\n  ncn-m003: {}\n",
		"ssh_config": fmt.Sprintf(`Host jumpbox
  HostName %[1]s
  User root
  IdentityFile %[2]s
  IdentitiesOnly yes
  UserKnownHostsFile %[3]s

Host ncn-m002 ncn-m003
  ProxyJump jumpbox
  User root
  IdentityFile %[2]s
  IdentitiesOnly yes
  UserKnownHostsFile %[3]s

Host ncn-m002
  HostName %[4]s

Host ncn-m003
  HostName %[5]s
`, lab.IPs["ncn-m001"], lab.Key, lab.KnownHosts, lab.IPs["ncn-m002"], lab.IPs["ncn-m003"]),
	})
	// A config file that lists nobody, for the direct control run.
	empty := filepath.Join(tmp, "empty_ssh_config")
	exWriteFiles(t, tmp, map[string]string{"empty_ssh_config": "# nothing\n"})

	for _, tc := range []struct {
		name       string
		args       []string
		wantClient string
	}{
		{"jump flag", []string{"-i", inv, "--known-hosts", lab.KnownHosts, "--ssh-config", empty, "--jump", "root@" + lab.IPs["ncn-m001"]}, lab.IPs["ncn-m001"]},
		{"ssh_config ProxyJump", []string{"-i", bare, "--ssh-config", cfg}, lab.IPs["ncn-m001"]},
		// The control: without a jump host the lab's bridge address connects,
		// so the check above can tell the two apart.
		{"direct", []string{"-i", inv, "--known-hosts", lab.KnownHosts, "--ssh-config", empty}, lab.Net + ".1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := exRun(t, append(append([]string{"exec"}, tc.args...), "-o", "json", "--", "echo $SSH_CONNECTION")...)
			exMustSucceed(t, r)
			rep := exParseReport(t, r)
			if !slices.Equal(rep.Hosts, targets) {
				t.Fatalf("hosts %v, want %v", rep.Hosts, targets)
			}
			for _, n := range targets {
				h := rep.Phases[0].host(t, n)
				if len(h.Output) != 1 {
					t.Fatalf("%s: output %q", n, h.Output)
				}
				// SSH_CONNECTION: client-ip client-port server-ip server-port
				f := strings.Fields(h.Output[0])
				if len(f) != 4 || f[0] != tc.wantClient || f[2] != lab.IPs[n] {
					t.Errorf("%s: SSH_CONNECTION %q, want client %s and server %s", n, h.Output[0], tc.wantClient, lab.IPs[n])
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 7. Ansible inventories drive the same run as the native one.

func TestRunAnsibleInventoryDrivesSameRun(t *testing.T) {
	tmp := t.TempDir()
	exWriteFiles(t, tmp, map[string]string{
		// INI: the masters as a range; the addresses as host variables set in
		// a second group (Ansible merges a host's variables over its groups).
		"hosts.ini": fmt.Sprintf(`# e2e: the lab as an Ansible INI inventory
[masters]
ncn-m00[1:3] ansible_user=root ansible_ssh_private_key_file=%s

[lab_addresses]
ncn-m001 ansible_host=%s
ncn-m002 ansible_host=%s
ncn-m003 ansible_host=%s
`, lab.Key, lab.IPs["ncn-m001"], lab.IPs["ncn-m002"], lab.IPs["ncn-m003"]),
		"hosts.yml": fmt.Sprintf(`# e2e: the lab as an Ansible YAML inventory
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: %s
  children:
    masters:
      hosts:
        ncn-m001: {ansible_host: %s}
        ncn-m002: {ansible_host: %s}
        ncn-m003: {ansible_host: %s}
`, lab.Key, lab.IPs["ncn-m001"], lab.IPs["ncn-m002"], lab.IPs["ncn-m003"]),
	})
	inventories := []struct{ name, path string }{
		{"native", lab.Inventory},
		{"ansible-ini", filepath.Join(tmp, "hosts.ini")},
		{"ansible-yaml", filepath.Join(tmp, "hosts.yml")},
	}
	hostnames := func(t *testing.T, rep *exReport) map[string]string {
		t.Helper()
		if rep.Action != "hostinfo" || rep.Status != "ok" || len(rep.Phases) != 1 {
			t.Fatalf("report: action=%q status=%q phases=%d", rep.Action, rep.Status, len(rep.Phases))
		}
		got := map[string]string{}
		for _, h := range rep.Phases[0].Hosts {
			if h.Status != "ok" {
				t.Errorf("%s: status %q", h.Host, h.Status)
			}
			for _, l := range h.Output {
				if v, ok := strings.CutPrefix(l, "hostname="); ok {
					got[h.Host] = v
				}
			}
		}
		return got
	}

	var reference map[string]string
	for _, inv := range inventories {
		t.Run(inv.name, func(t *testing.T) {
			r := exRun(t, "run", "-i", inv.path, "--known-hosts", lab.KnownHosts, "-o", "json", "hostinfo")
			exMustSucceed(t, r)
			rep := exParseReport(t, r)
			if !slices.Equal(rep.Hosts, lab.Nodes) {
				t.Errorf("hosts %v, want %v", rep.Hosts, lab.Nodes)
			}
			got := hostnames(t, rep)
			want := map[string]string{}
			for _, n := range lab.Nodes {
				want[n] = n
			}
			if !maps.Equal(got, want) {
				t.Errorf("hostname= per host %v, want %v", got, want)
			}
			if reference == nil {
				reference = got
			} else if !maps.Equal(got, reference) {
				t.Errorf("%s differs from native: %v vs %v", inv.name, got, reference)
			}

			lim := exRun(t, "run", "-i", inv.path, "--known-hosts", lab.KnownHosts, "--limit", "ncn-m00[1:2]", "-o", "json", "hostinfo")
			exMustSucceed(t, lim)
			lrep := exParseReport(t, lim)
			two := []string{"ncn-m001", "ncn-m002"}
			if !slices.Equal(lrep.Hosts, two) {
				t.Errorf("--limit 'ncn-m00[1:2]': hosts %v, want %v", lrep.Hosts, two)
			}
			if got := hostnames(t, lrep); !maps.Equal(got, map[string]string{"ncn-m001": "ncn-m001", "ncn-m002": "ncn-m002"}) {
				t.Errorf("--limit 'ncn-m00[1:2]': hostname= per host %v", got)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 8. a user task: log rotation, and values that try to break out of quotes.

const exRotateTemplate = `# e2e user template rotate.sh.tmpl: append a line to app.log, then rotate
# it, keeping .Vars.keep copies (app.log.1 newest).
dir={{ q .Vars.dir }}
keep={{ q .Vars.keep }}
run={{ q .Vars.run }}
if [[ ! ${keep} =~ ^[0-9]+$ ]]; then
	echo "rotate: keep must be a positive integer, got ${keep}" >&2
	exit 2
fi
if (( keep < 1 )); then
	echo "rotate: keep must be a positive integer, got ${keep}" >&2
	exit 2
fi
mkdir -p -- "${dir}"
log="${dir}/app.log"
printf '%s %s\n' "$(hostname)" "${run}" >> "${log}"
rm -f -- "${log}.${keep}"
for (( i = keep - 1; i >= 1; i-- )); do
	if [[ -e ${log}.${i} ]]; then
		mv -- "${log}.${i}" "${log}.$(( i + 1 ))"
	fi
done
mv -- "${log}" "${log}.1"
: > "${log}"
echo "rotated ${log}, keeping ${keep}"
`

const exNoteTemplate = `# e2e user template note.sh.tmpl: store a value as it was given.
dir={{ q .Vars.dir }}
run={{ q .Vars.run }}
note={{ q .Vars.note }}
mkdir -p -- "${dir}"
printf '%s' "${note}" > "${dir}/note-${run}.txt"
`

const exRotateTask = `name: rotate-app-log
description: e2e - rotate an application log on every NCN, keeping N copies
vars:
  keep: 5
  run: manual
  note: none
phases:
  - title: Record the note
    template: note.sh.tmpl
  - title: Rotate app.log
    template: rotate.sh.tmpl
    strategy: serial
`

func TestRunUserTaskReuse(t *testing.T) {
	tmpl := exWriteFiles(t, t.TempDir(), map[string]string{"rotate.sh.tmpl": exRotateTemplate, "note.sh.tmpl": exNoteTemplate})
	task := filepath.Join(exWriteFiles(t, t.TempDir(), map[string]string{"rotate.yaml": exRotateTask}), "rotate.yaml")
	dir := exRemoteDir(t, "rotate")

	// ncnpush reads the file as a task like its built-in ones.
	show := exRun(t, "tasks", "show", task)
	exMustSucceed(t, show)
	if !strings.HasPrefix(show.stdout, "# rotate-app-log ("+task+")") || !strings.Contains(show.stdout, "template: rotate.sh.tmpl") {
		t.Errorf("tasks show:\n%s", show)
	}

	// Each run also stores one hostile value; each must arrive as typed.
	notes := []string{
		"a'b; $(touch " + dir + "/pwned)",
		"`touch " + dir + "/pwned-backquote`\"; touch " + dir + "/pwned-dq; \"",
		"line one\nline two'; touch " + dir + "/pwned-newline; echo '${HOME} $$ \\ * ~",
	}
	for i, note := range notes {
		run := fmt.Sprintf("run%d", i+1)
		r := exRun(t, exWithLab("run", "--templates", tmpl, "-e", "dir="+dir, "-e", "keep=2",
			"-e", "run="+run, "-e", "note="+note, "-o", "json", task)...)
		exMustSucceed(t, r)
		rep := exParseReport(t, r)
		if rep.Action != "rotate-app-log" || rep.Status != "ok" {
			t.Fatalf("%s: report action=%q status=%q", run, rep.Action, rep.Status)
		}
	}

	for _, n := range lab.Nodes {
		files, _ := exRemoteFiles(t, n, dir)
		want := map[string]string{
			// keep=2 from -e beats the task's keep: 5: run1 rotated away.
			"app.log":   "",
			"app.log.1": n + " run3\n",
			"app.log.2": n + " run2\n",
			// Each note arrived byte for byte, and nothing it tried to run
			// ran: no pwned file.
			"note-run1.txt": notes[0],
			"note-run2.txt": notes[1],
			"note-run3.txt": notes[2],
		}
		if !maps.Equal(files, want) {
			t.Errorf("%s: %s holds\n%q\nwant\n%q", n, dir, files, want)
		}
	}
}

// ---------------------------------------------------------------------------
// 9. Ctrl-C ends the remote commands.

func TestExecCtrlCLeavesNoRemoteProcess(t *testing.T) {
	// A number no one else sleeps for: the remote process is found by it.
	secs := 30000 + int(time.Now().UnixNano()%30000)
	pattern := fmt.Sprintf("^sleep %d$", secs)
	remote := func(node string) []string {
		out, err := lab.SSH(t, node, "pgrep -f '"+pattern+"' || true")
		if err != nil {
			t.Fatalf("%s: pgrep: %v\n%s", node, err, out)
		}
		return strings.Fields(out)
	}
	t.Cleanup(func() { // whatever happens, leave nothing sleeping
		for _, n := range lab.Nodes {
			lab.SSH(t, n, "for p in $(pgrep -f '"+pattern+"'); do kill \"$p\"; done")
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd, stdout, stderr := exCmd(t, ctx, exWithLab("exec", "--", fmt.Sprintf("sleep %d; echo never", secs))...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	finished := false
	defer func() { // a test that stops early leaves no ncnpush behind
		if !finished {
			cmd.Process.Kill()
			<-exited
		}
	}()

	deadline := time.Now().Add(20 * time.Second)
	for _, n := range lab.Nodes {
		for len(remote(n)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no 'sleep %d' process within 20s\nstdout:\n%s\nstderr:\n%s", n, secs, stdout, stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	var waitErr error
	select {
	case waitErr = <-exited:
		finished = true
	case <-time.After(10 * time.Second):
		t.Fatalf("ncnpush still running 10s after SIGINT\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	t.Logf("ncnpush exited %s after SIGINT", time.Since(sent).Round(time.Millisecond))
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit after SIGINT: %v, want exit code 130\nstderr:\n%s", waitErr, stderr)
	}
	if strings.Contains(stdout.String(), "never") {
		t.Errorf("the command went on after the sleep:\n%s", stdout)
	}

	deadline = sent.Add(10 * time.Second)
	for _, n := range lab.Nodes {
		for {
			left := remote(n)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: 'sleep %d' still running 10s after SIGINT (pids %v)", n, secs, left)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// ---------------------------------------------------------------------------
// 10. --dry-run runs only read-only phases.

const exFactsTemplate = `# e2e user template facts.sh.tmpl: read-only facts, KEY=VALUE.
echo "addr=$(hostname -I | awk '{print $1}')"
echo "name=$(hostname)"
`

const exWriteTemplate = `# e2e user template write.sh.tmpl: the write phase.
dir={{ q .Vars.dir }}
addr={{ .Self.facts.addr | q }}
mkdir -p -- "${dir}"
echo "${addr}" > "${dir}/marker"
`

const exDryRunTask = `name: dryrun-check
description: e2e - a read-only fact phase, then a write phase
phases:
  - title: Read facts
    template: facts.sh.tmpl
    readonly: true
    register: facts
    register_format: env
  - title: Write marker
    template: write.sh.tmpl
`

func TestRunDryRunChangesNothing(t *testing.T) {
	tmpl := exWriteFiles(t, t.TempDir(), map[string]string{"facts.sh.tmpl": exFactsTemplate, "write.sh.tmpl": exWriteTemplate})
	task := filepath.Join(exWriteFiles(t, t.TempDir(), map[string]string{"dryrun.yaml": exDryRunTask}), "dryrun.yaml")
	dir := exRemoteDir(t, "dryrun")
	args := slices.Clip(exWithLab("run", "--templates", tmpl, "-e", "dir="+dir, "--dry-run"))

	text := exRun(t, append(args, task)...)
	exMustSucceed(t, text)
	for _, want := range []string{
		"==> [1/2] Read facts (parallel, 3 hosts) [read-only: runs under --dry-run]",
		"==> [2/2] Write marker (parallel, 3 hosts) [dry-run: render only]",
		"dryrun-check: ok (dry-run)",
	} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, text)
		}
	}
	for _, n := range lab.Nodes {
		lines := exHostLines(text.stdout, n)
		// The rendered write script, with the fact the read-only phase really
		// read on that node.
		for _, want := range []string{
			"--- write.sh.tmpl (not run: --dry-run) ---",
			`echo "${addr}" > "${dir}/marker"`,
		} {
			if !slices.Contains(lines, want) {
				t.Errorf("%s: the dry-run output lacks the line %q: %q", n, want, lines)
			}
		}
		if !exAssigned(lines, "dir", dir) || !exAssigned(lines, "addr", lab.IPs[n]) {
			t.Errorf("%s: the dry-run output lacks dir=%s or addr=%s: %q", n, dir, lab.IPs[n], lines)
		}
	}

	js := exRun(t, append(args, "-o", "json", task)...)
	exMustSucceed(t, js)
	rep := exParseReport(t, js)
	if !rep.DryRun || rep.Status != "ok" {
		t.Errorf("report dry_run=%v status=%q", rep.DryRun, rep.Status)
	}
	facts := rep.phase(t, "Read facts")
	write := rep.phase(t, "Write marker")
	if facts.Status != "ok" || write.Status != "dry-run" {
		t.Errorf("phase statuses: facts %q, write %q; want ok, dry-run", facts.Status, write.Status)
	}
	for _, n := range lab.Nodes {
		if h := facts.host(t, n); h.Status != "ok" || !slices.Contains(h.Output, "addr="+lab.IPs[n]) {
			t.Errorf("%s: read-only phase status=%q output=%q", n, h.Status, h.Output)
		}
		if h := write.host(t, n); h.Status != "dry-run" || h.ExitCode != nil || !exAssigned(h.Output, "addr", lab.IPs[n]) {
			t.Errorf("%s: write phase status=%q exit=%v output=%q, want dry-run with the rendered script", n, h.Status, h.ExitCode, h.Output)
		}
	}

	for _, n := range lab.Nodes {
		if files, exists := exRemoteFiles(t, n, dir); exists {
			t.Errorf("%s: %s exists after --dry-run, holding %v", n, dir, files)
		}
	}
}

// ---------------------------------------------------------------------------
// 11. a --templates directory overrides and extends the built-in templates.
// (Named TestExecutor... so that -run 'TestExec|TestRun|TestExecutor' runs it.)

const exOverrideHostinfo = `# e2e site override of hostinfo.sh.tmpl
echo "hostname=$(hostname)"
echo "site_override=yes"
`

const exCustomTemplate = `# e2e site template custom.sh.tmpl
msg={{ q .Vars.msg }}
echo "${msg}"
`

func TestExecutorTemplatesOverride(t *testing.T) {
	dir := exWriteFiles(t, t.TempDir(), map[string]string{"hostinfo.sh.tmpl": exOverrideHostinfo, "custom.sh.tmpl": exCustomTemplate})
	origins := func(t *testing.T, out string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if i == 0 {
				if !slices.Equal(f, []string{"NAME", "ORIGIN"}) {
					t.Fatalf("templates list header %q", l)
				}
				continue
			}
			if len(f) != 2 {
				t.Fatalf("templates list line %q", l)
			}
			m[f[0]] = f[1]
		}
		return m
	}

	builtin := exRun(t, "templates", "list")
	exMustSucceed(t, builtin)
	base := origins(t, builtin.stdout)
	if base["hostinfo.sh.tmpl"] != "builtin" || base["exec.sh.tmpl"] != "builtin" {
		t.Fatalf("templates list without --templates: %v", base)
	}
	if _, ok := base["custom.sh.tmpl"]; ok {
		t.Fatalf("custom.sh.tmpl listed without --templates: %v", base)
	}

	list := exRun(t, "templates", "list", "--templates", dir)
	exMustSucceed(t, list)
	got := origins(t, list.stdout)
	want := maps.Clone(base)
	want["hostinfo.sh.tmpl"] = filepath.Join(dir, "hostinfo.sh.tmpl")
	want["custom.sh.tmpl"] = filepath.Join(dir, "custom.sh.tmpl")
	if !maps.Equal(got, want) {
		t.Errorf("templates list --templates %s:\n got %v\nwant %v", dir, got, want)
	}

	show := exRun(t, "templates", "show", "--templates", dir, "hostinfo.sh.tmpl")
	exMustSucceed(t, show)
	if show.stdout != exOverrideHostinfo {
		t.Errorf("templates show prints %q, want the override %q", show.stdout, exOverrideHostinfo)
	}
	if plain := exRun(t, "templates", "show", "hostinfo.sh.tmpl"); plain.code != 0 || plain.stdout == exOverrideHostinfo ||
		!strings.Contains(plain.stdout, "ncnpush built-in template hostinfo.sh.tmpl") {
		t.Errorf("templates show without --templates:\n%s", plain)
	}

	// The override is what a run renders.
	r := exRun(t, exWithLab("run", "--templates", dir, "-o", "json", "hostinfo")...)
	exMustSucceed(t, r)
	rep := exParseReport(t, r)
	for _, n := range lab.Nodes {
		if h := rep.Phases[0].host(t, n); !slices.Equal(h.Output, []string{"hostname=" + n, "site_override=yes"}) {
			t.Errorf("%s: run hostinfo with the override printed %q", n, h.Output)
		}
	}
}

// ---------------------------------------------------------------------------
// Flags after the task argument, as `ncnpush run --help` shows them.

const exEchoKeepTemplate = `# e2e user template: print a variable
keep={{ q .Vars.keep }}
echo "keep=${keep}"
`

// TestRunAcceptsFlagsAfterTask runs the form the help text of `ncnpush run`
// documents, "ncnpush run -i inventory.yaml ./rotate-logs.yaml --templates
// ./site-templates -e keep=7": flags after the task argument.
func TestRunAcceptsFlagsAfterTask(t *testing.T) {
	tmpl := exWriteFiles(t, t.TempDir(), map[string]string{"echokeep.sh.tmpl": exEchoKeepTemplate})
	task := filepath.Join(exWriteFiles(t, t.TempDir(), map[string]string{"echokeep.yaml": `name: echokeep
vars: {keep: 1}
phases:
  - title: Echo keep
    template: echokeep.sh.tmpl
`}), "echokeep.yaml")
	r := exRun(t, "run", "-i", lab.Inventory, task, "--known-hosts", lab.KnownHosts, "--templates", tmpl, "-e", "keep=7")
	exMustSucceed(t, r)
	for _, n := range lab.Nodes {
		if got := exHostLines(r.stdout, n); !slices.Equal(got, []string{"keep=7"}) {
			t.Errorf("%s: output %q, want [keep=7]", n, got)
		}
	}
}

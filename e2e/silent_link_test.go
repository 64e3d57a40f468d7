package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A silent link: packets between the workstation and one master are dropped,
// with no RST and no ICMP (a cable, a switch). It is injected inside the
// master's own network namespace: a blackhole route for the workstation's
// address (the lab bridge's), so that the master's replies to ncnpush vanish
// while the masters still reach each other and S3 is not involved.

// silence cuts the link between the workstation and node; the returned
// function restores it.
func silence(t *testing.T, node string) func() {
	t.Helper()
	ns := lab.NSPrefix + strings.TrimPrefix(node, "ncn-")
	gw := lab.Net + ".1"
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "route", "add", "blackhole", gw+"/32").CombinedOutput(); err != nil {
		t.Fatalf("%s: blackhole %s in %s: %v\n%s", node, gw, ns, err, out)
	}
	done := false
	undo := func() {
		if done {
			return
		}
		done = true
		exec.Command("ip", "netns", "exec", ns, "ip", "route", "del", "blackhole", gw+"/32").Run()
	}
	t.Cleanup(undo)
	return undo
}

// lockFree reports whether node's restore lock can be taken (checked from
// inside the node: no SSH needed).
func lockFree(t *testing.T, node string) bool {
	out, err := inNode(t, node, "f=/var/lib/ncnpush-etcd-restore/lock; [ ! -e $f ] || flock -n $f true && echo free")
	return err == nil && strings.Contains(out, "free")
}

// TestSilentLinkDuringTheStream: the link to one master goes silent while
// the snapshot streams. ncnpush gives that master up within the keepalive
// bound, reports it as that host's failure, changes nothing (etcd was never
// stopped), and the node's lock ends on its own within the heartbeat bound.
// The next run sweeps what the lost master kept in staging.
func TestSilentLinkDuringTheStream(t *testing.T) {
	name := backupWithData(t, "silent-before", "silent-after")
	p := newS3Proxy(t)
	p.mode.Store(proxySlow)
	l := startNcnpush(t, p.env(), restoreArgs("--backup", name, "--yes", "-o", "json", "--skip-k8s-heal")...)
	if !l.waitFor("] Stream the snapshot", 3*time.Minute) {
		t.Fatalf("no stream phase:\n%s", l.err.String())
	}
	time.Sleep(time.Second)
	undo := silence(t, "ncn-m003")
	cut := time.Now()
	r := l.wait(t, 3*time.Minute)
	took := time.Since(cut)
	p.mode.Store(proxyPass)
	t.Logf("exit %d after %v\n%s", r.code, took, r.stderr)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	msg := errorText(r.stderr)
	if !strings.Contains(msg, "ncn-m003") || !strings.Contains(msg, "keepalive") {
		t.Errorf("the error does not name the silent master and the keepalive:\n%s", msg)
	}
	if strings.Contains(msg, "ncn-m001:") || strings.Contains(msg, "ncn-m002:") {
		t.Errorf("the error blames a master that was reachable:\n%s", msg)
	}
	// 25 s of keepalives, and the clean-up on the two reachable masters.
	if took > 60*time.Second {
		t.Errorf("the silent link was noticed after %v", took)
	}
	// The lost master's lock ends on its own: no heartbeat for 25 s.
	deadline := time.Now().Add(45 * time.Second)
	for !lockFree(t, "ncn-m003") {
		if time.Now().After(deadline) {
			t.Fatalf("ncn-m003's restore lock is still held %v after the link went silent", time.Since(cut))
		}
		time.Sleep(time.Second)
	}
	t.Logf("ncn-m003's lock was free %v after the link went silent", time.Since(cut))
	undo()
	for _, n := range lab.Nodes {
		if out, err := lab.SSH(t, n, "systemctl is-active etcd"); err != nil {
			t.Errorf("%s: etcd %s: the stream's failure stopped it", n, strings.TrimSpace(out))
		}
	}
	checkData(t, "silent-after", 100, "never")
	// What the lost master kept: its run's staging directory and an open
	// journal that never went past "staged". The next restore removes it.
	left := lab.MustSSH(t, "ncn-m003", "ls -d /var/tmp/ncnpush-etcd-restore.* 2>/dev/null || true")
	r2 := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--skip-k8s-heal")...)
	if r2.code != 0 {
		t.Fatalf("the next restore: exit %d\n%s", r2.code, r2.stderr)
	}
	if strings.TrimSpace(left) != "" && !strings.Contains(r2.stdout, "removed the staging directory of an earlier run") {
		t.Errorf("the next restore did not say it removed %s:\n%s", left, r2.stdout)
	}
	if out := lab.MustSSH(t, "ncn-m003", "ls -d /var/tmp/ncnpush-etcd-restore.* 2>/dev/null || true"); strings.TrimSpace(out) != "" {
		t.Errorf("staging left on ncn-m003 after the next restore: %s", out)
	}
	checkData(t, "silent-before", 500, "silent-after")
}

// TestSilentLinkDuringTheStart: the link to one master goes silent while the
// restored members start. ncnpush gives it up within the keepalive bound and
// rolls back; it cannot reach that master, so it says so and names etcd
// recover, which, once the link is back, puts the original member back
// there too: every member holds the original data.
func TestSilentLinkDuringTheStart(t *testing.T) {
	name := backupWithData(t, "silentstart-before", "silentstart-after")
	dir := t.TempDir()
	mark := "/run/ncnpush-silent-start"
	// ncn-m003's start waits for the test before it starts etcd.
	overrideTemplate(t, dir, "etcd-start.sh.tmpl", "systemctl start --no-block etcd",
		fmt.Sprintf(`if [[ $(hostname) == ncn-m003 ]]; then touch %s; for i in $(seq 600); do [[ -e %s.go ]] && break; sleep 0.1; done; fi`, mark, mark))
	t.Cleanup(func() {
		for _, n := range lab.Nodes {
			inNode(t, n, "rm -f "+mark+" "+mark+".go")
		}
	})
	l := startNcnpush(t, nil, restoreArgs("--backup", name, "--yes", "--skip-k8s-heal", "--templates", dir)...)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if out, _ := inNode(t, "ncn-m003", "test -e "+mark+" && echo reached"); strings.Contains(out, "reached") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start never reached ncn-m003:\n%s", l.err.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	undo := silence(t, "ncn-m003")
	cut := time.Now()
	inNode(t, "ncn-m003", "touch "+mark+".go")
	r := l.wait(t, 5*time.Minute)
	t.Logf("exit %d after %v\n%s", r.code, time.Since(cut), r.stderr)
	msg := errorText(r.stderr)
	if r.code != 1 || !strings.Contains(msg, "rollback failed") || !strings.Contains(msg, "ncnpush etcd recover") {
		t.Errorf("exit %d; want 1, a failed rollback and etcd recover named:\n%s", r.code, msg)
	}
	if !strings.Contains(msg, "keepalive") {
		t.Errorf("the error does not say the link to ncn-m003 went silent:\n%s", msg)
	}
	undo()
	st := runNcnpush(t, "", "etcd", "status", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color")
	if st.code != 1 || !strings.Contains(st.stdout, "INTERRUPTED") {
		t.Errorf("etcd status after the lost master: exit %d\n%s\n%s", st.code, st.stdout, st.stderr)
	}
	rec := runNcnpush(t, "", "etcd", "recover", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color", "--yes")
	if rec.code != 0 {
		t.Fatalf("etcd recover: exit %d\n%s\n%s", rec.code, rec.stdout, rec.stderr)
	}
	waitHealthy(t)
	checkData(t, "silentstart-after", 100, "never")
	checkData(t, "silentstart-before", 500, "never")
	again := runNcnpush(t, "", "etcd", "recover", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color", "--yes")
	if again.code != 0 || !strings.Contains(again.stderr+again.stdout, "nothing to recover") {
		t.Errorf("etcd recover again: exit %d\n%s\n%s", again.code, again.stdout, again.stderr)
	}
}

// TestStatusAnswersWithAMasterUnreachable: etcd status shows the two
// masters it reaches, and a row for the third that says it is unreachable.
func TestStatusAnswersWithAMasterUnreachable(t *testing.T) {
	sshdDown(t, "ncn-m002")
	t.Cleanup(func() { sshdUp(t, "ncn-m002") })
	r := runNcnpush(t, "", "etcd", "status", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color")
	t.Logf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (a member unreachable)", r.code)
	}
	for _, n := range []string{"ncn-m001", "ncn-m003"} {
		if !strings.Contains(r.stdout, n+" ") || !strings.Contains(r.stdout, n+": etcd active") {
			t.Errorf("%s is not shown healthy with its node state:\n%s", n, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "unreachable") || !strings.Contains(r.stdout, "ncn-m002: not reachable") {
		t.Errorf("ncn-m002 is not shown as unreachable:\n%s", r.stdout)
	}
}

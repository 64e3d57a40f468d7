package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// ncnpush is the binary TestMain built for this run.
func ncnpush(t *testing.T) string {
	t.Helper()
	if binPath == "" {
		t.Fatal("ncnpush was not built")
	}
	return binPath
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// runNcnpush runs the binary with the lab's S3 environment.
func runNcnpush(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runNcnpushEnv(t, stdin, nil, args...)
}

// runNcnpushEnv is runNcnpush with env ("K=V") added after the lab's S3
// environment, which it overrides.
func runNcnpushEnv(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ncnpush(t), args...)
	cmd.Env = os.Environ()
	for k, v := range lab.S3Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ncnpush: %v", err)
	}
	return r
}

func restoreArgs(extra ...string) []string {
	return append([]string{"etcd", "restore", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color"}, extra...)
}

// backupWithData writes tag "before" (n keys), takes a CSM-style backup,
// then writes tag "after": a restore must bring back exactly "before".
func backupWithData(t *testing.T, before, after string) string {
	t.Helper()
	if out, err := lab.script("seed", "-tag", before, "-n", "500"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	// Backup names have a one-second resolution.
	time.Sleep(1100 * time.Millisecond)
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if out, err := lab.script("seed", "-tag", after, "-n", "100"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "bare-metal/"), ".tar.gz")
}

// nodeState is what must not change when a restore refuses or rolls back.
func nodeState(t *testing.T) map[string]string {
	t.Helper()
	st := map[string]string{}
	for _, n := range lab.Nodes {
		st[n] = lab.MustSSH(t, n, "systemctl is-active etcd || true; ls -d /var/lib/etcd/member* | sort; "+
			"ls -i /var/lib/etcd/member; ls -d /var/tmp/ncnpush-etcd-restore* 2>&1 || true; "+
			"echo open journals:; cd "+stateDir+" 2>/dev/null && grep -L '^end ' -- *.journal 2>/dev/null; true")
	}
	return st
}

func members(t *testing.T) []string {
	t.Helper()
	out, err := lab.Etcdctl(t, "ncn-m001", lab.endpoints(), "member list -w json")
	if err != nil {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	var ml memberList
	if err := json.Unmarshal([]byte(out), &ml); err != nil {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	var names []string
	for _, m := range ml.Members {
		if len(m.ClientURLs) > 0 {
			names = append(names, m.Name)
		}
	}
	return names
}

func checkData(t *testing.T, present string, n int, absent string) {
	t.Helper()
	if out, err := lab.script("check", "-tag", present, "-n", fmt.Sprint(n), "-absent", absent); err != nil {
		t.Fatalf("data check (want %q present, %q absent): %v\n%s", present, absent, err, out)
	}
}

func TestRestoreHappyPath(t *testing.T) {
	name := backupWithData(t, "happy-before", "happy-after")
	// Watch the staged snapshot's permissions while it exists.
	stop := make(chan struct{})
	perms := make(chan string, 1)
	go func() {
		seen := ""
		for {
			select {
			case <-stop:
				perms <- seen
				return
			default:
			}
			out, _ := lab.SSH(t, "ncn-m002", "stat -c '%a %U' /var/tmp/ncnpush-etcd-restore.*/etcd-dump.bin /var/tmp/ncnpush-etcd-restore.* 2>/dev/null")
			if strings.Count(out, "\n") == 2 && seen == "" {
				seen = out
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// The heal after the restore is tested on its own (k8s_heal_test.go).
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "-o", "json", "--skip-k8s-heal")...)
	close(stop)
	if r.code != 0 {
		t.Fatalf("restore exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	var rep struct {
		Action string `json:"action"`
		Status string `json:"status"`
		Phases []struct {
			Title  string `json:"title"`
			Status string `json:"status"`
			Hosts  []struct {
				Host   string `json:"host"`
				Status string `json:"status"`
				Note   string `json:"note"`
			} `json:"hosts"`
		} `json:"phases"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("-o json is not one JSON document: %v\n%s", err, r.stdout)
	}
	if rep.Action != "etcd-restore" || rep.Status != "ok" || len(rep.Phases) < 10 {
		t.Fatalf("report: %+v", rep)
	}
	checkData(t, "happy-before", 500, "happy-after")

	// Every member holds exactly the snapshot's live keys, as a second,
	// independent reader counts them: `backups verify` walks the dump's
	// bbolt file in Go on this machine.
	vr := runNcnpush(t, "", "backups", "verify", name, "-o", "json")
	var ver struct {
		Snapshot struct {
			Revision int64 `json:"revision"`
			LiveKeys int   `json:"liveKeys"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(vr.stdout), &ver); vr.code != 0 || err != nil || ver.Snapshot.LiveKeys < 500 {
		t.Fatalf("backups verify %s: exit %d, %v\n%s%s", name, vr.code, err, vr.stdout, vr.stderr)
	}
	wantNote := fmt.Sprintf("keys at the restored revision %d (the snapshot's: %d)", ver.Snapshot.Revision, ver.Snapshot.LiveKeys)
	verified := 0
	for _, ph := range rep.Phases {
		if ph.Title != "Verify the restored cluster" {
			continue
		}
		for _, h := range ph.Hosts {
			if h.Status == "ok" && strings.Contains(h.Note, fmt.Sprintf("%d %s", ver.Snapshot.LiveKeys, wantNote)) {
				verified++
			}
		}
	}
	if verified != len(lab.Nodes) {
		t.Errorf("verify did not find the snapshot's %d keys at revision %d on every member:\n%s", ver.Snapshot.LiveKeys, ver.Snapshot.Revision, r.stdout)
	}
	if got := members(t); len(got) != 3 {
		t.Fatalf("started members after restore: %v", got)
	}
	run := runIDRe.FindStringSubmatch(r.stderr)
	if run == nil {
		t.Fatalf("the plan names no run (member.pre-restore-<run>):\n%s", r.stderr)
	}
	for _, n := range lab.Nodes {
		if out, err := lab.SSH(t, n, "test -d /var/lib/etcd/member.pre-restore-"+run[1]); err != nil {
			t.Errorf("%s: no pre-restore member directory kept for run %s: %s", n, run[1], out)
		}
		checkNoStaging(t, n)
		// The run's journal: every step, closed as restored; root's, in
		// root's 0700 directory.
		j := lab.MustSSH(t, n, "stat -c '%a %U' "+stateDir+" "+stateDir+"/"+run[1]+".journal; cat "+stateDir+"/"+run[1]+".journal")
		if !strings.HasPrefix(j, "700 root\n600 root\n") {
			t.Errorf("%s: state directory and journal modes: %q, want 700 root / 600 root", n, j)
		}
		if !regexp.MustCompile(`(?s)\nrun ` + run[1] + `\n.*\nat staged .*\nat stop .*\nat swap .*\nat moved-aside .*\nat swapped .*\nat start .*\nend restored [^\n]*\n$`).MatchString("\n" + j) {
			t.Errorf("%s: the journal of %s does not record every step and end restored:\n%s", n, run[1], j)
		}
	}
	if seen := <-perms; seen != "600 root\n700 root\n" {
		t.Errorf("staged snapshot permissions while it existed: %q, want 600 root / 700 root", seen)
	}
	// Secrets never reach the output.
	for _, secret := range []string{lab.S3Env["AWS_SECRET_ACCESS_KEY"]} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the S3 secret appears in the output")
		}
	}
}

func TestRestorePreflightFailureChangesNothing(t *testing.T) {
	name := backupWithData(t, "pre-before", "pre-after")
	// Break one node's etcd config: its name is no longer in the cluster.
	lab.MustSSH(t, "ncn-m003", "cp /etc/kubernetes/kubeadmcfg.yaml /root/kubeadmcfg.yaml.bak && "+
		"sed -i 's/^\\( *name:\\) ncn-m003/\\1 ncn-m009/' /etc/kubernetes/kubeadmcfg.yaml")
	t.Cleanup(func() { lab.SSH(t, "ncn-m003", "mv /root/kubeadmcfg.yaml.bak /etc/kubernetes/kubeadmcfg.yaml") })
	before := nodeState(t)
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes")...)
	if r.code == 0 {
		t.Fatalf("restore with a broken node succeeded:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "preflight failed") || !strings.Contains(r.stderr, "ncn-m009") {
		t.Errorf("error does not explain the preflight failure:\n%s", r.stderr)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
	checkData(t, "pre-after", 100, "never")
}

func TestRestoreUnreachableNodeChangesNothing(t *testing.T) {
	name := backupWithData(t, "unreach-before", "unreach-after")
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	b, _ := os.ReadFile(lab.Inventory)
	// ncn-m003's SSH port is one where nothing listens.
	os.WriteFile(inv, bytes.Replace(b, []byte("{address: "+lab.IPs["ncn-m003"]+"}"), []byte("{address: "+lab.IPs["ncn-m003"]+", port: 2222}"), 1), 0o600)
	before := nodeState(t)
	r := runNcnpush(t, "", "etcd", "restore", "-i", inv, "--known-hosts", lab.KnownHosts, "--backup", name, "--yes", "--connect-timeout", "3s")
	if r.code == 0 || !strings.Contains(r.stderr, "ncn-m003") {
		t.Fatalf("restore with an unreachable node: exit %d\n%s", r.code, r.stderr)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestRestoreRollsBackWhenEtcdFailsToStart(t *testing.T) {
	name := backupWithData(t, "rb-before", "rb-after")
	dropIn := "/etc/systemd/system/etcd.service.d/99-broken.conf"
	// After the confirmation, break ncn-m002's etcd with a drop-in that
	// refuses to start etcd while this run's pre-restore directory exists,
	// i.e. on the restored member only: the rollback puts the old member
	// back, and etcd starts again. The test answers the prompt only once the
	// drop-in is there. The start timeout stays at its default (120 s): the
	// broken member must be given up on after its third restart, well before.
	cmd := exec.Command(ncnpush(t), restoreArgs("--backup", name)...)
	cmd.Env = os.Environ()
	for k, v := range lab.S3Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, _ := cmd.StdinPipe()
	var out, errb safeBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.SSH(t, "ncn-m002", "rm -f "+dropIn+"; systemctl daemon-reload") })
	deadline := time.Now().Add(4 * time.Minute)
	for !strings.Contains(errb.String(), "Type \"restore\"") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no confirmation prompt:\n%s", errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := runIDRe.FindStringSubmatch(errb.String())
	if m == nil {
		cmd.Process.Kill()
		t.Fatalf("the plan does not name the pre-restore directory:\n%s", errb.String())
	}
	lab.MustSSH(t, "ncn-m002", "mkdir -p /etc/systemd/system/etcd.service.d && printf '[Service]\\nExecStartPre=/bin/test ! -e /var/lib/etcd/member.pre-restore-"+m[1]+"\\n' > "+dropIn+" && systemctl daemon-reload")
	fmt.Fprintln(stdin, "restore")
	stdin.Close()
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("restore with a broken member succeeded:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "rolled back") {
		t.Errorf("error does not say the restore was rolled back:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "etcd on ncn-m002 restarted 3 times since the start: giving up") {
		t.Errorf("the crashing member was not given up on after 3 restarts:\n%s", errb.String())
	}
	t.Logf("restore output:\n%s\n%s", out.String(), errb.String())
	if strings.Contains(errb.String(), "rollback failed") {
		t.Fatalf("the rollback failed:\n%s", errb.String())
	}
	waitHealthy(t)
	checkData(t, "rb-after", 100, "never")
	checkData(t, "rb-before", 500, "never")
	for _, n := range lab.Nodes {
		out := lab.MustSSH(t, n, "ls -d /var/lib/etcd/member* | sort")
		if !strings.Contains(out, "member.failed-restore-"+m[1]) {
			t.Errorf("%s: the failed restore was not kept aside as member.failed-restore-%s: %s", n, m[1], out)
		}
		checkNoStaging(t, n)
		if j := lab.MustSSH(t, n, "tail -n 1 "+stateDir+"/"+m[1]+".journal"); !strings.HasPrefix(j, "end rolled-back ") {
			t.Errorf("%s: the journal of %s does not end rolled-back: %q", n, m[1], j)
		}
	}
}

func waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := lab.Etcdctl(t, "ncn-m001", lab.endpoints(), "endpoint health")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not healthy: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
}

func TestRestoreSecondConcurrentRunIsRefused(t *testing.T) {
	name := backupWithData(t, "conc-before", "conc-after")
	// Hold ncn-m001's lock the way a running restore does.
	// -tt: the remote shell gets SIGHUP, and lets the lock go, when the test
	// kills its ssh.
	holder := exec.Command("ssh", "-tt", "-F", lab.SSHConfig, "ncn-m001",
		"install -d -m 0700 "+stateDir+" && exec 9>>"+lockFile+" && flock -n 9 && echo 'run other-run' >"+lockFile+" && echo locked && sleep 120")
	hout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(hout, buf); err != nil || string(buf) != "locked" {
		t.Fatalf("could not take the lock: %q %v", buf, err)
	}
	before := nodeState(t)
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes")...)
	if r.code == 0 || !strings.Contains(r.stderr, "another") || !strings.Contains(r.stderr, "ncn-m001") {
		t.Fatalf("second restore: exit %d\n%s", r.code, r.stderr)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestRestoreDryRunChangesNothing(t *testing.T) {
	name := backupWithData(t, "dry-before", "dry-after")
	before := nodeState(t)
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--dry-run")...)
	if r.code != 0 {
		t.Fatalf("dry-run exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, want := range []string{"systemctl stop etcd", "member.pre-restore-", "snapshot restore", "systemctl start --no-block etcd"} {
		if !strings.Contains(all, want) {
			t.Errorf("dry-run output lacks the script line %q", want)
		}
	}
	// The plan names the heal that follows the restore (restoreArgs does
	// not skip it).
	if !strings.Contains(r.stderr, "5. then heal Kubernetes") {
		t.Errorf("the dry-run plan does not name the k8s heal step:\n%s", r.stderr)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
	checkData(t, "dry-after", 100, "never")
}

func TestRestoreUnconfirmedChangesNothing(t *testing.T) {
	name := backupWithData(t, "nc-before", "nc-after")
	before := nodeState(t)
	r := runNcnpush(t, "no\n", restoreArgs("--backup", name)...)
	if r.code == 0 || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("unconfirmed restore: exit %d\n%s", r.code, r.stderr)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
}

// safeBuffer is a bytes.Buffer safe for a writer and a reader.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkNoStaging fails the test if node holds a staging directory of a run
// (<staging_dir>.<run>), a staged snapshot or a partial upload in /var/tmp.
func checkNoStaging(t *testing.T, node string) {
	t.Helper()
	out := lab.MustSSH(t, node, "ls -d "+stagingDir+".* 2>/dev/null; "+
		"find /var/tmp -xdev \\( -name etcd-dump.bin -o -name '.ncnpush-upload-*' \\) ! -lname '/etc/ncnpush-pwned-*' 2>/dev/null; true")
	if strings.TrimSpace(out) != "" {
		t.Errorf("%s: staging left behind:\n%s", node, out)
	}
}

// What other users and earlier runs leave must neither be used nor stop a
// restore: (a) another user's directory at the fixed staging path of older
// versions, with dangling links under the staged file names, and a partial
// incoming member of some run; (b) the staging directory and open journal
// of an earlier run that never stopped etcd (the workstation died after
// staging), which the restore removes and closes.
func TestRestoreRecoversFromAnInterruptedRunsLeftovers(t *testing.T) {
	name := backupWithData(t, "left-before", "left-after")
	const (
		old      = "/var/tmp/ncnpush-etcd-restore"
		incoming = "/var/lib/etcd/member.incoming-19990101T000000Z"
		oldRun   = "19990101T000000Z-00000000"
	)
	oldStaging := stagingDir + "." + oldRun
	oldJournal := stateDir + "/" + oldRun + ".journal"
	target := "/etc/ncnpush-pwned-" + randHex(6)
	links := []string{"etcd-dump.bin", "restore.log", "restore", "count.log"}
	look := "stat -c '%i %U %a %F' " + old + " " + incoming + "; cd " + old + " && for f in " + strings.Join(links, " ") +
		"; do stat -c '%i %U %F %N' $f; done; ls -d " + target + "-* 2>/dev/null; true"
	t.Cleanup(func() {
		for _, n := range lab.Nodes {
			lab.SSH(t, n, "rm -rf -- "+old+" "+incoming+" "+oldStaging+" "+oldJournal+" "+target+"-*")
		}
	})
	before := map[string]string{}
	for _, n := range lab.Nodes {
		// (a) as nobody; the incoming member as root (only root writes there).
		lab.MustSSH(t, n, "rm -rf -- "+old+" && runuser -u nobody -- /bin/sh -c 'mkdir "+old+" && chmod 0777 "+old+
			" && for f in "+strings.Join(links, " ")+"; do ln -s "+target+"-$f "+old+"/$f || exit 1; done' && "+
			"mkdir -p "+incoming+"/snap")
		before[n] = lab.MustSSH(t, n, look)
		if !strings.Contains(before[n], " nobody 777 directory") || strings.Count(before[n], "symbolic link") != len(links) {
			t.Fatalf("%s: the plant is not what the test means:\n%s", n, before[n])
		}
		// (b) as the earlier run left it: its private staging directory
		// with a staged file, and its journal open at "staged".
		lab.MustSSH(t, n, "umask 077 && install -d -m 0700 "+stateDir+" && mkdir -m 0700 "+oldStaging+" && "+
			"head -c 4096 /dev/urandom >"+oldStaging+"/etcd-dump.bin && "+
			"printf 'run %s\\nstaging %s\\ndata /var/lib/etcd\\nat staged 1999-01-01T00:00:00Z\\n' "+oldRun+" "+oldStaging+" >"+oldJournal)
	}
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--skip-k8s-heal")...)
	if r.code != 0 {
		t.Fatalf("restore over leftovers: exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout+r.stderr, "removed the staging directory of an earlier run"); n < len(lab.Nodes) {
		t.Errorf("the earlier run's staging directory was reported removed %d times, want once per master:\n%s", n, r.stdout)
	}
	checkData(t, "left-before", 500, "left-after")
	for _, n := range lab.Nodes {
		if after := lab.MustSSH(t, n, look); after != before[n] {
			t.Errorf("%s: the planted files changed, or something was written through the links:\nbefore:\n%safter:\n%s", n, before[n], after)
		}
		if out, err := lab.SSH(t, n, "test ! -e "+oldStaging); err != nil {
			t.Errorf("%s: the earlier run's staging directory %s is still there: %s", n, oldStaging, out)
		}
		if j := lab.MustSSH(t, n, "tail -n 1 "+oldJournal); !strings.HasPrefix(j, "end abandoned ") {
			t.Errorf("%s: the earlier run's journal is not closed as abandoned: last line %q", n, j)
		}
		checkNoStaging(t, n)
	}
}

// With --bump-revision every member's revision jumps by bump_amount past the
// snapshot's, and the key check reads at that raised revision. etcd 3.4 has
// no etcdutl, and the preflight must refuse the flag with nothing changed.
func TestRestoreBumpRevision(t *testing.T) {
	name := backupWithData(t, "bump-before", "bump-after")
	if strings.HasPrefix(lab.Version, "3.4.") {
		before := nodeState(t)
		r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "--skip-k8s-heal")...)
		if r.code == 0 || !strings.Contains(r.stderr, "--bump-revision needs etcdutl 3.5.10") {
			t.Fatalf("--bump-revision on etcd %s: exit %d\n%s", lab.Version, r.code, r.stderr)
		}
		if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
		}
		return
	}
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "-e", "bump_amount=5000", "--skip-k8s-heal", "-o", "json")...)
	if r.code != 0 {
		t.Fatalf("restore --bump-revision: exit %d\n%s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`snapshot revision (\d+), (\d+) keys`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("the plan names no snapshot revision and key count:\n%s", r.stderr)
	}
	var snapRev, keys int64
	fmt.Sscan(m[1], &snapRev)
	fmt.Sscan(m[2], &keys)
	want := fmt.Sprintf("%d keys at the restored revision %d (the snapshot's: %d)", keys, snapRev+5000, keys)
	if n := strings.Count(r.stdout, want); n != len(lab.Nodes) {
		t.Errorf("%d members verified %q, want %d:\n%s", n, want, len(lab.Nodes), r.stdout)
	}
	checkData(t, "bump-before", 500, "bump-after")
	out, err := lab.Etcdctl(t, "ncn-m001", lab.endpoints(), "endpoint status -w json")
	if err != nil {
		t.Fatalf("endpoint status: %v\n%s", err, out)
	}
	for _, rev := range regexp.MustCompile(`"revision":(\d+)`).FindAllStringSubmatch(out, -1) {
		var got int64
		fmt.Sscan(rev[1], &got)
		if got < snapRev+5000 {
			t.Errorf("a member's revision is %d after --bump-revision 5000 over the snapshot's %d", got, snapRev)
		}
	}
}

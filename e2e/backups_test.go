package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The S3 catalogue commands against the lab's MinIO, with backups made by
// CSM's procedure (lab.sh backup) and by ncnpush backups create.

// outputs collects every output of the binary in this file, to prove at the
// end that no secret was ever printed.
var outputs struct {
	mu  sync.Mutex
	all []string
}

// runKept runs the binary (see runNcnpushEnv) and keeps its output.
func runKept(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := runNcnpushEnv(t, "", env, args...)
	outputs.mu.Lock()
	outputs.all = append(outputs.all, r.stdout, r.stderr)
	outputs.mu.Unlock()
	return r
}

// oneLineError checks that a failed run printed exactly one line, the
// error, on stderr.
func oneLineError(t *testing.T, what string, r result) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("%s: exit 0\nstdout:\n%s", what, r.stdout)
	}
	stderr := withoutRunLog(r.stderr)
	if !strings.HasPrefix(stderr, "ncnpush: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: stderr is not one error line:\n%s", what, r.stderr)
	}
	return stderr
}

// withoutRunLog is stderr without the line that names the run log
// ("ncnpush: run log: PATH", the first line of a command that keeps one).
func withoutRunLog(stderr string) string {
	if first, rest, ok := strings.Cut(stderr, "\n"); ok && strings.HasPrefix(first, "ncnpush: run log: ") {
		return rest
	}
	return stderr
}

// csmBackup takes a backup as CSM's CronJob does and returns its name.
func csmBackup(t *testing.T) string {
	t.Helper()
	// A fresh lab's cluster holds no key yet, and a snapshot of it has
	// revision 0: write some data first, whatever test runs first.
	if out, err := lab.script("seed", "-tag", "csm-backup", "-n", "50"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("lab backup: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "bare-metal/"), ".tar.gz")
}

type listed struct {
	Key  string    `json:"key"`
	Name string    `json:"name"`
	Time time.Time `json:"time"`
	Size int64     `json:"size"`
}

func TestBackupsListAndVerifyCSMBackups(t *testing.T) {
	older := csmBackup(t)
	time.Sleep(1100 * time.Millisecond) // names have a one-second resolution
	newer := csmBackup(t)

	r := runKept(t, nil, "backups", "list")
	if r.code != 0 {
		t.Fatalf("backups list: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !regexp.MustCompile(`^\d+ backups in s3://etcd-backup/bare-metal/$`).MatchString(lines[len(lines)-1]) {
		t.Errorf("backups list: header or footer:\n%s", r.stdout)
	}
	iNewer, iOlder := -1, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, newer+" "):
			iNewer = i
		case strings.HasPrefix(l, older+" "):
			iOlder = i
		}
	}
	if iNewer < 0 || iOlder < 0 || iNewer > iOlder {
		t.Errorf("backups list does not show %s before %s:\n%s", newer, older, r.stdout)
	}

	r = runKept(t, nil, "backups", "list", "-o", "json")
	var all []listed
	if err := json.Unmarshal([]byte(r.stdout), &all); r.code != 0 || err != nil {
		t.Fatalf("backups list -o json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	var names []string
	for i, b := range all {
		names = append(names, b.Name)
		if b.Key != "bare-metal/"+b.Name+".tar.gz" || b.Size <= 0 || b.Time.IsZero() {
			t.Errorf("listed %+v", b)
		}
		if i > 0 && b.Time.After(all[i-1].Time) {
			t.Errorf("not newest first: %s after %s", b.Name, all[i-1].Name)
		}
	}
	if i, j := slices.Index(names, newer), slices.Index(names, older); i < 0 || j < 0 || i > j {
		t.Errorf("-o json: %s at %d, %s at %d in %v", newer, i, older, j, names)
	}

	// verify latest: the newest backup, with its revision and key count.
	r = runKept(t, nil, "backups", "verify", "latest")
	if r.code != 0 {
		t.Fatalf("backups verify latest: exit %d\n%s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`^(etcd-backup-[0-9-]+): ok\n(?s:.*)\n  revision   ([1-9]\d*)\n  keys       ([1-9]\d*) \(live (\d+)\)\n$`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] < newer || m[1] != all[0].Name {
		t.Fatalf("backups verify latest:\n%s", r.stdout)
	}
	// The same through -o json, for a named backup.
	r = runKept(t, nil, "backups", "verify", older, "-o", "json")
	var v struct {
		Backup   listed `json:"backup"`
		DumpSize int64  `json:"dumpSize"`
		SHA256   string `json:"sha256"`
		Snapshot struct {
			Revision int64 `json:"revision"`
			TotalKey int   `json:"totalKey"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil || v.Backup.Name != older ||
		len(v.SHA256) != 64 || v.Snapshot.Revision < 1 || v.Snapshot.TotalKey < 1 || v.DumpSize < 1 {
		t.Errorf("backups verify %s -o json: exit %d, %v\n%s%s", older, r.code, err, r.stdout, r.stderr)
	}
}

// createOut is what `backups create -o json` prints.
type createOut struct {
	Status   string `json:"status"`
	Error    string `json:"error"`
	Name     string `json:"name"`
	Key      string `json:"key"`
	Bucket   string `json:"bucket"`
	Size     int64  `json:"size"`
	DumpSize int64  `json:"dumpSize"`
	SHA256   string `json:"sha256"`
	Revision int64  `json:"revision"`
	Keys     int    `json:"keys"`
	Host     string `json:"host"`
	Report   struct {
		Action string `json:"action"`
		Status string `json:"status"`
		Phases []struct {
			Title  string `json:"title"`
			Status string `json:"status"`
			Hosts  []struct {
				Host   string   `json:"host"`
				Status string   `json:"status"`
				Output []string `json:"output"`
			} `json:"hosts"`
		} `json:"phases"`
	} `json:"report"`
}

func createArgs(extra ...string) []string {
	return append([]string{"backups", "create", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color"}, extra...)
}

// noSnapshotDirs fails if a node still holds a snapshot directory of
// backups create.
func noSnapshotDirs(t *testing.T) {
	t.Helper()
	for _, n := range lab.Nodes {
		if out := lab.MustSSH(t, n, "ls -d /var/tmp/ncnpush-etcd-backup-* 2>/dev/null || true"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: snapshot directory left behind: %s", n, out)
		}
	}
}

// uniqueTag is a data tag of its own for this run of a test: the lab may be
// reused, and a tag written by an earlier run may be in a backup.
func uniqueTag(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	return base + "-" + hex.EncodeToString(b)
}

func TestBackupsCreateIsACSMBackupThatRestores(t *testing.T) {
	before, after := uniqueTag(t, "create-before"), uniqueTag(t, "create-after")
	if out, err := lab.script("seed", "-tag", before, "-n", "500"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	r := runKept(t, nil, createArgs("-o", "json")...)
	if r.code != 0 {
		t.Fatalf("backups create: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var c createOut
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("-o json is not one JSON document: %v\n%s", err, r.stdout)
	}
	ts := strings.TrimPrefix(c.Name, "etcd-backup-")
	if c.Status != "ok" || !regexp.MustCompile(`^\d{4}(-\d{2}){5}$`).MatchString(ts) || c.Key != "bare-metal/"+c.Name+".tar.gz" ||
		c.Bucket != "etcd-backup" || c.Size < 1 || c.DumpSize < 1 || len(c.SHA256) != 64 || c.Revision < 1 || c.Keys < 500 ||
		!slices.Contains(lab.Nodes, c.Host) {
		t.Fatalf("backups create -o json: %+v", c)
	}
	if c.Report.Action != "etcd-backup-create" || c.Report.Status != "ok" || len(c.Report.Phases) != 5 ||
		c.Report.Phases[4].Title != "Remove the snapshot from the member" {
		t.Errorf("report: %+v", c.Report)
	}
	// The picked member is the first healthy one: every member is healthy.
	if c.Host != lab.Nodes[0] {
		t.Errorf("snapshot taken on %s, want the first master %s", c.Host, lab.Nodes[0])
	}
	noSnapshotDirs(t)
	if out, err := lab.script("seed", "-tag", after, "-n", "100"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}

	// Debian's awscli downloads it; tar sees exactly CSM's layout.
	dir := t.TempDir()
	archive := filepath.Join(dir, c.Name+".tar.gz")
	if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", "s3://etcd-backup/"+c.Key, archive); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	list, err := exec.Command("tar", "tzf", archive).Output()
	if err != nil {
		t.Fatalf("tar tzf: %v", err)
	}
	if want := c.Name + "/\n" + c.Name + "/etcd-dump.bin\n"; string(list) != want {
		t.Fatalf("archive members:\n%s\nwant:\n%s", list, want)
	}
	if out, err := exec.Command("tar", "xzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v\n%s", err, out)
	}
	dump := filepath.Join(dir, c.Name, "etcd-dump.bin")
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != c.SHA256 || int64(len(b)) != c.DumpSize {
		t.Errorf("the dump in the archive: %d bytes, sha256 %x; create said %d bytes, %s", len(b), sum, c.DumpSize, c.SHA256)
	}
	// etcd's own tools agree with the revision and key count create printed.
	node := "ncn-m002"
	if out, err := exec.Command("scp", "-q", "-F", lab.SSHConfig, dump, node+":/root/create-check.bin").CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
	status := lab.MustSSH(t, node, "cd /root && if test -s /usr/bin/etcdutl; then "+
		"etcdutl snapshot status -w json create-check.bin; else ETCDCTL_API=3 etcdctl snapshot status -w json create-check.bin; fi; rm -f create-check.bin")
	var st struct {
		Revision int64 `json:"revision"`
		TotalKey int   `json:"totalKey"`
	}
	if i := strings.Index(status, "{"); i < 0 || json.Unmarshal([]byte(strings.TrimSpace(status[i:])), &st) != nil {
		t.Fatalf("snapshot status:\n%s", status)
	}
	if st.Revision != c.Revision || st.TotalKey != c.Keys {
		t.Errorf("etcd's snapshot status: revision %d, %d keys; create said revision %d, %d keys", st.Revision, st.TotalKey, c.Revision, c.Keys)
	}

	// ncnpush restores it: what was written before is there, after is not.
	rr := runKept(t, nil, restoreArgs("--backup", c.Name, "--yes", "--skip-k8s-heal")...)
	if rr.code != 0 {
		t.Fatalf("etcd restore --backup %s: exit %d\n%s\n%s", c.Name, rr.code, rr.stdout, rr.stderr)
	}
	checkData(t, before, 500, after)
	if got := members(t); len(got) != 3 {
		t.Fatalf("started members after the restore: %v", got)
	}

	// The text output names the key, size, sha256 and revision.
	r = runKept(t, nil, createArgs("--limit", "ncn-m003")...)
	if r.code != 0 {
		t.Fatalf("backups create --limit ncn-m003: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, re := range []string{
		`(?m)^backup etcd-backup-[0-9-]+ stored and verified$`,
		`(?m)^  key        s3://etcd-backup/bare-metal/etcd-backup-[0-9-]+\.tar\.gz$`,
		`(?m)^  size       [1-9]\d* bytes \(etcd-dump.bin [1-9]\d* bytes\)$`,
		`(?m)^  sha256     [0-9a-f]{64} \(etcd-dump.bin, the same on ncn-m003\)$`,
		`(?m)^  revision   [1-9]\d*$`,
		`(?m)^  taken on   ncn-m003$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("backups create output lacks %s:\n%s", re, r.stdout)
		}
	}
	noSnapshotDirs(t)
}

func TestBackupsCreateSkipsUnhealthyMember(t *testing.T) {
	lab.MustSSH(t, "ncn-m001", "systemctl stop etcd")
	t.Cleanup(func() { lab.SSH(t, "ncn-m001", "systemctl start etcd") })
	r := runKept(t, nil, createArgs("-o", "json")...)
	var c createOut
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || r.code != 0 {
		t.Fatalf("backups create with ncn-m001 down: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if c.Host != "ncn-m002" || c.Status != "ok" {
		t.Errorf("picked %s (status %s), want ncn-m002, the first healthy member", c.Host, c.Status)
	}
	if h := c.Report.Phases[0].Hosts; len(h) != 3 || h[0].Status != "failed" || h[1].Status != "ok" {
		t.Errorf("health phase: %+v", h)
	}
	if !strings.Contains(r.stderr, "the etcd member on ncn-m001 is not healthy") {
		t.Errorf("the reason ncn-m001 was skipped is not shown:\n%s", r.stderr)
	}
	noSnapshotDirs(t)
}

func TestBackupsPrune(t *testing.T) {
	src := csmBackup(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	prefix := "prune-test-" + hex.EncodeToString(suffix) + "/"
	t.Cleanup(func() { lab.AWS(t, "s3", "rm", "--quiet", "--recursive", "s3://etcd-backup/"+prefix) })
	stamps := map[string]string{
		"A": "2025-03-10-12-50-00",
		"B": "2025-03-10-12-10-00", // A's hour
		"C": "2025-03-10-11-30-00",
		"D": "2025-03-09-23-00-00", // the day before
		"E": "2025-03-09-08-00-00",
		"F": "2025-03-08-08-00-00",
	}
	name := func(id string) string { return "etcd-backup-" + stamps[id] }
	for _, id := range []string{"A", "B", "C", "D", "E", "F"} {
		if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", "s3://etcd-backup/bare-metal/"+src+".tar.gz",
			"s3://etcd-backup/"+prefix+name(id)+".tar.gz"); err != nil {
			t.Fatalf("aws s3 cp: %v\n%s", err, out)
		}
	}
	// Not a backup: never listed, never deleted.
	if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", "/etc/hostname", "s3://etcd-backup/"+prefix+"notes.txt"); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	inBucket := func() []string {
		t.Helper()
		out, err := lab.AWS(t, "s3", "ls", "s3://etcd-backup/"+prefix)
		if err != nil {
			t.Fatalf("aws s3 ls: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			got = append(got, f[len(f)-1])
		}
		slices.Sort(got)
		return got
	}
	objects := func(ids ...string) []string {
		out := []string{"notes.txt"}
		for _, id := range ids {
			out = append(out, name(id)+".tar.gz")
		}
		slices.Sort(out)
		return out
	}
	pruneArgs := func(extra ...string) []string {
		return append([]string{"backups", "prune", "--prefix", prefix}, extra...)
	}

	// A name that is not there: the error lists the nearest backups.
	r := runKept(t, nil, "backups", "verify", "--prefix", prefix, "etcd-backup-2025-03-10-12-50-01")
	msg := oneLineError(t, "verify a missing backup", r)
	if !strings.Contains(msg, "no such backup") || !strings.Contains(msg, "nearest: "+name("C")+", "+name("B")+", "+name("A")) {
		t.Errorf("missing backup: %s", msg)
	}

	// --keep-last 2 --keep-hourly 1 --keep-daily 1 keeps the two newest;
	// without --yes nothing is deleted.
	r = runKept(t, nil, pruneArgs("--keep-last", "2", "--keep-hourly", "1", "--keep-daily", "1")...)
	want := ""
	for _, id := range []string{"C", "D", "E", "F"} {
		want += "would delete " + prefix + name(id) + ".tar.gz\n"
	}
	want += "keep 2, would delete 4 (pass --yes to delete)\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("prune without --yes: exit %d\n%s\nwant:\n%s%s", r.code, r.stdout, want, r.stderr)
	}
	if got := inBucket(); !slices.Equal(got, objects("A", "B", "C", "D", "E", "F")) {
		t.Fatalf("prune without --yes deleted something: %v", got)
	}

	// Hourly and daily rules: the newest of each of the 2 latest hours (A,
	// C) and days (A, D).
	policy := []string{"--keep-last", "1", "--keep-hourly", "2", "--keep-daily", "2", "-o", "json"}
	var plan struct {
		Keep    []listed `json:"keep"`
		Drop    []listed `json:"drop"`
		Deleted bool     `json:"deleted"`
	}
	namesOf := func(bs []listed) string {
		var s []string
		for _, b := range bs {
			s = append(s, b.Name)
		}
		return strings.Join(s, " ")
	}
	r = runKept(t, nil, pruneArgs(policy...)...)
	if err := json.Unmarshal([]byte(r.stdout), &plan); r.code != 0 || err != nil || plan.Deleted ||
		namesOf(plan.Keep) != name("A")+" "+name("C")+" "+name("D") || namesOf(plan.Drop) != name("B")+" "+name("E")+" "+name("F") {
		t.Fatalf("prune -o json: exit %d, %v, %+v\n%s", r.code, err, plan, r.stderr)
	}
	if got := inBucket(); !slices.Equal(got, objects("A", "B", "C", "D", "E", "F")) {
		t.Fatalf("prune without --yes deleted something: %v", got)
	}
	r = runKept(t, nil, pruneArgs(append(policy, "--yes")...)...)
	if err := json.Unmarshal([]byte(r.stdout), &plan); r.code != 0 || err != nil || !plan.Deleted {
		t.Fatalf("prune --yes: exit %d, %v, %+v\n%s", r.code, err, plan, r.stderr)
	}
	if got := inBucket(); !slices.Equal(got, objects("A", "C", "D")) {
		t.Errorf("after prune --yes the prefix holds %v, want A, C, D and notes.txt", got)
	}
	// The real backups were not touched.
	if out, err := lab.AWS(t, "s3", "ls", "s3://etcd-backup/bare-metal/"+src+".tar.gz"); err != nil || !strings.Contains(out, src) {
		t.Errorf("prune under %s touched bare-metal/: %v %s", prefix, err, out)
	}
}

func TestBackupsBadInputs(t *testing.T) {
	secret := lab.S3Env["AWS_SECRET_ACCESS_KEY"]
	const wrong = "Wr0ng-s3cr3t-for-the-lab-tests"

	// Wrong credentials: one line, access denied, no secret.
	r := runKept(t, []string{"AWS_SECRET_ACCESS_KEY=" + wrong}, "backups", "list")
	msg := oneLineError(t, "list with a wrong secret", r)
	if !strings.Contains(msg, "S3 access denied") || !strings.Contains(msg, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %s", msg)
	}
	r = runKept(t, []string{"AWS_ACCESS_KEY_ID=nosuchkey0123456789"}, "backups", "list")
	if msg := oneLineError(t, "list with an unknown key", r); !strings.Contains(msg, "S3 access denied") || !strings.Contains(msg, "InvalidAccessKeyId") {
		t.Errorf("unknown access key: %s", msg)
	}
	// backups create checks S3 before it touches a node.
	r = runKept(t, []string{"AWS_SECRET_ACCESS_KEY=" + wrong}, createArgs()...)
	if msg := oneLineError(t, "create with a wrong secret", r); !strings.Contains(msg, "S3 check failed: nothing was changed") ||
		!strings.Contains(msg, "S3 access denied") {
		t.Errorf("create with a wrong secret: %s", msg)
	}
	if strings.Contains(r.stdout, "==>") {
		t.Errorf("create ran phases although S3 is not usable:\n%s", r.stdout)
	}

	// Endpoint down.
	for _, args := range [][]string{
		{"backups", "list", "--s3-endpoint", "http://127.0.0.1:1", "--s3-max-attempts", "1"},
		{"backups", "verify", "latest", "--s3-endpoint", "http://127.0.0.1:1", "--s3-max-attempts", "1"},
	} {
		r = runKept(t, nil, args...)
		if msg := oneLineError(t, strings.Join(args, " "), r); !strings.Contains(msg, "S3 endpoint unreachable") || !strings.Contains(msg, "127.0.0.1:1") {
			t.Errorf("%v: %s", args, msg)
		}
	}

	// --s3-credentials-from-secret with kubectl on the masters (the lab's real
	// kube-apiserver) and no such secret: kubectl's own one-line error.
	const ref = "default/etcd-backup-s3-credentials"
	lab.MustSSH(t, "ncn-m001", "kubectl delete secret -n default etcd-backup-s3-credentials --ignore-not-found")
	want := "ncnpush: read S3 credentials from Kubernetes secret " + ref + " on ncn-m001: " +
		"Error from server (NotFound): secrets \"etcd-backup-s3-credentials\" not found\n"
	r = runKept(t, nil, "backups", "list", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--s3-credentials-from-secret", ref)
	if oneLineError(t, "list --s3-credentials-from-secret", r); r.stderr != want || r.code != 1 {
		t.Errorf("list --s3-credentials-from-secret: exit %d\n%s\nwant:\n%s", r.code, r.stderr, want)
	}
	r = runKept(t, nil, createArgs("--s3-credentials-from-secret", ref, "-o", "json")...)
	var c createOut
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || r.code != 1 || c.Status != "failed" ||
		c.Error != strings.TrimSuffix(strings.TrimPrefix(want, "ncnpush: "), "\n") || len(c.Report.Phases) != 0 {
		t.Errorf("create --s3-credentials-from-secret -o json: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	r = runKept(t, nil, "backups", "list", "--s3-credentials-from-secret", ref)
	if msg := oneLineError(t, "secret without -i", r); r.code != 2 || !strings.Contains(msg, "needs -i INVENTORY") {
		t.Errorf("secret without -i: exit %d: %s", r.code, msg)
	}
	// The secret as CSM keeps it: the keys in it are the ones used, whatever
	// the environment says.
	lab.MustSSH(t, "ncn-m001", "kubectl create secret generic -n default etcd-backup-s3-credentials"+
		" --from-literal=access_key="+lab.S3Env["AWS_ACCESS_KEY_ID"]+" --from-literal=secret_key="+secret+
		" --from-literal=http_s3_endpoint="+lab.S3Env["AWS_ENDPOINT_URL"]+" >/dev/null")
	t.Cleanup(func() { lab.SSH(t, "ncn-m001", "kubectl delete secret -n default etcd-backup-s3-credentials") })
	r = runKept(t, []string{"AWS_ACCESS_KEY_ID=nosuchkey0123456789", "AWS_SECRET_ACCESS_KEY=" + wrong},
		"backups", "list", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--s3-credentials-from-secret", ref)
	if r.code != 0 || !strings.Contains(r.stdout, "etcd-backup-") {
		t.Errorf("list with the keys from %s: exit %d\n%s\n%s", ref, r.code, r.stdout, r.stderr)
	}
	noSnapshotDirs(t)

	// No secret in any output of this file's tests.
	outputs.mu.Lock()
	defer outputs.mu.Unlock()
	for _, out := range outputs.all {
		if strings.Contains(out, secret) || strings.Contains(out, wrong) {
			t.Fatalf("a secret appears in the output:\n%s", out)
		}
	}
	if len(outputs.all) < 16 {
		t.Errorf("only %d outputs were checked for secrets", len(outputs.all))
	}
}

// pushOut is what `backups push -o json` prints.
type pushOut struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Staged *struct {
		Path   string   `json:"path"`
		Bytes  int64    `json:"bytes"`
		SHA256 string   `json:"sha256"`
		Hosts  []string `json:"hosts"`
	} `json:"staged"`
	Report struct {
		Phases []struct {
			Title string `json:"title"`
			Hosts []struct {
				Host   string   `json:"host"`
				Output []string `json:"output"`
			} `json:"hosts"`
		} `json:"phases"`
	} `json:"report"`
}

// backups push stages a private copy on every master whose bytes are the
// backup's dump; --verify reads every copy back and catches one that went
// bad on a host's disk.
func TestBackupsPushStagesAPrivateCheckedCopy(t *testing.T) {
	backup := backupWithData(t, uniqueTag(t, "push-before"), uniqueTag(t, "push-after"))
	dest := "/var/tmp/ncnpush-push-test"
	t.Cleanup(func() {
		for _, n := range lab.Nodes {
			lab.MustSSH(t, n, "rm -rf "+dest)
		}
	})
	args := func(extra ...string) []string {
		return append([]string{"backups", "push", "-i", lab.Inventory, "--known-hosts", lab.KnownHosts, "--no-color",
			"--backup", backup, "--dest", dest, "-o", "json"}, extra...)
	}
	parse := func(r result) pushOut {
		t.Helper()
		var p pushOut
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("-o json is not one JSON document: %v\n%s\n%s", err, r.stdout, r.stderr)
		}
		return p
	}
	r := runNcnpush(t, "", args()...)
	p := parse(r)
	if r.code != 0 || p.Status != "ok" || p.Staged == nil {
		t.Fatalf("backups push: exit %d, %+v\n%s", r.code, p, r.stderr)
	}
	s := p.Staged
	if s.Path != dest+"/"+backup+"-etcd-dump.bin" || s.Bytes < 1 || len(s.SHA256) != 64 || len(s.Hosts) != 3 {
		t.Fatalf("staged: %+v", s)
	}
	// Every host's copy: private, the announced size, and its bytes hash to
	// the announced sum, which the .sha256 file beside it records.
	for _, n := range lab.Nodes {
		out := lab.MustSSH(t, n, fmt.Sprintf("stat -c '%%a %%U %%s' %s; stat -c '%%a %%U' %s; sha256sum %s | cut -d' ' -f1; cd %s && sha256sum -c %s.sha256",
			s.Path, dest, s.Path, dest, filepath.Base(s.Path)))
		want := fmt.Sprintf("600 root %d\n700 root\n%s\n%s: OK", s.Bytes, s.SHA256, filepath.Base(s.Path))
		if strings.TrimSpace(out) != want {
			t.Errorf("%s: the staged copy:\n%s\nwant:\n%s", n, out, want)
		}
	}
	checkOutput := func(p pushOut, want string) {
		t.Helper()
		last := p.Report.Phases[len(p.Report.Phases)-1]
		if last.Title != "Check the staged snapshot on every host" || len(last.Hosts) != 3 {
			t.Fatalf("last phase: %+v", last)
		}
		for _, h := range last.Hosts {
			if got := strings.Join(h.Output, "\n"); !strings.Contains(got, want) {
				t.Errorf("%s: check says %q, want it to contain %q", h.Host, got, want)
			}
		}
	}
	checkOutput(p, fmt.Sprintf("%d bytes, sha256 %s", s.Bytes, s.SHA256))

	// --verify reads every copy back: the same copies pass...
	r = runNcnpush(t, "", args("--verify")...)
	if p = parse(r); r.code != 0 || p.Status != "ok" {
		t.Fatalf("backups push --verify: exit %d, %+v\n%s", r.code, p, r.stderr)
	}
	checkOutput(p, "read back: sha256 matches")
	// ...and one that a host's disk flipped a byte of after the stream does
	// not.
	dir := t.TempDir()
	overrideTemplate(t, dir, "backup-push-check.sh.tmpl", "got=$(sha256sum",
		`if [[ $(hostname) == ncn-m002 ]]; then printf 'X' | dd of="$dump" bs=1 seek=4096 conv=notrunc status=none; fi`)
	r = runNcnpush(t, "", args("--verify", "--templates", dir)...)
	p = parse(r)
	if r.code != 1 || p.Status != "failed" || p.Staged != nil ||
		!regexp.MustCompile(`staged snapshot sha256 on ncn-m002 is [0-9a-f]{64}, want `+s.SHA256).MatchString(p.Error) {
		t.Fatalf("a copy corrupted on ncn-m002 passed --verify: exit %d, %+v", r.code, p)
	}
}

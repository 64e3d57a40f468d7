// Package e2e is the lab suite: it brings the container-master lab up, proves
// it with real clients (OpenSSH, etcdctl, awscli, tar), runs the real ncnpush
// binary against it, and tears the lab down, checking that nothing is left.
//
// It needs root and Linux. NCNPUSH_LAB_REUSE=1 uses a lab that is already up
// and leaves it up (for a quick edit-test loop); the default is a fresh lab.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Lab holds what the lab wrote for its users.
type Lab struct {
	Dir        string // LAB_DIR
	Script     string // fixtures/lab.sh
	Nodes      []string
	IPs        map[string]string
	SSHConfig  string
	KnownHosts string
	Key        string
	Inventory  string
	S3Env      map[string]string
	Version    string // etcd version the lab runs
	Net        string // the lab's /24 without the last octet: 10.77.LAB_NET
	NSPrefix   string // prefix of the lab's network namespaces
	Bridge     string // the lab's bridge
}

// labNet returns LAB_NET (0 unless set): which of the machine's labs this
// suite uses. Each number is a lab of its own (see fixtures/lab.sh).
func labNet() string {
	if v := os.Getenv("LAB_NET"); v != "" {
		return v
	}
	return "0"
}

var lab *Lab

// binPath is the ncnpush binary built for this run of the suite.
var binPath string

// buildBinary builds the real binary into dir.
func buildBinary(dir string) error {
	binPath = filepath.Join(dir, "ncnpush")
	cmd := exec.Command("go", "build", "-o", binPath, ".")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the lab suite needs root (namespaces, mounts): run make test as root")
		return 1
	}
	n := labNet()
	dir := os.Getenv("LAB_DIR")
	if dir == "" {
		dir = "/var/tmp/ncnpush-lab"
		if n != "0" {
			dir += n
		}
		os.Setenv("LAB_DIR", dir)
	}
	// The run logs of every ncnpush the suite starts go to the lab's
	// directory, not to root's ~/.local/state (the tests that read them
	// pass --log-dir themselves).
	if os.Getenv("NCNPUSH_LOG_DIR") == "" {
		logs := filepath.Join(dir, "runlogs")
		os.MkdirAll(logs, 0o700)
		os.Setenv("NCNPUSH_LOG_DIR", logs)
	}
	net := "10.77." + n
	nsPrefix := "ncnlab-"
	if n != "0" {
		nsPrefix = "ncnlab" + n + "-"
	}
	l := &Lab{
		Net:        net,
		NSPrefix:   nsPrefix,
		Bridge:     "ncnlab" + n,
		Dir:        dir,
		Script:     filepath.Join(repoRoot(), "fixtures", "lab.sh"),
		Nodes:      []string{"ncn-m001", "ncn-m002", "ncn-m003"},
		IPs:        map[string]string{"ncn-m001": net + ".11", "ncn-m002": net + ".12", "ncn-m003": net + ".13"},
		SSHConfig:  filepath.Join(dir, "ssh_config"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Key:        filepath.Join(dir, "id_ed25519"),
		Inventory:  filepath.Join(dir, "inventory.yaml"),
	}
	binDir, err := os.MkdirTemp("", "ncnpush-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if err := buildBinary(binDir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	reuse := os.Getenv("NCNPUSH_LAB_REUSE") == "1"
	if !reuse {
		start := time.Now()
		if out, err := l.script("up"); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: lab up failed: %v\n%s\n", err, out)
			l.script("down")
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: lab up in %s\n", time.Since(start).Round(time.Second))
	}
	if l.S3Env, err = readEnvFile(filepath.Join(dir, "s3.env")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	v, _ := os.ReadFile(filepath.Join(dir, "run", "etcd-version"))
	l.Version = strings.TrimSpace(string(v))
	lab = l
	code := m.Run()
	if reuse {
		return code
	}
	if out, err := l.script("down"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab down failed: %v\n%s\n", err, out)
		return 1
	}
	if left := l.leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: lab down left things behind: %s\n", strings.Join(left, "; "))
		return 1
	}
	fmt.Fprintln(os.Stderr, "e2e: lab down: no process, mount, namespace or bridge left")
	return code
}

func (l *Lab) script(args ...string) (string, error) {
	cmd := exec.Command(l.Script, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// leftovers lists whatever of the lab still exists on the host.
func (l *Lab) leftovers() []string {
	var left []string
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), l.NSPrefix) {
		left = append(left, "network namespaces: "+strings.TrimSpace(string(out)))
	}
	if exec.Command("ip", "link", "show", l.Bridge).Run() == nil {
		left = append(left, "bridge "+l.Bridge)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), l.Dir+"/nodes/") {
		left = append(left, "mounts under "+l.Dir+"/nodes")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, l.Dir+"/nodes/") || strings.Contains(cmdline, l.Dir+"/s3-data") {
			left = append(left, "process "+filepath.Base(filepath.Dir(p))+": "+cmdline)
		}
	}
	return left
}

func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env, nil
}

// SSH runs a command on a node with OpenSSH, strict host-key checking on.
func (l *Lab) SSH(t *testing.T, node, command string) (string, error) {
	t.Helper()
	cmd := exec.Command("ssh", "-F", l.SSHConfig, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "ConnectTimeout=5", node, command)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String() + errOut.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// MustSSH is SSH that fails the test on error.
func (l *Lab) MustSSH(t *testing.T, node, command string) string {
	t.Helper()
	out, err := l.SSH(t, node, command)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", node, command, err, out)
	}
	return out
}

// Etcdctl runs etcdctl on node over TLS against the given endpoints.
func (l *Lab) Etcdctl(t *testing.T, node, endpoints string, args string) (string, error) {
	t.Helper()
	return l.SSH(t, node, "etcdctl --endpoints "+endpoints+
		" --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/server.crt"+
		" --key /etc/kubernetes/pki/etcd/server.key --dial-timeout 3s --command-timeout 5s "+args)
}

func (l *Lab) endpoints() string {
	var eps []string
	for _, n := range l.Nodes {
		eps = append(eps, "https://"+l.IPs[n]+":2379")
	}
	return strings.Join(eps, ",")
}

// AWS runs Debian's awscli against the lab's MinIO.
func (l *Lab) AWS(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("/usr/bin/aws", append([]string{"--endpoint-url", l.S3Env["AWS_ENDPOINT_URL"]}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+l.S3Env["AWS_ACCESS_KEY_ID"],
		"AWS_SECRET_ACCESS_KEY="+l.S3Env["AWS_SECRET_ACCESS_KEY"], "AWS_REGION=us-east-1", "AWS_PAGER=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestSSHReachesEveryMasterStrictly(t *testing.T) {
	for _, n := range lab.Nodes {
		got := strings.TrimSpace(lab.MustSSH(t, n, "hostname; id -u"))
		if got != n+"\n0" {
			t.Errorf("%s: hostname/uid = %q, want %q", n, got, n+"\n0")
		}
	}
	// The same key from an empty known_hosts must be refused: checking is strict.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	out, err := exec.Command("ssh", "-F", "/dev/null", "-i", lab.Key, "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+empty, "-o", "ConnectTimeout=5",
		"root@"+lab.IPs["ncn-m001"], "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Host key verification failed") {
		t.Fatalf("unknown host key was not refused: err=%v out=%s", err, out)
	}
}

func TestEachMasterHasItsOwnHostKey(t *testing.T) {
	b, err := os.ReadFile(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("known_hosts line %q", line)
		}
		keys[f[2]] = f[0]
	}
	if len(keys) != len(lab.Nodes) {
		t.Fatalf("known_hosts has %d distinct keys for %d nodes:\n%s", len(keys), len(lab.Nodes), b)
	}
}

func TestMastersHaveTheCSMLayout(t *testing.T) {
	for _, n := range lab.Nodes {
		ip := lab.IPs[n]
		cfg := lab.MustSSH(t, n, "cat /etc/kubernetes/kubeadmcfg.yaml")
		for _, want := range []string{
			"kind: ClusterConfiguration",
			"name: " + n,
			"initial-cluster: ncn-m001=https://" + lab.IPs["ncn-m001"] + ":2380,ncn-m002=https://" + lab.IPs["ncn-m002"] + ":2380,ncn-m003=https://" + lab.IPs["ncn-m003"] + ":2380",
			"initial-advertise-peer-urls: https://" + ip + ":2380",
		} {
			if !strings.Contains(cfg, want) {
				t.Errorf("%s: kubeadmcfg.yaml lacks %q", n, want)
			}
		}
		unit := lab.MustSSH(t, n, "systemctl cat etcd")
		for _, want := range []string{"Type=notify", "Restart=always", "ExecStart=/usr/bin/etcd", "--data-dir /var/lib/etcd",
			"--initial-cluster-token tkn", "--client-cert-auth=true", "--peer-client-cert-auth=true", "--name " + n} {
			if !strings.Contains(unit, want) {
				t.Errorf("%s: etcd.service lacks %q", n, want)
			}
		}
		lab.MustSSH(t, n, "mountpoint -q /var/lib/etcd")
		lab.MustSSH(t, n, "cd /etc/kubernetes/pki && for f in etcd/ca etcd/server etcd/peer apiserver-etcd-client; do "+
			"test -s $f.crt && test -s $f.key; done && "+
			"test \"$(stat -c %a etcd/server.key)\" = 600")
		if out := lab.MustSSH(t, n, "ps -o comm= -p 1"); strings.TrimSpace(out) != "systemd" {
			t.Errorf("%s: PID 1 is %q, want systemd", n, out)
		}
	}
}

func TestEtcdIsActiveOnEveryMaster(t *testing.T) {
	for _, n := range lab.Nodes {
		if out, err := lab.SSH(t, n, "systemctl is-active etcd"); err != nil || strings.TrimSpace(out) != "active" {
			t.Errorf("%s: systemctl is-active etcd = %q (%v)", n, out, err)
		}
		out := lab.MustSSH(t, n, "etcd --version")
		if !strings.Contains(out, "etcd Version: "+lab.Version) {
			t.Errorf("%s: etcd --version = %q, want %s", n, out, lab.Version)
		}
	}
}

type memberList struct {
	Members []struct {
		Name       string   `json:"name"`
		PeerURLs   []string `json:"peerURLs"`
		ClientURLs []string `json:"clientURLs"`
	} `json:"members"`
}

func TestMemberListShowsThreeStartedMembers(t *testing.T) {
	out, err := lab.Etcdctl(t, "ncn-m002", lab.endpoints(), "member list -w json")
	if err != nil {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	var ml memberList
	if err := json.Unmarshal([]byte(out), &ml); err != nil {
		t.Fatalf("member list json: %v\n%s", err, out)
	}
	var got []string
	for _, m := range ml.Members {
		if len(m.ClientURLs) == 0 {
			t.Errorf("member %s is not started (no client URLs)", m.Name)
		}
		got = append(got, m.Name+"="+strings.Join(m.PeerURLs, ","))
	}
	slices.Sort(got)
	want := []string{"ncn-m001=https://" + lab.IPs["ncn-m001"] + ":2380", "ncn-m002=https://" + lab.IPs["ncn-m002"] + ":2380", "ncn-m003=https://" + lab.IPs["ncn-m003"] + ":2380"}
	if !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
}

func TestStoppingAMemberMakesItUnhealthy(t *testing.T) {
	const n = "ncn-m003"
	ep := "https://" + lab.IPs[n] + ":2379"
	lab.MustSSH(t, n, "systemctl stop etcd")
	t.Cleanup(func() { lab.SSH(t, n, "systemctl start etcd") })
	if out, err := lab.Etcdctl(t, "ncn-m001", ep, "endpoint health"); err == nil {
		t.Fatalf("%s still healthy after systemctl stop etcd:\n%s", n, out)
	}
	lab.MustSSH(t, n, "systemctl start etcd")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := lab.Etcdctl(t, "ncn-m001", ep, "endpoint health")
		if err == nil { // etcdctl 3.4 prints the health line on stderr, 3.5+ on stdout
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy 30s after systemctl start etcd:\n%s", n, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var backupKey = regexp.MustCompile(`^bare-metal/etcd-backup-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})\.tar\.gz$`)

func TestCSMStyleBackupLandsInS3AndIsAValidSnapshot(t *testing.T) {
	if out, err := lab.script("seed", "-tag", "backupcheck", "-n", "50"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("lab backup: %v\n%s", err, out)
	}
	key := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	m := backupKey.FindStringSubmatch(key)
	if m == nil {
		t.Fatalf("backup key %q is not bare-metal/etcd-backup-<ts>.tar.gz", key)
	}
	ls, err := lab.AWS(t, "s3", "ls", "s3://etcd-backup/bare-metal/")
	if err != nil || !strings.Contains(ls, "etcd-backup-"+m[1]+".tar.gz") {
		t.Fatalf("aws s3 ls does not show the backup: %v\n%s", err, ls)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "b.tar.gz")
	if out, err := lab.AWS(t, "s3", "cp", "--only-show-errors", "s3://etcd-backup/"+key, archive); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	list, err := exec.Command("tar", "tzf", archive).Output()
	if err != nil {
		t.Fatalf("tar tzf: %v", err)
	}
	want := "etcd-backup-" + m[1] + "/\netcd-backup-" + m[1] + "/etcd-dump.bin\n"
	if string(list) != want {
		t.Fatalf("archive members:\n%s\nwant:\n%s", list, want)
	}
	if out, err := exec.Command("tar", "xzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v\n%s", err, out)
	}
	dump := filepath.Join(dir, "etcd-backup-"+m[1], "etcd-dump.bin")
	// etcdctl (3.4) or etcdutl (3.5+) snapshot status, run on a master.
	if out, err := exec.Command("scp", "-q", "-F", lab.SSHConfig, dump, "ncn-m001:/root/status-check.bin").CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
	status := lab.MustSSH(t, "ncn-m001", "cd /root && if command -v etcdutl >/dev/null && test -s /usr/bin/etcdutl; then "+
		"etcdutl snapshot status -w json status-check.bin; else etcdctl snapshot status -w json status-check.bin; fi; rm -f status-check.bin")
	var st struct {
		Revision  int64 `json:"revision"`
		TotalKey  int64 `json:"totalKey"`
		TotalSize int64 `json:"totalSize"`
	}
	js := status[strings.Index(status, "{"):]
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &st); err != nil {
		t.Fatalf("snapshot status: %v\n%s", err, status)
	}
	if st.Revision < 1 || st.TotalKey < 1 || st.TotalSize < 1 {
		t.Fatalf("snapshot status looks empty: %+v", st)
	}
}

func TestSeederWritesAndChecksEveryMember(t *testing.T) {
	if out, err := lab.script("seed", "-tag", "seedcheck", "-n", "300"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	out, err := lab.script("check", "-tag", "seedcheck", "-n", "300", "-absent", "never-written")
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if strings.Count(out, "match") != len(lab.Nodes) {
		t.Fatalf("check did not report every member:\n%s", out)
	}
	// The check must be able to fail: a wrong count and a present "absent" tag.
	if out, err := lab.script("check", "-tag", "seedcheck", "-n", "301"); err == nil {
		t.Fatalf("check with a wrong count passed:\n%s", out)
	}
	if out, err := lab.script("check", "-tag", "seedcheck", "-n", "300", "-absent", "seedcheck"); err == nil {
		t.Fatalf("check with the tag itself as absent passed:\n%s", out)
	}
}

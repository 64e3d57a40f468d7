package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/shell"
)

// The lab's Kubernetes side: a real kube-apiserver (v1.34.2, a systemd unit)
// on every master against the lab's etcd, kubectl with admin.conf as on CSM.

const kubeVersion = "v1.34.2"

// kubectl runs kubectl as root on node over SSH, in a plain non-login
// shell as ncnpush's own commands get: it finds root's kubeconfig, a copy of
// /etc/kubernetes/admin.conf, as on CSM's masters.
func kubectl(t *testing.T, node string, args ...string) (string, error) {
	t.Helper()
	return lab.SSH(t, node, "kubectl --request-timeout 20s "+shell.Join(args...))
}

func mustKubectl(t *testing.T, node string, args ...string) string {
	t.Helper()
	out, err := kubectl(t, node, args...)
	if err != nil {
		t.Fatalf("%s: kubectl %s: %v\n%s", node, strings.Join(args, " "), err, out)
	}
	return out
}

// eventually retries f every half second until it returns "" or d passes,
// then fails the test with f's last complaint.
func eventually(t *testing.T, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, msg)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestKubeAPIServerIsReadyOnEveryMaster(t *testing.T) {
	pem, err := os.ReadFile(filepath.Join(lab.Dir, "pki", "kube-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	kubeCA := x509.NewCertPool()
	if !kubeCA.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s/pki/kube-ca.crt", lab.Dir)
	}
	for _, n := range lab.Nodes {
		if out, err := lab.SSH(t, n, "systemctl is-active kube-apiserver"); err != nil || strings.TrimSpace(out) != "active" {
			t.Errorf("%s: systemctl is-active kube-apiserver = %q (%v)", n, out, err)
		}
		unit := lab.MustSSH(t, n, "systemctl cat kube-apiserver")
		for _, want := range []string{"Restart=always", "After=etcd.service", "ExecStart=/usr/bin/kube-apiserver",
			"--etcd-servers=" + lab.endpoints(), "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
			"--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt", "--advertise-address=" + lab.IPs[n], "--secure-port=6443"} {
			if !strings.Contains(unit, want) {
				t.Errorf("%s: kube-apiserver.service lacks %q", n, want)
			}
		}
		// A restart of the API server must never start a stopped etcd (a restore stops it).
		for _, bad := range []string{"Requires=etcd", "Wants=etcd", "BindsTo=etcd"} {
			if strings.Contains(unit, bad) {
				t.Errorf("%s: kube-apiserver.service has %q", n, bad)
			}
		}
		if out := mustKubectl(t, n, "get", "--raw", "/readyz"); strings.TrimSpace(out) != "ok" {
			t.Errorf("%s: /readyz = %q", n, out)
		}
		var v struct {
			Client struct{ GitVersion string } `json:"clientVersion"`
			Server struct{ GitVersion string } `json:"serverVersion"`
		}
		out := mustKubectl(t, n, "version", "-o", "json")
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Client.GitVersion != kubeVersion || v.Server.GitVersion != kubeVersion {
			t.Errorf("%s: kubectl version = %+v (%v), want %s on both sides\n%s", n, v, err, kubeVersion, out)
		}
		// The admin's identity comes from admin.conf's client cert.
		var who struct {
			Status struct {
				UserInfo struct {
					Username string   `json:"username"`
					Groups   []string `json:"groups"`
				} `json:"userInfo"`
			} `json:"status"`
		}
		out = mustKubectl(t, n, "auth", "whoami", "-o", "json")
		if err := json.Unmarshal([]byte(out), &who); err != nil || who.Status.UserInfo.Username != "kubernetes-admin" ||
			!slices.Contains(who.Status.UserInfo.Groups, "system:masters") {
			t.Errorf("%s: kubectl auth whoami = %+v (%v)", n, who.Status.UserInfo, err)
		}
		// An admin's login shell gets KUBECONFIG, as on CSM; the file is root's only.
		if out := lab.MustSSH(t, n, "bash -lc 'echo $KUBECONFIG; stat -c %a $KUBECONFIG'"); out != "/etc/kubernetes/admin.conf\n600\n" {
			t.Errorf("%s: KUBECONFIG in a login shell and its mode: %q", n, out)
		}
		if out := lab.MustSSH(t, n, "bash -lc 'kubectl get ns kube-system -o name'"); strings.TrimSpace(out) != "namespace/kube-system" {
			t.Errorf("%s: kubectl in a login shell: %q", n, out)
		}
		// The serving cert, under the cluster CA, is for every name a client
		// inside the cluster uses, and for the node's addresses.
		for _, name := range []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local", "10.96.0.1", lab.IPs[n], n} {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", lab.IPs[n]+":6443",
				&tls.Config{RootCAs: kubeCA, ServerName: name})
			if err != nil {
				t.Errorf("%s: TLS to the API server as %q: %v", n, name, err)
				continue
			}
			conn.Close()
		}
		if out := lab.MustSSH(t, n, "kubectl --server https://127.0.0.1:6443 get --raw /livez"); out != "ok" {
			t.Errorf("%s: /livez on 127.0.0.1: %q", n, out)
		}
	}
	// All three API servers are one cluster: each has put itself into the
	// endpoints of Service default/kubernetes, through the one etcd.
	var want []string
	for _, n := range lab.Nodes {
		want = append(want, lab.IPs[n])
	}
	eventually(t, 60*time.Second, func() string {
		out, err := kubectl(t, "ncn-m002", "get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		got := strings.Fields(out)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			return "endpoints of Service kubernetes: " + out + ", want " + strings.Join(want, " ")
		}
		return ""
	})
	if out := mustKubectl(t, "ncn-m001", "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"); out != "10.96.0.1" {
		t.Errorf("Service kubernetes has cluster IP %q, want 10.96.0.1", out)
	}
}

func TestKubectlWritesOnOneMasterReadOnAnother(t *testing.T) {
	name := "lab-cross-" + exRandHex(3)
	mustKubectl(t, "ncn-m002", "create", "configmap", name, "-n", "default", "--from-literal=greeting=hello from ncn-m002")
	t.Cleanup(func() { kubectl(t, "ncn-m001", "delete", "configmap", name, "-n", "default", "--ignore-not-found") })
	for _, n := range []string{"ncn-m001", "ncn-m003"} {
		if out := mustKubectl(t, n, "get", "configmap", name, "-n", "default", "-o", "jsonpath={.data.greeting}"); out != "hello from ncn-m002" {
			t.Errorf("%s: configmap %s greeting = %q", n, name, out)
		}
	}
	// The object is in etcd where Kubernetes keeps it.
	out, err := lab.Etcdctl(t, "ncn-m001", lab.endpoints(), "get --keys-only /registry/configmaps/default/"+name)
	if err != nil || strings.TrimSpace(out) != "/registry/configmaps/default/"+name {
		t.Errorf("etcdctl get /registry/configmaps/default/%s: %q (%v)", name, out, err)
	}
	// fixtures/lab.sh kubectl runs kubectl on the first master, each argument quoted.
	if out, err := lab.script("kubectl", "get", "configmap", name, "-n", "default", "-o", "jsonpath={.data.greeting}"); err != nil || out != "hello from ncn-m002" {
		t.Errorf("lab.sh kubectl: %q (%v)", out, err)
	}
	// The host's admin.conf reaches the first master's API server with the lab's kubectl.
	env, err := readEnvFile(filepath.Join(lab.Dir, "kube.env"))
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(env["LAB_KUBECTL"], "--kubeconfig", env["KUBECONFIG"], "get", "configmap", name, "-n", "default",
		"-o", "jsonpath={.data.greeting}")
	host.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := host.CombinedOutput(); err != nil || string(out) != "hello from ncn-m002" {
		t.Errorf("kubectl on the host with %s: %q (%v)", env["KUBECONFIG"], out, err)
	}
	if fi, err := os.Stat(env["KUBECONFIG"]); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", env["KUBECONFIG"], fi.Mode().Perm())
	}
}

// kubeObjects is what the API server on node serves of the ConfigMaps named:
// by GET (always read from etcd), in a LIST of the namespace as kubectl asks
// for it (from etcd, or from the watch cache where etcd is new enough for
// consistent reads from it: 3.5.13 and later), and in a LIST at
// resourceVersion=0 (always from the watch cache).
func kubeObjects(t *testing.T, node string, names ...string) (get, list, cached []string) {
	t.Helper()
	for _, name := range names {
		out, err := kubectl(t, node, "get", "configmap", name, "-n", "default", "-o", "name", "--ignore-not-found")
		if err != nil {
			t.Fatalf("%s: kubectl get configmap %s: %v\n%s", node, name, err, out)
		}
		if strings.TrimSpace(out) != "" {
			get = append(get, name)
		}
	}
	pick := func(out string) (in []string) {
		for _, name := range strings.Fields(out) {
			if slices.Contains(names, name) {
				in = append(in, name)
			}
		}
		slices.Sort(in)
		return in
	}
	list = pick(mustKubectl(t, node, "get", "configmaps", "-n", "default", "-o", "jsonpath={.items[*].metadata.name}"))
	var cl struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	out := mustKubectl(t, node, "get", "--raw", "/api/v1/namespaces/default/configmaps?resourceVersion=0")
	if err := json.Unmarshal([]byte(out), &cl); err != nil {
		t.Fatalf("%s: list at resourceVersion=0: %v\n%s", node, err, out)
	}
	var all []string
	for _, it := range cl.Items {
		all = append(all, it.Metadata.Name)
	}
	cached = pick(strings.Join(all, " "))
	return get, list, cached
}

// kubeBackup creates ConfigMap before and gone, takes a CSM-style backup,
// then creates after and deletes gone: the backup's objects are before and gone.
func kubeBackup(t *testing.T, before, after, gone string) string {
	t.Helper()
	for _, name := range []string{before, gone} {
		mustKubectl(t, "ncn-m001", "create", "configmap", name, "-n", "default", "--from-literal=made=before the backup")
	}
	time.Sleep(1100 * time.Millisecond) // backup names have a one-second resolution
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	name := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "bare-metal/"), ".tar.gz")
	mustKubectl(t, "ncn-m002", "create", "configmap", after, "-n", "default", "--from-literal=made=after the backup")
	mustKubectl(t, "ncn-m003", "delete", "configmap", gone, "-n", "default")
	t.Cleanup(func() {
		kubectl(t, "ncn-m001", "delete", "configmap", before, after, gone, "-n", "default", "--ignore-not-found")
	})
	// Every API server sees the change before the restore.
	for _, n := range lab.Nodes {
		want := []string{after, before}
		slices.Sort(want)
		eventually(t, 30*time.Second, func() string {
			if get, list, cached := kubeObjects(t, n, before, after, gone); !slices.Equal(list, want) || !slices.Equal(cached, want) || len(get) != 2 {
				return n + ": before the restore, GET " + strings.Join(get, " ") + ", LIST " + strings.Join(list, " ") +
					", cached LIST " + strings.Join(cached, " ")
			}
			return ""
		})
	}
	return name
}

// After `ncnpush etcd restore`, the API servers serve the backup's objects.
// What that takes is Kubernetes' own behaviour, and both ways are tested:
//   - with --bump-revision (etcdutl --bump-revision --mark-compacted, etcd
//     3.5.10+), every API server's watch cache sees its watch compacted, lists
//     etcd again and serves the backup by itself, without a restart;
//   - without it, etcd's revision goes back below what the watch caches have
//     seen, and they keep serving what was there before the restore until
//     kube-apiserver is restarted, as the Kubernetes docs say to do after a
//     restore (the CSM runbook does not). A GET (read from etcd) serves the
//     backup at once; so does kubectl's LIST on etcd 3.4, where the API server
//     lists from etcd, but on 3.5.13+ that LIST comes from the stale cache.
//
// The heal is turned off (--skip-k8s-heal): it is tested on its own.
func TestKubeAfterRestoreServesTheBackup(t *testing.T) {
	want := func(names ...string) []string { slices.Sort(names); return names }
	etcd34 := strings.HasPrefix(lab.Version, "3.4.")

	t.Run("bump-revision", func(t *testing.T) {
		before, after, gone := "k8s-bump-before-"+exRandHex(3), "k8s-bump-after-"+exRandHex(3), "k8s-bump-gone-"+exRandHex(3)
		name := kubeBackup(t, before, after, gone)
		r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--bump-revision", "--skip-k8s-heal")...)
		if etcd34 {
			if r.code == 0 || !strings.Contains(r.stderr, "--bump-revision needs etcdutl 3.5.10") {
				t.Fatalf("--bump-revision on etcd %s: exit %d\n%s", lab.Version, r.code, r.stderr)
			}
			return
		}
		if r.code != 0 {
			t.Fatalf("restore --bump-revision: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, n := range lab.Nodes {
			eventually(t, 60*time.Second, func() string {
				get, list, cached := kubeObjects(t, n, before, after, gone)
				if !slices.Equal(get, want(before, gone)) || !slices.Equal(list, want(before, gone)) || !slices.Equal(cached, want(before, gone)) {
					return n + ": after the restore with --bump-revision, GET " + strings.Join(get, " ") +
						", LIST " + strings.Join(list, " ") + ", cached LIST " + strings.Join(cached, " ") +
						"; want " + before + " and " + gone + " in all three"
				}
				return ""
			})
		}
	})

	t.Run("restart-after-restore", func(t *testing.T) {
		before, after, gone := "k8s-before-"+exRandHex(3), "k8s-after-"+exRandHex(3), "k8s-gone-"+exRandHex(3)
		name := kubeBackup(t, before, after, gone)
		r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--skip-k8s-heal")...)
		if r.code != 0 {
			t.Fatalf("restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// The backup holds the Kubernetes objects, and etcd now has them.
		if out, err := lab.Etcdctl(t, "ncn-m002", lab.endpoints(), "get --keys-only --prefix /registry/configmaps/default/k8s-"); err != nil ||
			!strings.Contains(out, "/registry/configmaps/default/"+before+"\n") || !strings.Contains(out, "/registry/configmaps/default/"+gone+"\n") ||
			strings.Contains(out, after) {
			t.Fatalf("etcd after the restore: %v\n%s", err, out)
		}
		stale := want(before, after)
		listWant := stale
		if etcd34 {
			listWant = want(before, gone)
		}
		for _, n := range lab.Nodes {
			// kubectl may meet an API server still reconnecting to the new etcd.
			var get, list, cached []string
			eventually(t, 60*time.Second, func() string {
				get, list, cached = kubeObjects(t, n, before, after, gone)
				if !slices.Equal(get, want(before, gone)) {
					return n + ": after the restore, GET " + strings.Join(get, " ") + "; want " + before + " " + gone
				}
				return ""
			})
			// If these start failing, Kubernetes no longer needs the restart
			// and the heal's stale-cache check can go.
			if !slices.Equal(cached, stale) {
				t.Errorf("%s: cached LIST right after the restore = %v; want the stale cache's %v", n, cached, stale)
			}
			if !slices.Equal(list, listWant) {
				t.Errorf("%s: kubectl's LIST right after the restore on etcd %s = %v; want %v", n, lab.Version, list, listWant)
			}
		}
		for _, n := range lab.Nodes {
			lab.MustSSH(t, n, "systemctl restart kube-apiserver")
		}
		for _, n := range lab.Nodes {
			eventually(t, 90*time.Second, func() string {
				if out, err := kubectl(t, n, "get", "--raw", "/readyz"); err != nil || out != "ok" {
					return n + ": /readyz after systemctl restart kube-apiserver: " + out
				}
				get, list, cached := kubeObjects(t, n, before, after, gone)
				if !slices.Equal(get, want(before, gone)) || !slices.Equal(list, want(before, gone)) || !slices.Equal(cached, want(before, gone)) {
					return n + ": after the restart, GET " + strings.Join(get, " ") + ", LIST " + strings.Join(list, " ") +
						", cached LIST " + strings.Join(cached, " ")
				}
				return ""
			})
		}
	})
}

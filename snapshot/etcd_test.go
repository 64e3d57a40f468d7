package snapshot_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/snapshot"
)

// etcdBinDir holds etcd, etcdctl and etcdutl, built by `make lab-tools`.
const etcdBinDir = "/var/cache/ncnpush/bin/etcd-v3.5.21"

// etcdServer is a single-member etcd on 127.0.0.1, started by startEtcd.
type etcdServer struct {
	client string // http://127.0.0.1:PORT
	http   *http.Client
}

func etcdTool(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(etcdBinDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (%v): run make lab-tools", p, err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts etcd with a temporary data dir on free loopback ports and
// kills it (by PID) when the test ends.
func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	bin := etcdTool(t, "etcd")
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin,
		"--name", "snaptest",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "snaptest="+peer,
		"--log-level", "error", "--log-outputs", filepath.Join(dir, "etcd.log"),
	)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
		cmd.Wait()
	})

	s := &etcdServer{client: client, http: &http.Client{Timeout: 5 * time.Second}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.http.Get(client + "/health")
		if err == nil {
			body := new(bytes.Buffer)
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if strings.Contains(body.String(), `"health":"true"`) {
				return s
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
			t.Fatalf("etcd did not become healthy on %s: %v\n%s", client, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call posts a JSON request to etcd's gRPC gateway.
func (s *etcdServer) call(t *testing.T, path string, req any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := s.http.Post(s.client+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("etcd %s: %v", path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("etcd %s: status %d, %v, %v", path, resp.StatusCode, out, err)
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (s *etcdServer) put(t *testing.T, k, v string) {
	s.call(t, "/v3/kv/put", map[string]string{"key": b64(k), "value": b64(v)})
}

func (s *etcdServer) del(t *testing.T, k string) {
	s.call(t, "/v3/kv/deleterange", map[string]string{"key": b64(k)})
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdTool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestRealEtcdSnapshot compares Stat with etcdutl and etcdctl on a snapshot
// saved by a real etcd 3.5 after puts, updates, deletes and a compaction.
func TestRealEtcdSnapshot(t *testing.T) {
	etcdTool(t, "etcdctl")
	etcdTool(t, "etcdutl")
	s := startEtcd(t)

	for i := range 40 {
		s.put(t, fmt.Sprintf("/registry/configmaps/ns%d/cm", i%4), strings.Repeat("data", i))
		s.put(t, fmt.Sprintf("/registry/pods/default/pod-%02d", i), fmt.Sprintf(`{"kind":"Pod","n":%d}`, i))
	}
	for i := range 10 {
		s.del(t, fmt.Sprintf("/registry/pods/default/pod-%02d", i))
	}
	s.put(t, "/registry/pods/default/pod-03", "recreated")
	// Compact at the current revision minus a few: old revisions go, the
	// newest revision of each key stays.
	hdr := s.call(t, "/v3/kv/range", map[string]string{"key": b64("x")})["header"].(map[string]any)
	var rev int64
	fmt.Sscan(hdr["revision"].(string), &rev)
	s.call(t, "/v3/kv/compaction", map[string]any{"revision": fmt.Sprint(rev - 5), "physical": true})
	s.put(t, "/registry/after-compaction", "x")

	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	runTool(t, "etcdctl", "--endpoints", s.client, "snapshot", "save", path)

	// The appended sha256 is right.
	if _, err := snapshot.VerifyFile(path); err != nil {
		t.Fatal(err)
	}

	st, err := snapshot.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	var util struct {
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"totalKey"`
		TotalSize int64  `json:"totalSize"`
	}
	out := runTool(t, "etcdutl", "snapshot", "status", path, "-w", "json")
	if err := json.Unmarshal(out, &util); err != nil {
		t.Fatalf("etcdutl output %q: %v", out, err)
	}
	if st.Revision != util.Revision || st.TotalKey != util.TotalKey || st.TotalSize != util.TotalSize || st.Hash != util.Hash {
		t.Fatalf("Stat = %+v\netcdutl = %+v", st, util)
	}

	// etcdctl 3.5 prints --count-only only with -w fields: `"Count" : 36`.
	var count struct{ Count, Revision int64 }
	out = runTool(t, "etcdctl", "--endpoints", s.client, "get", "", "--prefix", "--count-only", "-w", "fields")
	for _, line := range strings.Split(string(out), "\n") {
		name, val, _ := strings.Cut(line, " : ")
		switch strings.Trim(name, `"`) {
		case "Count":
			fmt.Sscan(val, &count.Count)
		case "Revision":
			fmt.Sscan(val, &count.Revision)
		}
	}
	if int64(st.LiveKeys) != count.Count || st.Revision != count.Revision {
		t.Fatalf("Stat LiveKeys=%d Revision=%d; etcdctl count=%d revision=%d\n%s", st.LiveKeys, st.Revision, count.Count, count.Revision, out)
	}
	if st.LiveKeys != 4+31+1 || st.CompactRevision != rev-5 || !st.HasHash {
		t.Fatalf("Stat = %+v (compacted at %d)", st, rev-5)
	}
	t.Logf("real snapshot: %+v", st)

	// A member restored with --bump-revision holds a keyless record at the
	// bumped revision: it raises the revision and is no key.
	data := filepath.Join(t.TempDir(), "bumped")
	runTool(t, "etcdutl", "snapshot", "restore", path, "--data-dir", data, "--name", "x",
		"--initial-cluster", "x=http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--bump-revision", "1000", "--mark-compacted")
	bumped, err := snapshot.Stat(filepath.Join(data, "member", "snap", "db"))
	if err != nil {
		t.Fatal(err)
	}
	if bumped.LiveKeys != st.LiveKeys || bumped.Revision != st.Revision+1000 || bumped.Revisions != st.Revisions+1 {
		t.Fatalf("after --bump-revision 1000: Stat = %+v, want the %d live keys of %+v at revision %d", bumped, st.LiveKeys, st, st.Revision+1000)
	}
}

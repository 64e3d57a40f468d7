package facts

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// maxErrLen bounds the length of a parser's error message, whatever the input.
const maxErrLen = 1024

// parseSentinels are the errors every parser error must wrap one of.
var parseSentinels = []error{
	ErrMalformed, ErrNoClusterConfiguration, ErrExternalEtcd, ErrMissingField, ErrBadInitialCluster,
	ErrBadVersion, ErrUnsupportedVersion, ErrBadDF, ErrBadReport,
}

func wrapsSentinel(err error) bool {
	for _, s := range parseSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// addTestdataSeeds adds every file of testdata/ matching pattern to the corpus.
func addTestdataSeeds(f *testing.F, pattern string, add func([]byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s: %v", pattern, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzParseKubeadmConfig: ParseKubeadmConfig never panics, every error wraps
// a sentinel and comes with a zero EtcdMember, and every success is
// consistent: a name, a valid initial-cluster that round-trips, valid peer
// URLs. The seeds are testdata/*.yaml (the CSM file, v1beta3, v1beta4, the
// external-etcd /etc/cray/kubernetes/kubeadm.yaml, malformed files).
func FuzzParseKubeadmConfig(f *testing.F) {
	addTestdataSeeds(f, "*.yaml", func(b []byte) { f.Add(b) })
	for _, s := range []string{
		"", "---\n", "kind: ClusterConfiguration\n", "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs: []\n",
		"kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      name: a\n      initial-cluster: a=https://h:1\n      initial-advertise-peer-urls: https://h:1\n",
		"a: &a [*a]\n", "kind: ClusterConfiguration\netcd: &e {local: *e}\n", "%YAML 1.1\n---\nkind: ClusterConfiguration\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseKubeadmConfig(data)
		m2, err2 := ParseKubeadmConfig(data)
		if !reflect.DeepEqual(m, m2) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("not deterministic: %+v %v / %+v %v", m, err, m2, err2)
		}
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			if len(err.Error()) > maxErrLen {
				t.Fatalf("error of %d bytes: %.300q", len(err.Error()), err)
			}
			if !reflect.DeepEqual(m, EtcdMember{}) {
				t.Fatalf("error %q with non-zero member %+v", err, m)
			}
			return
		}
		if m.Name == "" || strings.IndexFunc(m.Name, isSpace) >= 0 {
			t.Fatalf("bad name %q", m.Name)
		}
		if len(m.InitialCluster) == 0 {
			t.Fatal("empty initial-cluster")
		}
		again, err := ParseInitialCluster(FormatInitialCluster(m.InitialCluster))
		if err != nil || !reflect.DeepEqual(again, m.InitialCluster) {
			t.Fatalf("initial-cluster does not round-trip: %v, %v", again, err)
		}
		raw, err := ParseInitialCluster(m.InitialClusterRaw)
		if err != nil || !reflect.DeepEqual(raw, m.InitialCluster) {
			t.Fatalf("InitialClusterRaw %q does not give InitialCluster: %v, %v", m.InitialClusterRaw, raw, err)
		}
		if len(m.PeerURLs()) == 0 {
			t.Fatal("no peer URLs")
		}
		for _, u := range append(m.PeerURLs(), peerURLs(m.InitialCluster)...) {
			if err := ValidatePeerURL(u); err != nil {
				t.Fatalf("invalid URL accepted: %v", err)
			}
		}
	})
}

func peerURLs(peers []Peer) []string {
	var us []string
	for _, p := range peers {
		us = append(us, p.URL)
	}
	return us
}

// FuzzParseNodeReport: never panics; errors wrap a sentinel and name the host.
func FuzzParseNodeReport(f *testing.F) {
	addTestdataSeeds(f, "node-report-*.txt", func(b []byte) { f.Add(string(b)) })
	f.Add(buildReport(stdSections("ncn-m002", "10.252.1.9")...))
	f.Add(SectionMarker("a") + "\n" + EndMarker)
	f.Fuzz(func(t *testing.T, out string) {
		n, err := ParseNodeReport("h", out)
		if err != nil {
			if !wrapsSentinel(err) || !strings.Contains(err.Error(), "host h") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if n.Host != "h" || n.Member.Name == "" || n.Version.IsZero() || n.EtcdState == "" {
			t.Fatalf("inconsistent node %+v", n)
		}
		if (n.RestoreTool == ToolNone) != (n.RestoreToolErr != nil) {
			t.Fatalf("RestoreTool %q with RestoreToolErr %v", n.RestoreTool, n.RestoreToolErr)
		}
		_ = Check([]Node{n}, []string{"h"}, 1)
	})
}

// FuzzParseDF: never panics; errors wrap ErrBadDF; rows have mount points.
func FuzzParseDF(f *testing.F) {
	f.Add(dfOut)
	f.Add(dfStaging)
	f.Add("Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/x\n 1 2 3 4% /a b\n")
	f.Fuzz(func(t *testing.T, out string) {
		rows, err := ParseDFRows(out)
		if err != nil {
			if !errors.Is(err, ErrBadDF) {
				t.Fatalf("error %q", err)
			}
			return
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.MountedOn, "/") || r.Filesystem == "" {
				t.Fatalf("bad row %+v", r)
			}
		}
	})
}

// FuzzParseEtcdVersion: never panics; errors wrap ErrBadVersion; String
// parses back to the same version.
func FuzzParseEtcdVersion(f *testing.F) {
	for _, s := range []string{etcd34Out, etcdctl34Out, etcd35Out, etcdutl35Out, etcd36Out, etcdutl36Out, "missing", "etcd Version: 3.6.0-rc.1+x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		v, err := ParseEtcdVersion(out)
		if err != nil {
			if !errors.Is(err, ErrBadVersion) {
				t.Fatalf("error %q", err)
			}
			return
		}
		back, err := ParseEtcdVersion("etcd Version: " + v.String())
		if err != nil || back != v {
			t.Fatalf("%#v -> %q -> %#v, %v", v, v.String(), back, err)
		}
		_, _ = RestoreTool(v, true)
		_ = SupportsBumpRevision(v, ToolEtcdutl)
	})
}

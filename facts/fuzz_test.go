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
// URLs; an error is one line of bounded length. The seeds are
// testdata/*.yaml (the CSM file, v1beta3, v1beta4, the external-etcd
// /etc/cray/kubernetes/kubeadm.yaml, malformed files) and
// testdata/fuzz/FuzzParseKubeadmConfig (the CSM file of each master, CRLF,
// BOM, several documents, hostile member names, aliases, tags).
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
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
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

// FuzzParseInitialCluster: ParseInitialCluster never panics; an error wraps
// ErrBadInitialCluster, is one line of bounded length; what it accepts
// formats back to the very same (trimmed) string, with unique names and
// unique (case-insensitive) peer URLs, each valid and without whitespace.
func FuzzParseInitialCluster(f *testing.F) {
	f.Add("ncn-m001=https://10.252.1.10:2380")
	f.Add("a=http://[::1]:2380,b=http://x:1")
	f.Fuzz(func(t *testing.T, s string) {
		peers, err := ParseInitialCluster(s)
		if err != nil {
			if !errors.Is(err, ErrBadInitialCluster) || len(err.Error()) > maxErrLen || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %.300q", err)
			}
			if peers != nil {
				t.Fatalf("error %v with peers %v", err, peers)
			}
			return
		}
		if got := FormatInitialCluster(peers); got != strings.TrimSpace(s) {
			t.Fatalf("%q parsed to %v, which formats to %q", s, peers, got)
		}
		names, urls := map[string]bool{}, map[string]bool{}
		for _, p := range peers {
			if p.Name == "" || strings.ContainsAny(p.Name, "=,") || strings.IndexFunc(p.Name, isSpace) >= 0 {
				t.Fatalf("bad name %q in %q", p.Name, s)
			}
			if err := ValidatePeerURL(p.URL); err != nil {
				t.Fatalf("invalid URL accepted: %v", err)
			}
			if n := normalizeURL(p.URL); names[p.Name] || urls[n] {
				t.Fatalf("duplicate %q or %q accepted in %q", p.Name, n, s)
			} else {
				names[p.Name], urls[n] = true, true
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

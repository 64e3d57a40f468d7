package facts

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type sec struct{ name, body string }

// buildReport prints sections the way the preflight template does.
func buildReport(secs ...sec) string {
	var b strings.Builder
	b.WriteString("Last login: Mon Nov 24 03:00:00 2025 from 10.252.1.1\n")
	for _, s := range secs {
		b.WriteString("\n" + SectionMarker(s.name) + "\n" + s.body)
	}
	b.WriteString("\n" + EndMarker + "\n")
	return b.String()
}

// kubeadmcfgFor returns the CSM kubeadmcfg.yaml of member name at ip.
func kubeadmcfgFor(name, ip string) string {
	s := string(csmKubeadmcfg)
	s = strings.ReplaceAll(s, "name: ncn-m001", "name: "+name)
	for _, k := range []string{"listen-peer-urls", "initial-advertise-peer-urls"} {
		s = strings.ReplaceAll(s, k+": https://10.252.1.10:2380", k+": https://"+ip+":2380")
	}
	return strings.ReplaceAll(s, `"10.252.1.10"`, `"`+ip+`"`)
}

var csmKubeadmcfg = []byte(`apiVersion: "kubeadm.k8s.io/v1beta2"
kind: ClusterConfiguration
kubernetesVersion: "v1.22.13"
etcd:
    local:
        serverCertSANs:
        - "10.252.1.10"
        peerCertSANs:
        - "10.252.1.10"
        extraArgs:
            initial-cluster: ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380,ncn-m003=https://10.252.1.8:2380
            initial-cluster-state: new
            name: ncn-m001
            listen-peer-urls: https://10.252.1.10:2380
            listen-client-urls: https://10.252.1.10:2379
            advertise-client-urls: https://10.252.1.10:2379
            initial-advertise-peer-urls: https://10.252.1.10:2380
`)

const (
	dfStaging = "Filesystem         1-blocks        Used   Available Capacity Mounted on\n/dev/vda       270553174016 16213504000 81579790336      17% /\n"
	dfData    = "Filesystem                 1-blocks      Used   Available Capacity Mounted on\n/dev/mapper/etcdvg0-ETCDLV 32172195840 412532736 30103355392       2% /var/lib/etcd\n"
)

// stdSections is a complete etcd 3.5 report for name at ip.
func stdSections(name, ip string) []sec {
	return []sec{
		{SectionKubeadmCfg, kubeadmcfgFor(name, ip)},
		{SectionEtcdVersion, etcd35Out},
		{SectionEtcdutlVersion, etcdutl35Out},
		{SectionEtcdctlVersion, etcdctl35Out},
		{SectionDFStaging, dfStaging},
		{SectionDFData, dfData},
		{SectionEtcdActive, "active\n"},
		{SectionLock, "none\n"},
	}
}

func replaceSec(secs []sec, name, body string) []sec {
	out := slices.Clone(secs)
	for i := range out {
		if out[i].name == name {
			out[i].body = body
		}
	}
	return out
}

func dropSec(secs []sec, names ...string) []sec {
	return slices.DeleteFunc(slices.Clone(secs), func(s sec) bool { return slices.Contains(names, s.name) })
}

func TestSectionMarker(t *testing.T) {
	if got := SectionMarker("df-data"); got != "@@ncnpush:section df-data@@" {
		t.Fatalf("SectionMarker = %q", got)
	}
	for _, n := range RequiredSections() {
		if !sectionName.MatchString(n) {
			t.Errorf("section name %q is not valid", n)
		}
	}
}

// TestParseNodeReportFile: a report as printed on ncn-m001, with a banner,
// etcdutl missing, a lock section and an unknown section.
func TestParseNodeReportFile(t *testing.T) {
	n, err := ParseNodeReport("ncn-m001", string(readTestdata(t, "node-report-ncn-m001.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := Node{
		Host: "ncn-m001",
		Member: EtcdMember{
			APIVersion: "kubeadm.k8s.io/v1beta2", Name: "ncn-m001", InitialCluster: csmPeers, InitialClusterRaw: csmCluster,
			InitialAdvertisePeerURLs: "https://10.252.1.10:2380", ListenClientURLs: "https://10.252.1.10:2379",
			AdvertiseClientURLs: "https://10.252.1.10:2379", InitialClusterState: "new",
		},
		Version:        Version{3, 5, 21, ""},
		EtcdctlPresent: true,
		EtcdctlVersion: Version{3, 5, 21, ""},
		RestoreTool:    ToolEtcdctl,
		BumpRevision:   true,
		StagingMount:   "/",
		FreeStaging:    81579790336,
		DataMount:      "/var/lib/etcd",
		FreeData:       30103355392,
		EtcdState:      "active",
		EtcdActive:     true,
	}
	if !reflect.DeepEqual(n, want) {
		t.Fatalf("got  %+v\nwant %+v", n, want)
	}
}

func TestParseNodeReport(t *testing.T) {
	tests := []struct {
		name  string
		secs  []sec
		check func(t *testing.T, n Node)
	}{
		{"etcd 3.5 with etcdutl", stdSections("ncn-m002", "10.252.1.9"), func(t *testing.T, n Node) {
			if n.Member.Name != "ncn-m002" || n.RestoreTool != ToolEtcdutl || !n.BumpRevision || n.RestoreToolErr != nil ||
				n.ToolVersion() != (Version{3, 5, 21, ""}) || !n.EtcdutlPresent || n.Lock != "" {
				t.Errorf("got %+v", n)
			}
		}},
		{"etcd 3.4", replaceSec(replaceSec(replaceSec(stdSections("ncn-m001", "10.252.1.10"),
			SectionEtcdVersion, etcd34Out), SectionEtcdutlVersion, "missing\n"), SectionEtcdctlVersion, etcdctl34Out),
			func(t *testing.T, n Node) {
				if n.RestoreTool != ToolEtcdctl || n.BumpRevision || n.EtcdutlPresent || !n.EtcdctlPresent {
					t.Errorf("got %+v", n)
				}
			}},
		{"etcd 3.6 without etcdutl: no tool, not a parse error", replaceSec(replaceSec(replaceSec(stdSections("ncn-m001", "10.252.1.10"),
			SectionEtcdVersion, etcd36Out), SectionEtcdutlVersion, "missing\n"), SectionEtcdctlVersion, etcdctl36Out),
			func(t *testing.T, n Node) {
				if n.RestoreTool != ToolNone || !errors.Is(n.RestoreToolErr, ErrNoRestoreTool) || n.BumpRevision {
					t.Errorf("got %+v", n)
				}
			}},
		{"etcd 3.4 without etcdctl", replaceSec(replaceSec(replaceSec(stdSections("ncn-m001", "10.252.1.10"),
			SectionEtcdVersion, etcd34Out), SectionEtcdutlVersion, "missing\n"), SectionEtcdctlVersion, "missing\n"),
			func(t *testing.T, n Node) {
				if n.RestoreTool != ToolNone || !errors.Is(n.RestoreToolErr, ErrNoRestoreTool) ||
					!strings.Contains(n.RestoreToolErr.Error(), "etcdctl is not installed") {
					t.Errorf("got %+v", n)
				}
			}},
		{"etcd 3.3: unsupported, not a parse error", replaceSec(stdSections("ncn-m001", "10.252.1.10"), SectionEtcdVersion, "etcd Version: 3.3.27\n"),
			func(t *testing.T, n Node) {
				if n.RestoreTool != ToolNone || !errors.Is(n.RestoreToolErr, ErrUnsupportedVersion) {
					t.Errorf("got %+v", n)
				}
			}},
		{"etcd inactive, lock held", replaceSec(replaceSec(stdSections("ncn-m001", "10.252.1.10"), SectionEtcdActive, "inactive\n"),
			SectionLock, "ncnpush pid 4242 on ncn-m001 since 2025-11-24T03:00:00Z\n"),
			func(t *testing.T, n Node) {
				if n.EtcdActive || n.EtcdState != "inactive" || n.Lock != "ncnpush pid 4242 on ncn-m001 since 2025-11-24T03:00:00Z" {
					t.Errorf("got %+v", n)
				}
			}},
		{"no lock section", dropSec(stdSections("ncn-m001", "10.252.1.10"), SectionLock), func(t *testing.T, n Node) {
			if n.Lock != "" {
				t.Errorf("got %+v", n)
			}
		}},
		{"empty lock section", replaceSec(stdSections("ncn-m001", "10.252.1.10"), SectionLock, ""), func(t *testing.T, n Node) {
			if n.Lock != "" {
				t.Errorf("got %+v", n)
			}
		}},
		{"unknown sections ignored", append(stdSections("ncn-m001", "10.252.1.10"), sec{"uname", "Linux\n"}),
			func(t *testing.T, n Node) {
				if n.Member.Name != "ncn-m001" {
					t.Errorf("got %+v", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNodeReport("h", buildReport(tt.secs...))
			if err != nil {
				t.Fatal(err)
			}
			if n.Host != "h" {
				t.Errorf("Host = %q", n.Host)
			}
			tt.check(t, n)
		})
	}
}

// TestParseNodeReportNoFinalNewline: a file without a final newline, printed
// with printf '\n%s\n' MARKER after it, still ends its section.
func TestParseNodeReportNoFinalNewline(t *testing.T) {
	secs := replaceSec(stdSections("ncn-m001", "10.252.1.10"), SectionKubeadmCfg, strings.TrimSuffix(kubeadmcfgFor("ncn-m001", "10.252.1.10"), "\n"))
	secs = replaceSec(secs, SectionEtcdActive, "active")
	n, err := ParseNodeReport("ncn-m001", buildReport(secs...))
	if err != nil || n.Member.Name != "ncn-m001" || !n.EtcdActive {
		t.Fatalf("got %+v, %v", n, err)
	}
}

func TestParseNodeReportCRLF(t *testing.T) {
	out := strings.ReplaceAll(buildReport(stdSections("ncn-m001", "10.252.1.10")...), "\n", "\r\n")
	n, err := ParseNodeReport("ncn-m001", out)
	if err != nil || n.Member.Name != "ncn-m001" || n.FreeData != 30103355392 || n.EtcdState != "active" {
		t.Fatalf("got %+v, %v", n, err)
	}
}

func TestParseNodeReportErrors(t *testing.T) {
	std := stdSections("ncn-m001", "10.252.1.10")
	tests := []struct {
		name     string
		out      string
		want     error
		contains []string
	}{
		{"truncated", strings.TrimSuffix(buildReport(std...), EndMarker+"\n"), ErrBadReport, []string{"truncated", EndMarker}},
		{"empty", "", ErrBadReport, []string{"truncated"}},
		{"missing sections", buildReport(dropSec(std, SectionDFData, SectionEtcdutlVersion)...), ErrBadReport,
			[]string{"missing section(s)", SectionEtcdutlVersion, SectionDFData}},
		{"duplicate section", buildReport(append(slices.Clone(std), sec{SectionEtcdActive, "inactive\n"})...), ErrBadReport,
			[]string{`"etcd-active" appears twice`}},
		{"marker not alone on its line", strings.Replace(buildReport(std...), "\n"+SectionMarker(SectionDFData), "\nx"+SectionMarker(SectionDFData), 1),
			ErrBadReport, []string{"missing section(s) df-data"}},
		{"external etcd config", buildReport(replaceSec(std, SectionKubeadmCfg, string(readTestdata(t, "cray-kubeadm.yaml")))...),
			ErrExternalEtcd, []string{"section kubeadmcfg"}},
		{"kubeadmcfg missing", buildReport(replaceSec(std, SectionKubeadmCfg, "missing\n")...),
			ErrNoClusterConfiguration, []string{"section kubeadmcfg"}},
		{"kubeadmcfg: cat error", buildReport(replaceSec(std, SectionKubeadmCfg, "cat: /etc/kubernetes/kubeadmcfg.yaml: No such file or directory\n")...),
			ErrMalformed, []string{"section kubeadmcfg", "mapping values are not allowed"}},
		{"etcd missing", buildReport(replaceSec(std, SectionEtcdVersion, "missing\n")...), ErrBadVersion, []string{"section etcd-version"}},
		{"etcdutl garbage", buildReport(replaceSec(std, SectionEtcdutlVersion, "Segmentation fault\n")...), ErrBadVersion,
			[]string{"section etcdutl-version", `"missing"`}},
		{"etcdctl garbage", buildReport(replaceSec(std, SectionEtcdctlVersion, "etcdctl: not found\n")...), ErrBadVersion,
			[]string{"section etcdctl-version"}},
		{"df two paths in one section", buildReport(replaceSec(std, SectionDFStaging, dfOut)...), ErrBadDF,
			[]string{"section df-staging", "2 data lines, want 1"}},
		{"df in KiB", buildReport(replaceSec(std, SectionDFData, "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 1 1 1% /\n")...),
			ErrBadDF, []string{"section df-data", "block size"}},
		{"etcd-active empty", buildReport(replaceSec(std, SectionEtcdActive, "\n")...), ErrBadReport, []string{"section etcd-active"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNodeReport("ncn-m001", tt.out)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %+v, %v; want %v", n, err, tt.want)
			}
			for _, s := range append(tt.contains, "host ncn-m001") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestSplitSections(t *testing.T) {
	out := "banner\n" + SectionMarker("a") + "\nline 1\n\nline 3\n" + SectionMarker("b") + "\n" + SectionMarker("Bad Name") + "\n" +
		EndMarker + "\n" + SectionMarker("after") + "\nignored\n"
	got, err := SplitSections(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "line 1\n\nline 3\n", "b": SectionMarker("Bad Name") + "\n"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

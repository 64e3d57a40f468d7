package facts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// csmCluster is the initial-cluster of the CSM example in csm-facts.md.
const csmCluster = "ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380,ncn-m003=https://10.252.1.8:2380"

var csmPeers = []Peer{
	{Name: "ncn-m001", URL: "https://10.252.1.10:2380"},
	{Name: "ncn-m002", URL: "https://10.252.1.9:2380"},
	{Name: "ncn-m003", URL: "https://10.252.1.8:2380"},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseKubeadmConfigCSM: the exact example of csm-facts.md.
func TestParseKubeadmConfigCSM(t *testing.T) {
	m, err := ParseKubeadmConfig(readTestdata(t, "kubeadmcfg-csm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := EtcdMember{
		APIVersion:               "kubeadm.k8s.io/v1beta2",
		Name:                     "ncn-m001",
		InitialCluster:           csmPeers,
		InitialClusterRaw:        csmCluster,
		InitialAdvertisePeerURLs: "https://10.252.1.10:2380",
		ListenClientURLs:         "https://10.252.1.10:2379",
		AdvertiseClientURLs:      "https://10.252.1.10:2379",
		InitialClusterState:      "new",
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got  %+v\nwant %+v", m, want)
	}
	if m.Name != "ncn-m001" || len(m.InitialCluster) != 3 || m.InitialAdvertisePeerURLs != "https://10.252.1.10:2380" {
		t.Fatalf("CSM example: got name %q, %d members, peer URL %q", m.Name, len(m.InitialCluster), m.InitialAdvertisePeerURLs)
	}
	if p, ok := m.Peer("ncn-m001"); !ok || p.URL != "https://10.252.1.10:2380" {
		t.Fatalf("Peer(ncn-m001) = %v, %v", p, ok)
	}
	if got := FormatInitialCluster(m.InitialCluster); got != csmCluster {
		t.Fatalf("FormatInitialCluster = %q", got)
	}
}

func TestParseKubeadmConfigForms(t *testing.T) {
	tests := []struct {
		file                 string
		apiVersion, name     string
		advertise, dataDir   string
		listen, state        string
		advertiseClientURLs  string
		wantInitialCluster   []Peer
		wantInitialPeerURLs  []string
		wantInitialRawPrefix string
	}{
		{
			file: "kubeadmcfg-v1beta3.yaml", apiVersion: "kubeadm.k8s.io/v1beta3", name: "ncn-m002",
			advertise: "https://10.252.1.9:2380", dataDir: "/var/lib/etcd",
			listen: "https://127.0.0.1:2379,https://10.252.1.9:2379", state: "existing",
			advertiseClientURLs: "https://10.252.1.9:2379",
			wantInitialCluster:  csmPeers, wantInitialPeerURLs: []string{"https://10.252.1.9:2380"},
		},
		{
			file: "kubeadmcfg-v1beta4.yaml", apiVersion: "kubeadm.k8s.io/v1beta4", name: "ncn-m003",
			advertise: "https://10.252.1.8:2380", dataDir: "/var/lib/etcd",
			listen: "https://127.0.0.1:2379,https://10.252.1.8:2379", state: "new",
			advertiseClientURLs: "https://10.252.1.8:2379",
			wantInitialCluster:  csmPeers, wantInitialPeerURLs: []string{"https://10.252.1.8:2380"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := ParseKubeadmConfig(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.APIVersion != tt.apiVersion || m.Name != tt.name || m.InitialAdvertisePeerURLs != tt.advertise ||
				m.DataDir != tt.dataDir || m.ListenClientURLs != tt.listen || m.InitialClusterState != tt.state ||
				m.AdvertiseClientURLs != tt.advertiseClientURLs || m.InitialClusterRaw != csmCluster {
				t.Errorf("got %+v", m)
			}
			if !reflect.DeepEqual(m.InitialCluster, tt.wantInitialCluster) {
				t.Errorf("InitialCluster = %v", m.InitialCluster)
			}
			if !reflect.DeepEqual(m.PeerURLs(), tt.wantInitialPeerURLs) {
				t.Errorf("PeerURLs = %v", m.PeerURLs())
			}
		})
	}
}

func TestParseKubeadmConfigAccepts(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, m EtcdMember)
	}{
		{"unquoted values, 2-space indent, comments", `
# comment
kind: ClusterConfiguration
apiVersion: kubeadm.k8s.io/v1beta3
etcd:
  local:
    extraArgs:
      name: m1 # trailing comment
      initial-cluster: m1=http://[fd00::1]:2380,m2=https://etcd-2.example:12380
      initial-advertise-peer-urls: http://[fd00::1]:2380
`, func(t *testing.T, m EtcdMember) {
			if m.Name != "m1" || len(m.InitialCluster) != 2 || m.InitialCluster[0].URL != "http://[fd00::1]:2380" {
				t.Errorf("got %+v", m)
			}
		}},
		{"ClusterConfiguration not first, empty documents around it", `---
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
etcd:
  local:
    extraArgs: {name: a, initial-cluster: "a=https://1.2.3.4:2380", initial-advertise-peer-urls: "https://1.2.3.4:2380"}
---
`, func(t *testing.T, m EtcdMember) {
			if m.Name != "a" {
				t.Errorf("got %+v", m)
			}
		}},
		{"aliases and merge keys", `
common: &args
  initial-cluster: a=https://1.2.3.4:2380
  initial-advertise-peer-urls: https://1.2.3.4:2380
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
      <<: *args
      name: a
`, func(t *testing.T, m EtcdMember) {
			if m.Name != "a" || m.InitialClusterRaw != "a=https://1.2.3.4:2380" {
				t.Errorf("got %+v", m)
			}
		}},
		{"CRLF line ends", strings.ReplaceAll(string(readTestdata(t, "kubeadmcfg-csm.yaml")), "\n", "\r\n"),
			func(t *testing.T, m EtcdMember) {
				if m.Name != "ncn-m001" || len(m.InitialCluster) != 3 {
					t.Errorf("got %+v", m)
				}
			}},
		{"several advertise peer URLs", `
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
      name: a
      initial-cluster: a=https://1.2.3.4:2380
      initial-advertise-peer-urls: https://1.2.3.4:2380,https://5.6.7.8:2380
`, func(t *testing.T, m EtcdMember) {
			if got := m.PeerURLs(); len(got) != 2 {
				t.Errorf("PeerURLs = %v", got)
			}
		}},
		{"v1beta4 list ignores duplicates of arguments not read", string(readTestdata(t, "kubeadmcfg-v1beta4.yaml")),
			func(t *testing.T, m EtcdMember) {
				if m.Name != "ncn-m003" {
					t.Errorf("got %+v", m)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseKubeadmConfig([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}

func TestParseKubeadmConfigErrors(t *testing.T) {
	const ok = "      name: a\n      initial-cluster: a=https://1.2.3.4:2380\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n"
	const head = "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n"
	tests := []struct {
		name     string
		yaml     string
		file     string
		want     error
		contains []string
	}{
		{name: "external etcd: /etc/cray/kubernetes/kubeadm.yaml", file: "cray-kubeadm.yaml", want: ErrExternalEtcd,
			contains: []string{"etcd.external", "https://127.0.0.1:2381", "/etc/cray/kubernetes/kubeadm.yaml", "kubeadmcfg.yaml"}},
		{name: "external etcd, scalar endpoints", yaml: "kind: ClusterConfiguration\netcd:\n  external:\n    endpoints: https://127.0.0.1:2381\n",
			want: ErrExternalEtcd, contains: []string{"https://127.0.0.1:2381"}},
		{name: "both local and external", yaml: head + ok + "  external:\n    endpoints: [x]\n", want: ErrMalformed,
			contains: []string{"both etcd.local", "etcd.external"}},
		{name: "syntax error with line", file: "malformed-syntax.yaml", want: ErrMalformed, contains: []string{"line "}},
		{name: "syntax error in a later document", yaml: "kind: InitConfiguration\n---\nkind: ClusterConfiguration\netcd: [\n", want: ErrMalformed,
			contains: []string{"YAML document 2", "line "}},
		{name: "tab indentation", yaml: "kind: ClusterConfiguration\netcd:\n\tlocal: {}\n", want: ErrMalformed, contains: []string{"line 3"}},
		{name: "no ClusterConfiguration", file: "malformed-no-clusterconfiguration.yaml", want: ErrNoClusterConfiguration,
			contains: []string{"InitConfiguration", "KubeletConfiguration"}},
		{name: "empty input", yaml: "", want: ErrNoClusterConfiguration},
		{name: "not a mapping", yaml: "- a\n- b\n", want: ErrNoClusterConfiguration},
		{name: "two ClusterConfigurations", yaml: head + ok + "---\n" + head + ok, want: ErrMalformed,
			contains: []string{"two ClusterConfiguration documents", "documents 1 and 2"}},
		{name: "no etcd", yaml: "kind: ClusterConfiguration\n", want: ErrMissingField, contains: []string{"etcd.local"}},
		{name: "null local", yaml: "kind: ClusterConfiguration\netcd:\n  local:\n", want: ErrMissingField, contains: []string{"etcd.local"}},
		{name: "no extraArgs", yaml: "kind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /var/lib/etcd\n", want: ErrMissingField,
			contains: []string{"etcd.local.extraArgs"}},
		{name: "missing name", file: "malformed-missing-name.yaml", want: ErrMissingField, contains: []string{FieldName, "line 6"}},
		{name: "empty name", yaml: head + "      name: ''\n      initial-cluster: a=https://1.2.3.4:2380\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n",
			want: ErrMissingField, contains: []string{FieldName}},
		{name: "missing initial-cluster", yaml: head + "      name: a\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n",
			want: ErrMissingField, contains: []string{FieldInitialCluster}},
		{name: "missing initial-advertise-peer-urls", yaml: head + "      name: a\n      initial-cluster: a=https://1.2.3.4:2380\n",
			want: ErrMissingField, contains: []string{FieldInitialAdvertisePeerURLs}},
		{name: "v1beta4 list without name", yaml: head + "    - name: name\n      value: a\n    - value: x\n",
			want: ErrMalformed, contains: []string{"extraArgs[1]", "no name"}},
		{name: "v1beta4 list, required argument twice", yaml: head + "    - name: name\n      value: a\n    - name: name\n      value: b\n",
			want: ErrMalformed, contains: []string{`"name" given twice`, "lines 5 and 7"}},
		{name: "map form duplicate key", yaml: head + ok + "      name: b\n", want: ErrMalformed, contains: []string{"already defined"}},
		{name: "extraArgs scalar", file: "malformed-extraargs-scalar.yaml", want: ErrMalformed,
			contains: []string{"etcd.local.extraArgs (line 5)", "mapping", "list of {name, value}"}},
		{name: "etcd scalar", yaml: "kind: ClusterConfiguration\netcd: 5\n", want: ErrMalformed, contains: []string{"etcd (line 2) must be a mapping"}},
		{name: "local list", yaml: "kind: ClusterConfiguration\netcd:\n  local: [a]\n", want: ErrMalformed, contains: []string{"etcd.local (line 3) must be a mapping"}},
		{name: "name is a list", yaml: head + "      name: [a]\n      initial-cluster: a=https://1.2.3.4:2380\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n",
			want: ErrMalformed, contains: []string{"line 5", "cannot unmarshal"}},
		{name: "name with whitespace", yaml: head + "      name: 'a b'\n      initial-cluster: a=https://1.2.3.4:2380\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n",
			want: ErrMalformed, contains: []string{FieldName, "whitespace"}},
		{name: "duplicate member in initial-cluster", file: "malformed-initial-cluster.yaml", want: ErrBadInitialCluster,
			contains: []string{FieldInitialCluster, `"ncn-m001" appears twice`}},
		{name: "bad URL in initial-cluster", yaml: head + "      name: a\n      initial-cluster: a=https://1.2.3.4\n      initial-advertise-peer-urls: https://1.2.3.4:2380\n",
			want: ErrBadInitialCluster, contains: []string{"a=https://1.2.3.4", "host:port"}},
		{name: "bad advertise URL", yaml: head + "      name: a\n      initial-cluster: a=https://1.2.3.4:2380\n      initial-advertise-peer-urls: ftp://1.2.3.4:2380\n",
			want: ErrMalformed, contains: []string{FieldInitialAdvertisePeerURLs, "scheme"}},
		{name: "too large", yaml: strings.Repeat("#", MaxConfigSize+1), want: ErrMalformed, contains: []string{"bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.yaml)
			if tt.file != "" {
				data = readTestdata(t, tt.file)
			}
			m, err := ParseKubeadmConfig(data)
			if err == nil {
				t.Fatalf("no error; got %+v", m)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %q does not wrap %q", err, tt.want)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if !reflect.DeepEqual(m, EtcdMember{}) {
				t.Errorf("non-zero member with error: %+v", m)
			}
		})
	}
}

// TestParseKubeadmConfigErrorLength: errors stay short however large the input.
func TestParseKubeadmConfigErrorLength(t *testing.T) {
	big := strings.Repeat("x", MaxConfigSize-100)
	for name, in := range map[string]string{
		"many kinds":        strings.Repeat("---\nkind: X\n", 10000) + "---\nkind: " + big[:1000] + "\n",
		"long etcd scalar":  "kind: ClusterConfiguration\netcd: " + big + "\n",
		"long cluster":      "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      name: a\n      initial-advertise-peer-urls: https://h:1\n      initial-cluster: a=https://" + big[:100000] + "\n",
		"long bad URL":      "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      name: a\n      initial-cluster: a=https://h:1\n      initial-advertise-peer-urls: https://h:1/" + big[:100000] + "\n",
		"long unparsable":   "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      name: a\n      initial-cluster: a=https://[" + big[:100000] + "\n      initial-advertise-peer-urls: https://h:1\n",
		"long name w/space": "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      name: a " + big[:100000] + "\n      initial-cluster: a=https://h:1\n      initial-advertise-peer-urls: https://h:1\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKubeadmConfig([]byte(in))
			if err == nil || len(err.Error()) > maxErrLen {
				t.Fatalf("error of %d bytes: %.300v", len(fmt.Sprint(err)), err)
			}
		})
	}
	if _, err := ParseDF("x 1 1 " + strings.Repeat("9", 100000) + " 1% /\n"); err == nil || len(err.Error()) > maxErrLen {
		t.Fatalf("ParseDF error of %d bytes", len(fmt.Sprint(err)))
	}
	if _, err := ParseEtcdVersion(big); err == nil || len(err.Error()) > maxErrLen {
		t.Fatalf("ParseEtcdVersion error of %d bytes", len(fmt.Sprint(err)))
	}
}

func TestParseKubeadmConfigTypeErrorUnwraps(t *testing.T) {
	_, err := ParseKubeadmConfig([]byte("kind: ClusterConfiguration\netcd:\n  local:\n    dataDir: [a]\n"))
	var te *yaml.TypeError
	if !errors.Is(err, ErrMalformed) || !errors.As(err, &te) {
		t.Fatalf("error %v: want ErrMalformed wrapping *yaml.TypeError", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("multi-line error %q", err)
	}
}

func TestParseInitialCluster(t *testing.T) {
	tests := []struct {
		in       string
		want     []Peer
		contains string
	}{
		{in: csmCluster, want: csmPeers},
		{in: "  a=http://h:1  ", want: []Peer{{"a", "http://h:1"}}},
		{in: "a=HTTPS://H:2380", want: []Peer{{"a", "HTTPS://H:2380"}}},
		{in: "", contains: "empty"},
		{in: "a=https://h:1,", contains: "entry 2 is empty"},
		{in: "a=https://h:1,,b=https://g:1", contains: "entry 2 is empty"},
		{in: "a=https://h:1, b=https://g:1", contains: "whitespace"},
		{in: "a", contains: "not name=URL"},
		{in: "=https://h:1", contains: "empty name"},
		{in: "a=", contains: "empty"},
		{in: "a=https://h:1,b=https://h:1", contains: `peer URL "https://h:1" appears twice`},
		{in: "a=https://h:1,b=https://H:1", contains: "appears twice"},
		{in: "a=https://h:1,a=https://g:1", contains: `member "a" appears twice`},
		{in: "a=unix://h:1", contains: "scheme"},
		{in: "a=h:1", contains: "scheme"},
		{in: "a=https://h", contains: "host:port"},
		{in: "a=https://:2380", contains: "no host"},
		{in: "a=https://h:0", contains: "port"},
		{in: "a=https://h:65536", contains: "port"},
		{in: "a=https://h:x", contains: "port"},
		{in: "a=https://h:1/", contains: "nothing else"},
		{in: "a=https://h:1/path", contains: "nothing else"},
		{in: "a=https://h:1?q", contains: "nothing else"},
		{in: "a=https://h:1#f", contains: "nothing else"},
		{in: "a=https://u@h:1", contains: "nothing else"},
		{in: "a=https://[::1:1", contains: "invalid peer URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseInitialCluster(tt.in)
			if tt.contains == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrBadInitialCluster) {
				t.Fatalf("error %v, want ErrBadInitialCluster", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestFormatInitialClusterRoundTrip(t *testing.T) {
	peers, err := ParseInitialCluster(FormatInitialCluster(csmPeers))
	if err != nil || !reflect.DeepEqual(peers, csmPeers) {
		t.Fatalf("round trip: %v, %v", peers, err)
	}
	if FormatInitialCluster(nil) != "" {
		t.Fatal("FormatInitialCluster(nil) not empty")
	}
}

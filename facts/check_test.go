package facts

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var inventory = []string{"ncn-m001", "ncn-m002", "ncn-m003"}

// snapshotSize is the size of a real CSM snapshot.
const snapshotSize = 17_500_000

var v3521 = Version{3, 5, 21, ""}

func mkNode(t testing.TB, host, name, cluster, advertise string) Node {
	t.Helper()
	peers, err := ParseInitialCluster(cluster)
	if err != nil {
		t.Fatal(err)
	}
	return Node{
		Host: host,
		Member: EtcdMember{
			Name: name, InitialCluster: peers, InitialClusterRaw: cluster, InitialAdvertisePeerURLs: advertise,
		},
		Version: v3521, EtcdutlPresent: true, EtcdutlVersion: v3521, EtcdctlPresent: true, EtcdctlVersion: v3521,
		RestoreTool: ToolEtcdutl, BumpRevision: true,
		StagingMount: "/", FreeStaging: 80 << 30, DataMount: "/var/lib/etcd", FreeData: 30 << 30,
		EtcdState: "active", EtcdActive: true,
	}
}

func goodNodes(t testing.TB) []Node {
	return []Node{
		mkNode(t, "ncn-m001", "ncn-m001", csmCluster, "https://10.252.1.10:2380"),
		mkNode(t, "ncn-m002", "ncn-m002", csmCluster, "https://10.252.1.9:2380"),
		mkNode(t, "ncn-m003", "ncn-m003", csmCluster, "https://10.252.1.8:2380"),
	}
}

// TestCheckEndToEnd: three reports as printed by the preflight, parsed and checked.
func TestCheckEndToEnd(t *testing.T) {
	ips := map[string]string{"ncn-m001": "10.252.1.10", "ncn-m002": "10.252.1.9", "ncn-m003": "10.252.1.8"}
	var nodes []Node
	for _, h := range inventory {
		n, err := ParseNodeReport(h, buildReport(stdSections(h, ips[h])...))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	if errs := Check(nodes, inventory, snapshotSize); errs != nil {
		t.Fatalf("Check: %v", errs)
	}
	if !AllSupportBumpRevision(nodes) {
		t.Error("AllSupportBumpRevision = false")
	}
}

func TestCheckGood(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ns []Node) []Node
		inv    []string
	}{
		{"CSM", func(ns []Node) []Node { return ns }, inventory},
		{"initial-cluster in another order", func(ns []Node) []Node {
			ns[1] = mkNode(t, "ncn-m002", "ncn-m002", "ncn-m003=https://10.252.1.8:2380,ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380", "https://10.252.1.9:2380")
			return ns
		}, inventory},
		{"URL case differs", func(ns []Node) []Node {
			ns[0].Member.InitialAdvertisePeerURLs = "HTTPS://10.252.1.10:2380"
			return ns
		}, inventory},
		{"inventory host names differ from member names", func(ns []Node) []Node {
			for i := range ns {
				ns[i].Host += ".nmn"
			}
			return ns
		}, []string{"ncn-m001.nmn", "ncn-m002.nmn", "ncn-m003.nmn"}},
		{"inventory lists a host twice", func(ns []Node) []Node { return ns }, append(inventory, "ncn-m001")},
		{"etcd 3.4 with etcdctl, patch versions differ", func(ns []Node) []Node {
			for i := range ns {
				ns[i].Version = Version{3, 4, 20 + i, ""}
				ns[i].EtcdctlVersion = ns[i].Version
				ns[i].EtcdutlPresent, ns[i].EtcdutlVersion = false, Version{}
				ns[i].RestoreTool, ns[i].BumpRevision = ToolEtcdctl, false
			}
			return ns
		}, inventory},
		{"exactly enough space", func(ns []Node) []Node {
			ns[0].FreeStaging = 3*snapshotSize + 2*WALReserve
			ns[0].FreeData = 2*snapshotSize + WALReserve
			return ns
		}, inventory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := Check(tt.mutate(goodNodes(t)), tt.inv, snapshotSize); errs != nil {
				t.Fatalf("Check: %v", errs)
			}
		})
	}
}

// wantErr is one expected failure: its sentinel, hosts and message parts.
type wantErr struct {
	is       error
	hosts    []string
	contains []string
}

func TestCheckFailures(t *testing.T) {
	other := "ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380,ncn-m003=https://10.252.1.7:2380"
	tests := []struct {
		name   string
		mutate func(ns []Node) []Node
		inv    []string
		size   int64
		want   []wantErr
	}{
		{
			name: "name not in own initial-cluster (host maps to no member)",
			mutate: func(ns []Node) []Node {
				ns[2].Member.Name = "ncn-m009"
				return ns
			},
			want: []wantErr{
				{ErrNameNotInCluster, []string{"ncn-m003"}, []string{`"ncn-m009"`, "its own initial-cluster", "maps to no member"}},
				{ErrNameNotInCluster, []string{"ncn-m003", "ncn-m001"}, []string{`"ncn-m009" of host ncn-m003`, "initial-cluster of host ncn-m001"}},
				{ErrNameNotInCluster, []string{"ncn-m003", "ncn-m002"}, []string{`"ncn-m009" of host ncn-m003`, "initial-cluster of host ncn-m002"}},
				{ErrMemberNotInInventory, inventory, []string{"ncn-m003=https://10.252.1.8:2380", "no host in the inventory"}},
			},
		},
		{
			name: "initial-clusters differ",
			mutate: func(ns []Node) []Node {
				ns[2] = mkNode(t, "ncn-m003", "ncn-m003", other, "https://10.252.1.7:2380")
				return ns
			},
			want: []wantErr{{ErrClusterMismatch, inventory, []string{
				`ncn-m001, ncn-m002: "` + csmCluster + `"`,
				`ncn-m003: "` + other + `"`,
				"ncn-m003=https://10.252.1.8:2380 (only on ncn-m001, ncn-m002)",
				"ncn-m003=https://10.252.1.7:2380 (only on ncn-m003)",
			}}},
		},
		{
			name: "one node lacks a member",
			mutate: func(ns []Node) []Node {
				two := "ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380"
				ns[0] = mkNode(t, "ncn-m001", "ncn-m001", two, "https://10.252.1.10:2380")
				return ns
			},
			want: []wantErr{
				{ErrNameNotInCluster, []string{"ncn-m003", "ncn-m001"}, []string{`"ncn-m003" of host ncn-m003 is not in the initial-cluster of host ncn-m001`}},
				{ErrClusterMismatch, inventory, []string{"ncn-m003=https://10.252.1.8:2380 (only on ncn-m002, ncn-m003)"}},
			},
		},
		{
			name: "advertise URL differs from initial-cluster entry",
			mutate: func(ns []Node) []Node {
				ns[1].Member.InitialAdvertisePeerURLs = "https://10.252.1.99:2380"
				return ns
			},
			want: []wantErr{{ErrPeerURLMismatch, []string{"ncn-m002"}, []string{`"https://10.252.1.99:2380"`, "ncn-m002=https://10.252.1.9:2380"}}},
		},
		{
			name: "two advertise URLs",
			mutate: func(ns []Node) []Node {
				ns[1].Member.InitialAdvertisePeerURLs = "https://10.252.1.9:2380,https://10.252.2.9:2380"
				return ns
			},
			want: []wantErr{{ErrPeerURLMismatch, []string{"ncn-m002"}, []string{"initial-advertise-peer-urls"}}},
		},
		{
			name: "duplicate name",
			mutate: func(ns []Node) []Node {
				ns[2].Member.Name = "ncn-m002"
				ns[2].Member.InitialAdvertisePeerURLs = "https://10.252.1.9:2380"
				return ns
			},
			want: []wantErr{
				{ErrDuplicateName, []string{"ncn-m002", "ncn-m003"}, []string{`claim member name "ncn-m002"`}},
				{ErrMemberNotInInventory, inventory, []string{"member ncn-m003=https://10.252.1.8:2380"}},
			},
		},
		{
			name:   "member without inventory host",
			mutate: func(ns []Node) []Node { return ns[:2] },
			inv:    []string{"ncn-m001", "ncn-m002"},
			want:   []wantErr{{ErrMemberNotInInventory, []string{"ncn-m001", "ncn-m002"}, []string{"ncn-m003=https://10.252.1.8:2380", "leave it out"}}},
		},
		{
			name:   "inventory host without facts",
			mutate: func(ns []Node) []Node { return ns[:2] },
			want: []wantErr{
				{ErrNoFacts, []string{"ncn-m003"}, []string{`"ncn-m003"`}},
				{ErrMemberNotInInventory, []string{"ncn-m001", "ncn-m002"}, []string{"ncn-m003"}},
			},
		},
		{
			name:   "facts for a host outside the inventory",
			mutate: func(ns []Node) []Node { return ns },
			inv:    []string{"ncn-m001", "ncn-m002"},
			want: []wantErr{
				{ErrUnknownHost, []string{"ncn-m003"}, []string{"not in the inventory"}},
				{ErrMemberNotInInventory, inventory, []string{"ncn-m003"}},
			},
		},
		{
			name:   "facts twice for a host",
			mutate: func(ns []Node) []Node { return append(ns, ns[0]) },
			want:   []wantErr{{ErrDuplicateHost, []string{"ncn-m001"}, []string{"twice"}}},
		},
		{
			name:   "nothing at all",
			mutate: func(ns []Node) []Node { return nil },
			inv:    []string{},
			want:   []wantErr{{ErrNoFacts, nil, []string{"no inventory hosts"}}},
		},
		{
			name: "mixed etcd minor versions",
			mutate: func(ns []Node) []Node {
				ns[2].Version = Version{3, 4, 23, ""}
				ns[2].EtcdctlVersion = ns[2].Version
				ns[2].EtcdutlPresent, ns[2].EtcdutlVersion = false, Version{}
				ns[2].RestoreTool, ns[2].BumpRevision = ToolEtcdctl, false
				return ns
			},
			want: []wantErr{{ErrVersionMismatch, inventory, []string{
				"etcd 3.5 on ncn-m001 (3.5.21), ncn-m002 (3.5.21)", "etcd 3.4 on ncn-m003 (3.4.23)", "unsafe",
			}}},
		},
		{
			name: "restore tool of another minor version",
			mutate: func(ns []Node) []Node {
				ns[0].EtcdutlVersion = Version{3, 6, 5, ""}
				return ns
			},
			want: []wantErr{{ErrVersionMismatch, []string{"ncn-m001"}, []string{"etcdutl 3.6.5", "etcd 3.5.21"}}},
		},
		{
			name: "no restore tool",
			mutate: func(ns []Node) []Node {
				for i := range ns {
					ns[i].Version = Version{3, 6, 5, ""}
					ns[i].EtcdutlPresent, ns[i].EtcdutlVersion = false, Version{}
					ns[i].EtcdctlVersion = ns[i].Version
					ns[i].RestoreTool, ns[i].RestoreToolErr = RestoreTool(ns[i].Version, false)
				}
				ns[2].RestoreToolErr = nil
				return ns
			},
			want: []wantErr{
				{ErrNoRestoreTool, []string{"ncn-m001"}, []string{"etcd 3.6.5 needs etcdutl"}},
				{ErrNoRestoreTool, []string{"ncn-m002"}, []string{"etcdutl is not installed"}},
				{ErrNoRestoreTool, []string{"ncn-m003"}, []string{"no restore tool: host ncn-m003"}},
			},
		},
		{
			name: "unsupported version",
			mutate: func(ns []Node) []Node {
				for i := range ns {
					ns[i].Version = Version{3, 3, 27, ""}
					ns[i].RestoreTool, ns[i].RestoreToolErr = RestoreTool(ns[i].Version, true)
				}
				return ns
			},
			want: []wantErr{
				{ErrUnsupportedVersion, []string{"ncn-m001"}, []string{"no restore tool", "3.3.27"}},
				{ErrNoRestoreTool, []string{"ncn-m002"}, []string{"3.3.27"}},
				{ErrNoRestoreTool, []string{"ncn-m003"}, []string{"3.3.27"}},
			},
		},
		{
			name: "not enough space",
			mutate: func(ns []Node) []Node {
				ns[0].FreeStaging = 3*snapshotSize + 2*WALReserve - 1
				ns[2].FreeData = 1 << 20
				ns[2].DataMount = ""
				return ns
			},
			want: []wantErr{
				{ErrNoSpace, []string{"ncn-m001"}, []string{"staging directory (on /)", "need 186717728 bytes", "3 × snapshot 17500000 bytes", "2 × 67108864 bytes (64.0 MiB) for the WAL"}},
				{ErrNoSpace, []string{"ncn-m003"}, []string{"1048576 bytes (1.0 MiB) available for the etcd data directory (on an unknown mount)"}},
			},
		},
		{
			name:   "huge snapshot",
			mutate: func(ns []Node) []Node { return ns },
			size:   1 << 62,
			want: []wantErr{
				{ErrNoSpace, []string{"ncn-m001"}, []string{"staging"}}, {ErrNoSpace, []string{"ncn-m001"}, []string{"data"}},
				{ErrNoSpace, []string{"ncn-m002"}, []string{"staging"}}, {ErrNoSpace, []string{"ncn-m002"}, []string{"data"}},
				{ErrNoSpace, []string{"ncn-m003"}, []string{"staging"}}, {ErrNoSpace, []string{"ncn-m003"}, []string{"data"}},
			},
		},
		{
			name:   "no snapshot size",
			mutate: func(ns []Node) []Node { return ns },
			size:   -1,
			want:   []wantErr{{ErrNoSpace, nil, []string{"snapshot size -1 is not positive"}}},
		},
		{
			name: "every failure at once",
			mutate: func(ns []Node) []Node {
				ns[0].Member.InitialAdvertisePeerURLs = "https://10.252.1.99:2380"
				ns[1].FreeData = 0
				ns[2].Version = Version{3, 6, 5, ""}
				ns[2].RestoreTool, ns[2].RestoreToolErr = ToolNone, fmt.Errorf("%w: test", ErrNoRestoreTool)
				return ns
			},
			want: []wantErr{
				{ErrPeerURLMismatch, []string{"ncn-m001"}, nil},
				{ErrVersionMismatch, inventory, []string{"etcd 3.6 on ncn-m003 (3.6.5)"}},
				{ErrNoRestoreTool, []string{"ncn-m003"}, []string{"test"}},
				{ErrNoSpace, []string{"ncn-m002"}, []string{"data directory"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := tt.inv
			if inv == nil {
				inv = inventory
			}
			size := tt.size
			if size == 0 {
				size = snapshotSize
			}
			errs := Check(tt.mutate(goodNodes(t)), inv, size)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tt.want), joinErrs(errs))
			}
			for i, w := range tt.want {
				err := errs[i]
				if !errors.Is(err, w.is) {
					t.Errorf("error %d %q does not wrap %q", i, err, w.is)
				}
				var he *HostError
				if !errors.As(err, &he) {
					t.Fatalf("error %d %q is not a *HostError", i, err)
				}
				if !reflect.DeepEqual(he.Hosts, w.hosts) {
					t.Errorf("error %d %q: hosts %q, want %q", i, err, he.Hosts, w.hosts)
				}
				for _, s := range append(w.contains, w.hosts...) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %d %q does not contain %q", i, err, s)
					}
				}
			}
		})
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestHostError(t *testing.T) {
	e := &HostError{Hosts: []string{"a", "b"}, Err: fmt.Errorf("%w: x", ErrNoSpace)}
	if e.Error() != "a, b: not enough free space: x" || !errors.Is(e, ErrNoSpace) {
		t.Fatalf("%q", e.Error())
	}
	if (&HostError{Err: ErrNoFacts}).Error() != ErrNoFacts.Error() {
		t.Fatal("no hosts")
	}
}

func TestAllSupportBumpRevision(t *testing.T) {
	ns := goodNodes(t)
	if !AllSupportBumpRevision(ns) {
		t.Fatal("all etcdutl 3.5.21: want true")
	}
	ns[1].BumpRevision = false
	if AllSupportBumpRevision(ns) || AllSupportBumpRevision(nil) {
		t.Fatal("want false")
	}
}

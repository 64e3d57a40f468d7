package etcdrestore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/phases"
)

// healthJSON is what etcd-health.sh.tmpl prints on a lab member (etcd 3.5).
func healthJSON(self uint64, rev, keys int64, clientURL3 string) string {
	return fmt.Sprintf(`{"members":{"header":{"cluster_id":1,"member_id":%d,"raft_term":2},"members":[`+
		`{"ID":1,"name":"ncn-m001","peerURLs":["https://10.77.0.11:2380"],"clientURLs":["https://10.77.0.11:2379"]},`+
		`{"ID":2,"name":"ncn-m002","peerURLs":["https://10.77.0.12:2380"],"clientURLs":["https://10.77.0.12:2379"]},`+
		`{"ID":3,"name":"ncn-m003","peerURLs":["https://10.77.0.13:2380"],"clientURLs":[%s]}]},`+
		`"status":[{"Endpoint":"https://127.0.0.1:2379","Status":{"header":{"cluster_id":1,"member_id":%d,"revision":%d,"raft_term":2},`+
		`"version":"3.5.21","dbSize":131072,"leader":3,"raftIndex":31}}],"keys":{"count":%d}}`, self, clientURL3, self, rev, keys)
}

func verifyFixture(t *testing.T, revs, keys [3]int64, started3 bool) (*verifyPhase, map[string]health) {
	t.Helper()
	peers := map[string]string{"ncn-m001": "https://10.77.0.11:2380", "ncn-m002": "https://10.77.0.12:2380", "ncn-m003": "https://10.77.0.13:2380"}
	r := &run{members: map[string]member{}, snapRev: 10}
	var hs hosts.Hosts
	views := map[string]health{}
	url3 := `"https://10.77.0.13:2379"`
	if !started3 {
		url3 = ""
	}
	for i := range 3 {
		name := fmt.Sprintf("ncn-m%03d", i+1)
		hs = append(hs, hosts.New(&inventory.Host{Name: name}))
		r.members[name] = member{Name: name, Peers: peers}
		var v health
		if err := json.Unmarshal([]byte(healthJSON(uint64(i+1), revs[i], keys[i], url3)), &v); err != nil {
			t.Fatal(err)
		}
		views[name] = v
	}
	return &verifyPhase{GoPhase: &phases.GoPhase{Hosts: hs}, r: r}, views
}

func TestVerifyCompare(t *testing.T) {
	for _, tc := range []struct {
		name     string
		revs     [3]int64
		keys     [3]int64
		started3 bool
		rollback bool
		want     string // "" means no error
	}{
		{"agree", [3]int64{11, 11, 11}, [3]int64{1000, 1000, 1000}, true, false, ""},
		{"member not started", [3]int64{11, 11, 11}, [3]int64{1000, 1000, 1000}, false, false, "is not started"},
		{"revisions differ", [3]int64{11, 12, 11}, [3]int64{1000, 1000, 1000}, true, false, "disagree on the revision"},
		{"key counts differ", [3]int64{11, 11, 11}, [3]int64{1000, 999, 1000}, true, false, "disagree on the key count"},
		{"older than the snapshot", [3]int64{9, 9, 9}, [3]int64{1000, 1000, 1000}, true, false, "older than the snapshot"},
		{"rollback ignores the snapshot revision", [3]int64{9, 9, 9}, [3]int64{1000, 1000, 1000}, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, views := verifyFixture(t, tc.revs, tc.keys, tc.started3)
			p.rollback = tc.rollback
			errs := p.compare(views)
			got := fmt.Sprint(errs)
			if tc.want == "" && len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}

func TestVerifyCompareWrongPeerURL(t *testing.T) {
	p, views := verifyFixture(t, [3]int64{11, 11, 11}, [3]int64{5, 5, 5}, true)
	for name, m := range p.r.members {
		m.Peers = map[string]string{"ncn-m001": "https://10.77.0.11:2380", "ncn-m002": "https://10.77.0.99:2380", "ncn-m003": "https://10.77.0.13:2380"}
		p.r.members[name] = m
	}
	if errs := p.compare(views); !strings.Contains(fmt.Sprint(errs), "member list") {
		t.Fatalf("a wrong peer URL was not reported: %v", errs)
	}
}

func TestStatusesFromRegisteredHealth(t *testing.T) {
	var hs hosts.Hosts
	for i := range 3 {
		h := hosts.New(&inventory.Host{Name: fmt.Sprintf("ncn-m%03d", i+1)})
		var v any
		json.Unmarshal([]byte(healthJSON(uint64(i+1), 42, 7, `"x"`)), &v)
		if i != 1 {
			h.SetFact("health", v)
		}
		hs = append(hs, h)
	}
	st := Statuses(hs)
	if !st[0].Healthy || st[0].Member != "ncn-m001" || st[0].Revision != 42 || st[0].Keys != 7 || st[0].Leader {
		t.Errorf("ncn-m001: %+v", st[0])
	}
	if st[1].Healthy || st[1].Error == "" {
		t.Errorf("ncn-m002 without an answer: %+v", st[1])
	}
	if !st[2].Leader {
		t.Errorf("ncn-m003 is the leader: %+v", st[2])
	}
}

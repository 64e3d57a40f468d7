package etcdrestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
)

func TestSnapshotKeysFromTheFirstMasterOnly(t *testing.T) {
	var hs hosts.Hosts
	for i := range 3 {
		hs = append(hs, hosts.New(&inventory.Host{Name: fmt.Sprintf("ncn-m%03d", i+1)}))
	}
	if _, ok, err := snapshotKeys(hs); ok || err != nil {
		t.Fatalf("no host counted: ok %v, err %v", ok, err)
	}
	// What etcd-count-keys.sh.tmpl prints, as the json register stores it.
	var v any
	json.Unmarshal([]byte(`{"keys":1203,"revision":5077,"status_revision":5077}`), &v)
	hs[0].SetFact("snapshot_keys", v)
	c, ok, err := snapshotKeys(hs)
	if err != nil || !ok || c.Keys != 1203 || c.Revision != 5077 || c.StatusRevision != 5077 {
		t.Fatalf("count = %+v, ok %v, err %v", c, ok, err)
	}
	for _, bad := range []string{`{"keys":3,"revision":0,"status_revision":7}`, `{"keys":3,"revision":7,"status_revision":0}`} {
		json.Unmarshal([]byte(bad), &v)
		hs[0].SetFact("snapshot_keys", v)
		if _, _, err := snapshotKeys(hs); err == nil || !strings.Contains(err.Error(), "ncn-m001") {
			t.Fatalf("a count without a revision was accepted (%s): %v", bad, err)
		}
	}
}

func TestRestoredRevision(t *testing.T) {
	for _, tc := range []struct {
		rev    int64
		bump   bool
		amount any
		want   int64
		bad    bool
	}{
		{5077, false, 1000000000, 5077, false},
		{5077, true, 1000000000, 1000005077, false},
		{5077, true, "1000", 6077, false}, // -e bump_amount=1000 arrives as a string
		{5077, true, "many", 0, true},
		{5077, true, -1, 0, true},
	} {
		got, err := restoredRevision(tc.rev, tc.bump, tc.amount)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("restoredRevision(%d, %v, %v) = %d, %v; want %d (error: %v)", tc.rev, tc.bump, tc.amount, got, err, tc.want, tc.bad)
		}
	}
}

func TestVerifyCompareAgainstTheSnapshotsKeys(t *testing.T) {
	for _, tc := range []struct {
		name     string
		revs     [3]int64
		keys     [3]int64
		keysRev  int64
		rollback bool
		want     string
	}{
		{"every member holds the snapshot's keys", [3]int64{11, 11, 11}, [3]int64{1000, 1000, 1000}, 10, false, ""},
		{"all agree but not with the snapshot", [3]int64{11, 11, 11}, [3]int64{999, 999, 999}, 10, false, "the snapshot holds 1000"},
		{"not counted: only agreement is checked", [3]int64{11, 11, 11}, [3]int64{999, 999, 999}, 0, false, ""},
		{"rollback compares members only", [3]int64{11, 11, 11}, [3]int64{999, 999, 999}, 10, true, ""},
		// Counted at the restored revision, newest revisions that differ by
		// the API servers' later writes still verify; one behind it does not.
		{"newest revisions differ by later writes", [3]int64{12, 15, 13}, [3]int64{1000, 1000, 1000}, 10, false, ""},
		{"one member behind the restored revision", [3]int64{12, 9, 13}, [3]int64{1000, 1000, 1000}, 10, false, "older than the restored revision 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, views := verifyFixture(t, tc.revs, tc.keys, true)
			p.rollback = tc.rollback
			p.r.snapKeys, p.r.keysRev = 1000, tc.keysRev
			errs := p.compare(views)
			if tc.want == "" && len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if tc.want != "" && !strings.Contains(fmt.Sprint(errs), tc.want) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}

func TestJoinLinesKeepsTheCauses(t *testing.T) {
	err := fmt.Errorf("%w:\n  %w", ErrVerify, joinLines([]error{
		fmt.Errorf("ncn-m001: read member view: %w", context.Canceled), fmt.Errorf("ncn-m002: late")}))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrVerify) {
		t.Fatalf("%v: the causes are lost", err)
	}
	if want := "verification failed:\n  ncn-m001: read member view: context canceled\n  ncn-m002: late"; err.Error() != want {
		t.Fatalf("%q, want %q", err, want)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt signal received"))
	if got := interrupted(ctx); !errors.Is(got, context.Canceled) || got.Error() != "context canceled (interrupt signal received)" {
		t.Fatalf("interrupted = %v", got)
	}
}

package etcdrestore

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/phases"
)

// journalLines is a node state with one open journal of run that reached
// steps.
func journalLines(run string, steps ...string) []string {
	l := []string{"etcd inactive", "hold yes", "lock free", "journal " + run, "run " + run,
		"staging /var/tmp/ncnpush-etcd-restore." + run, "data /var/lib/etcd",
		"aside /var/lib/etcd/member.pre-restore-" + run, "failed /var/lib/etcd/member.failed-restore-" + run,
		"hold /etc/systemd/system/etcd.service.d/00-ncnpush-restore-hold.conf"}
	for _, s := range steps {
		l = append(l, "at "+s+" 2026-02-12T10:15:02Z")
	}
	return append(l, "end-journal")
}

func recoverPlan(t *testing.T, complete bool, states ...[]string) (*recovery, error) {
	t.Helper()
	var hs hosts.Hosts
	for i, st := range states {
		h := hosts.New(&inventory.Host{Name: "ncn-m00" + string(rune('1'+i))})
		h.SetFact("node_state", st)
		hs = append(hs, h)
	}
	env := &phases.Env{Hosts: hs}
	r, err := newMaintRun(MaintOptions{Env: env, Complete: complete, DryRun: true, Prompt: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	rc := &recovery{r: r, o: MaintOptions{Complete: complete}}
	p := &recoverPhase{GoPhase: &phases.GoPhase{Hosts: hs}, rc: rc}
	err = p.plan(context.Background(), true)
	return rc, err
}

func TestRecoverDecides(t *testing.T) {
	const run = "20260212T101500Z-0a1b2c3d"
	swapped := []string{"staged", "stop", "swap", "moved-aside", "swapped"}
	cases := []struct {
		name     string
		complete bool
		states   [][]string
		mode     string // "" with wantErr
		wantErr  string
	}{
		{"nothing", false, [][]string{{"etcd active", "hold no", "lock free"}, {"etcd active", "hold no", "lock free"}}, "", ""},
		{"only staged: clean-up", false, [][]string{journalLines(run, "staged"), journalLines(run, "staged")}, "clean-up", ""},
		{"killed at the swap: rollback", false, [][]string{journalLines(run, swapped...), journalLines(run, "staged", "stop", "swap")}, "rollback", ""},
		{"complete after every swap", true, [][]string{journalLines(run, swapped...), journalLines(run, append(swapped, "start")...)}, "complete", ""},
		{"complete refused before every swap", true, [][]string{journalLines(run, swapped...), journalLines(run, "staged", "stop", "swap")}, "", "--complete needs every master"},
		{"complete refused once the rollback began", true, [][]string{journalLines(run, append(swapped, "rollback", "rolled-back")...), journalLines(run, swapped...)}, "", "rollback of"},
		{"a hold without a journal", false, [][]string{{"etcd inactive", "hold yes", "lock free"}}, "", "no interrupted run is recorded"},
		{"a held lock", false, [][]string{append([]string{"lock held run x since y"}, journalLines(run, swapped...)[3:]...)}, "", "holds the lock"},
		{"two runs", false, [][]string{journalLines(run, swapped...), journalLines("20260101T000000Z-00000000", "staged", "stop")}, "", "several interrupted runs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := recoverPlan(t, c.complete, c.states...)
			switch {
			case c.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case rc.mode != c.mode:
				t.Fatalf("mode %q, want %q", rc.mode, c.mode)
			}
			if c.mode != "" && c.mode != "clean-up" {
				// The paths come from the run's journal.
				h := rc.r.env.Hosts[0]
				v, _ := h.Fact("paths")
				if p, _ := v.(map[string]any); p["aside"] != "/var/lib/etcd/member.pre-restore-"+run || rc.r.runID != run {
					t.Fatalf("paths %v, run %s", v, rc.r.runID)
				}
			}
			if c.wantErr == "holds the lock" && !errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
		})
	}
}

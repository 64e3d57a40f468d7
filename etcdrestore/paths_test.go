package etcdrestore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/tasks"
)

func defaults() map[string]any {
	return map[string]any{
		"data_dir": "/var/lib/etcd", "staging_dir": "/var/tmp/ncnpush-etcd-restore", "state_dir": "/var/lib/ncnpush-etcd-restore",
		"lock_file": "/var/lib/ncnpush-etcd-restore/lock", "hold_dropin": "/etc/systemd/system/etcd.service.d/00-hold.conf",
		"pki_dir": "/etc/kubernetes/pki/etcd", "kubeadm_config": "/etc/kubernetes/kubeadmcfg.yaml",
	}
}

func TestCheckPaths(t *testing.T) {
	cases := []struct {
		name, key, value string
		want             string // "" accepted; else in the one-line error
	}{
		{"defaults", "", "", ""},
		{"staging elsewhere", "staging_dir", "/srv/ncnpush-stage", ""},
		{"staging is the data dir", "staging_dir", "/var/lib/etcd", "equal to data_dir"},
		{"staging inside the data dir", "staging_dir", "/var/lib/etcd/stage", "inside data_dir"},
		{"staging above the data dir", "staging_dir", "/var/lib", "system directory"},
		{"staging above the data dir, not a system dir", "staging_dir", "/srv", "system directory"},
		{"staging is root's home", "staging_dir", "/root", "system directory"},
		{"staging is /", "staging_dir", "/", "system directory"},
		{"staging is /var/tmp", "staging_dir", "/var/tmp", "system directory"},
		{"staging relative", "staging_dir", "var/tmp/x", "not an absolute path"},
		{"staging unclean", "staging_dir", "/var/tmp/x/../../etc", "not a clean path"},
		{"staging with a newline", "staging_dir", "/var/tmp/x\n", "control character"},
		{"state is the data dir", "state_dir", "/var/lib/etcd", "equal to data_dir"},
		{"state in a system dir", "state_dir", "/etc", "system directory"},
		{"lock outside the state dir", "lock_file", "/run/lock/ncnpush.lock", "must be in state_dir"},
		{"data dir empty", "data_dir", "", "is empty"},
		{"staging inside the state dir", "staging_dir", "/var/lib/ncnpush-etcd-restore/stage", "inside state_dir"},
		{"hold not a drop-in", "hold_dropin", "/etc/systemd/system/etcd.service.d/hold", "must be a .conf file"},
		{"hold in another unit's drop-ins", "hold_dropin", "/etc/systemd/system/kubelet.service.d/x.conf", "must be a .conf file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := defaults()
			if c.key != "" {
				v[c.key] = c.value
			}
			err := CheckPaths("ncn-m001", v)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted %s=%q", c.key, c.value)
			case c.want != "":
				if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "ncn-m001") {
					t.Fatalf("err = %v, want ErrBadPath naming the host and %q", err, c.want)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("not one line: %q", err)
				}
			}
		})
	}
}

// An inventory host var is checked as -e is: before any connection.
func TestCheckHostsResolvesInventoryVars(t *testing.T) {
	h1 := hosts.New(&inventory.Host{Name: "ncn-m001"})
	h2 := hosts.New(&inventory.Host{Name: "ncn-m002"})
	h2.Vars = map[string]string{"staging_dir": "/var/lib/etcd"}
	_, err := CheckHosts(hosts.Hosts{h1, h2}, nil)
	if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), "ncn-m002") || strings.Contains(err.Error(), "ncn-m001") {
		t.Fatalf("err = %v, want ncn-m002's staging_dir refused", err)
	}
	// -e beats the inventory: the operator's override is what runs.
	if _, err := CheckHosts(hosts.Hosts{h1, h2}, map[string]any{"staging_dir": "/srv/stage"}); err != nil {
		t.Fatalf("refused with -e staging_dir=/srv/stage: %v", err)
	}
	if _, err := CheckHosts(hosts.Hosts{h1}, map[string]any{"staging_dir": "/root"}); err == nil {
		t.Fatal("-e staging_dir=/root accepted")
	}
	// A typo in a number is refused before any connection, and a good
	// value comes back typed.
	_, err = CheckHosts(hosts.Hosts{h1}, map[string]any{"start_timeout": "120s"})
	if !errors.Is(err, tasks.ErrVarType) || !strings.Contains(err.Error(), "start_timeout") {
		t.Fatalf("-e start_timeout=120s: err = %v", err)
	}
	_, err = CheckHosts(hosts.Hosts{h1}, map[string]any{"start_timeout": "BASH_VERSINFO[$(touch /tmp/x)0]"})
	if !errors.Is(err, tasks.ErrVarType) {
		t.Fatalf("-e start_timeout=<code>: err = %v", err)
	}
	conv, err := CheckHosts(hosts.Hosts{h1}, map[string]any{"start_timeout": "90"})
	if err != nil || conv["start_timeout"] != 90 {
		t.Fatalf("-e start_timeout=90: %v, %#v", err, conv)
	}
	if _, err := CheckHosts(hosts.Hosts{h1}, map[string]any{"start_note": "rolled-back"}); err == nil || !strings.Contains(err.Error(), "start_note") {
		t.Fatalf("-e start_note accepted: %v", err)
	}
	h1.Vars = map[string]string{"start_max_restarts": "three"}
	if _, err := CheckHosts(hosts.Hosts{h1}, nil); err == nil || !strings.Contains(err.Error(), "ncn-m001") {
		t.Fatalf("an inventory var of the wrong type: err = %v", err)
	}
}

func TestRunIDsAreUniqueAndCarryTheirTime(t *testing.T) {
	now := time.Date(2026, 2, 12, 10, 15, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := newRunID(now)
		if seen[id] {
			t.Fatalf("run ID %s twice", id)
		}
		seen[id] = true
		if got, ok := RunTime(id); !ok || !got.Equal(now) {
			t.Fatalf("RunTime(%s) = %v, %v", id, got, ok)
		}
	}
	p := pathsFor(defaults(), "20260212T101500Z-0a1b2c3d")
	if p.Staging != "/var/tmp/ncnpush-etcd-restore.20260212T101500Z-0a1b2c3d" ||
		p.Aside != "/var/lib/etcd/member.pre-restore-20260212T101500Z-0a1b2c3d" ||
		p.Journal != "/var/lib/ncnpush-etcd-restore/20260212T101500Z-0a1b2c3d.journal" {
		t.Fatalf("paths = %+v", p)
	}
	for dir, want := range map[string]string{
		"/var/lib/etcd/member.pre-restore-20260212T101500Z-0a1b2c3d":      "20260212T101500Z-0a1b2c3d",
		"/var/lib/etcd/member.failed-restore-20260212T101500Z-0a1b2c3d.2": "20260212T101500Z-0a1b2c3d",
		"/var/lib/etcd/member.pre-restore-20250101T000000Z":               "20250101T000000Z",
		"/var/lib/etcd/member": "",
	} {
		if got := keptRun(dir); got != want {
			t.Errorf("keptRun(%s) = %q, want %q", dir, got, want)
		}
	}
}

func TestParseNodeState(t *testing.T) {
	lines := []string{
		"etcd inactive",
		"hold yes",
		"lock held run 20260212T101500Z-0a1b2c3d since 2026-02-12T10:15:01Z",
		"kept 104857600 /var/lib/etcd/member.pre-restore-20250101T000000Z",
		"kept 2048 /var/lib/etcd/member.pre-restore-20260212T101500Z-0a1b2c3d",
		"leftover 4096 /var/tmp/ncnpush-etcd-restore.20260212T101500Z-0a1b2c3d",
		"journal 20260212T101500Z-0a1b2c3d",
		"run 20260212T101500Z-0a1b2c3d",
		"staging /var/tmp/ncnpush-etcd-restore.20260212T101500Z-0a1b2c3d",
		"data /var/lib/etcd",
		"aside /var/lib/etcd/member.pre-restore-20260212T101500Z-0a1b2c3d",
		"failed /var/lib/etcd/member.failed-restore-20260212T101500Z-0a1b2c3d",
		"hold /etc/systemd/system/etcd.service.d/00-hold.conf",
		"at staged 2026-02-12T10:15:02Z",
		"at stop 2026-02-12T10:15:10Z",
		"at swap 2026-02-12T10:15:20Z",
		"at moved-aside 2026-02-12T10:15:20Z",
		"end-journal",
	}
	st, err := parseNodeState(lines)
	if err != nil {
		t.Fatal(err)
	}
	if st.Etcd != "inactive" || !st.Hold || !strings.HasPrefix(st.Lock, "run 20260212T101500Z") || len(st.Kept) != 2 ||
		st.Kept[0].Bytes != 104857600 || len(st.Leftovers) != 1 || len(st.Journals) != 1 {
		t.Fatalf("state = %+v", st)
	}
	j := st.Journals[0]
	if j.Last() != stepMovedAside || !j.Stopped() || j.Has(stepSwapped) || !j.Has(stepSwap) || j.Hold == "" || j.Aside == "" {
		t.Fatalf("journal = %+v", j)
	}
	if _, err := parseNodeState([]string{"journal x", "at staged t"}); err == nil {
		t.Fatal("an unended journal accepted")
	}
	if _, err := parseNodeState([]string{"bogus line"}); err == nil {
		t.Fatal("an unknown line accepted")
	}
	staged, _ := parseNodeState([]string{"journal r", "at staged t", "end-journal"})
	if staged.Journals[0].Stopped() {
		t.Fatal("a run that only staged counts as stopped")
	}
}

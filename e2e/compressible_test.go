package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestCompressibleSnapshotLargerThanStagingIsRefusedInPreflight: real etcd
// data compresses 10-50 times, so the backup object's size says little of
// the room a restore needs. A backup whose archive is tiny but whose snapshot
// is ~32 MB is restored with its staging on a 160 MiB file system: enough
// for three copies of the archive and the WAL reserve (what a check on the
// object's size would pass), not for three copies of the snapshot. The
// preflight must refuse it, and nothing may be stopped or staged.
func TestCompressibleSnapshotLargerThanStagingIsRefusedInPreflight(t *testing.T) {
	// 32 values of 1 MB of one letter: a 32 MB snapshot that gzip makes tiny.
	for i := range 32 {
		if out, err := lab.SSH(t, "ncn-m001", fmt.Sprintf(
			`head -c 1000000 /dev/zero | tr '\0' z | ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 `+
				`--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/server.crt --key /etc/kubernetes/pki/etcd/server.key `+
				`put /ncnpush-zip/%02d >/dev/null`, i)); err != nil {
			t.Fatalf("put a compressible value: %v\n%s", err, out)
		}
	}
	t.Cleanup(func() {
		// Delete the values, then compact and defragment every member, so
		// that the tests after this one (their backups) do not carry 32 MB.
		ctl := `ETCDCTL_API=3 etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/server.crt ` +
			`--key /etc/kubernetes/pki/etcd/server.key `
		out, err := lab.SSH(t, "ncn-m001", ctl+`--endpoints https://127.0.0.1:2379 del --prefix /ncnpush-zip/ >/dev/null && `+
			`rev=$(`+ctl+`--endpoints https://127.0.0.1:2379 endpoint status -w json | grep -o '"revision":[0-9]*' | head -n 1 | cut -d: -f2) && `+
			ctl+`--endpoints https://127.0.0.1:2379 compact "$rev" && `+ctl+`--endpoints `+lab.endpoints()+` defrag`)
		if err != nil {
			t.Errorf("clean up the compressible values: %v\n%s", err, out)
		}
	})
	out, err := lab.script("backup")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	name := strings.TrimSuffix(strings.TrimPrefix(key, "bare-metal/"), ".tar.gz")
	t.Cleanup(func() { removeObject(t, key) })

	const mnt = "/var/tmp/ncnpush-fault-zip"
	lab.MustSSH(t, "ncn-m002", "mkdir -p "+mnt+" && mount -t tmpfs -o size=160m,mode=0700 tmpfs "+mnt)
	t.Cleanup(func() { lab.SSH(t, "ncn-m002", "umount "+mnt+"; rmdir "+mnt) })
	before := nodeState(t)
	r := runNcnpush(t, "", restoreArgs("--backup", name, "--yes", "--skip-k8s-heal", "-e", "staging_dir="+mnt+"/stage")...)
	t.Logf("exit %d\n%s", r.code, r.stderr)
	msg := errorText(r.stderr)
	if r.code != 1 || !strings.Contains(msg, "preflight failed") || !strings.Contains(msg, "ncn-m002") ||
		!strings.Contains(msg, "staging directory") {
		t.Fatalf("want the preflight to refuse ncn-m002's staging for want of room; exit %d:\n%s", r.code, msg)
	}
	// The archive is tiny: the refusal comes from the snapshot's own size.
	if i := strings.Index(r.stderr, "bytes compressed"); i >= 0 {
		t.Logf("plan: %s", r.stderr[max(0, i-80):i+20])
	}
	if regexp.MustCompile(`==> \[\d+/\d+\] Stop etcd`).MatchString(r.stdout) {
		t.Errorf("the stop phase ran:\n%s", r.stdout)
	}
	if after := nodeState(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes changed:\nbefore %v\nafter  %v", before, after)
	}
	if out := lab.MustSSH(t, "ncn-m002", "ls -A "+mnt); strings.TrimSpace(out) != "" {
		t.Errorf("something was staged on ncn-m002: %s", out)
	}
}

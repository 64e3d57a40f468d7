package staging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
)

const testBackup = "etcd-backup-2024-05-01-10-20-30"

// testDump opens a CSM archive around a real snapshot of several chunks.
func testDump(t *testing.T) (*backups.Dump, []byte) {
	t.Helper()
	var ops []snapshottest.Op
	for i := range 3000 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/k%05d", i), Value: fmt.Sprintf("v-%d-%s", i, bytes.Repeat([]byte("x"), 400))})
	}
	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	if _, err := snapshottest.Write(path, snapshottest.Options{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(dump) <= ChunkSize {
		t.Fatalf("test snapshot of %d bytes spans no chunks", len(dump))
	}
	var buf bytes.Buffer
	if err := backups.WriteArchive(&buf, testBackup, bytes.NewReader(dump), int64(len(dump))); err != nil {
		t.Fatal(err)
	}
	d, err := backups.OpenArchive(&buf, testBackup, backups.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d, dump
}

func testHosts(t *testing.T, n int) (hosts.Hosts, []string) {
	var hs hosts.Hosts
	var roots []string
	for i := range n {
		name := fmt.Sprintf("ncn-m%03d", i+1)
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "stage"), 0o700); err != nil {
			t.Fatal(err)
		}
		h := hosts.New(&inventory.Host{Name: name})
		h.Conn = &hoststest.Conn{Host: name, Root: root}
		hs, roots = append(hs, h), append(roots, root)
	}
	return hs, roots
}

func TestPushGivesEveryHostThePrivateDump(t *testing.T) {
	d, dump := testDump(t)
	hs, roots := testHosts(t, 3)
	var mu sync.Mutex
	recorded := map[string]error{}
	err := Push(context.Background(), PushOptions{Hosts: hs, Dump: d, Path: "/stage/dump.bin",
		Record: func(host string, _ time.Time, err error) { mu.Lock(); recorded[host] = err; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Verified() {
		t.Error("dump not read to its verified end")
	}
	for i, root := range roots {
		p := filepath.Join(root, "stage", "dump.bin")
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dump) {
			t.Errorf("host %d got %d bytes, not the %d-byte dump", i, len(got), len(dump))
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("host %d: mode %o, want 600", i, st.Mode().Perm())
		}
	}
	if len(recorded) != 3 {
		t.Errorf("recorded %d hosts, want 3", len(recorded))
	}
}

func TestPushFailsWhenOneHostFails(t *testing.T) {
	d, _ := testDump(t)
	hs, _ := testHosts(t, 3)
	hs[2].Conn.(*hoststest.Conn).Root = "" // uploads to this host fail
	var mu sync.Mutex
	recorded := map[string]error{}
	err := Push(context.Background(), PushOptions{Hosts: hs, Dump: d, Path: "/stage/dump.bin",
		Record: func(host string, _ time.Time, err error) { mu.Lock(); recorded[host] = err; mu.Unlock() }})
	if err == nil {
		t.Fatal("push succeeded with a failing host")
	}
	// The others finished, or were stopped and say by whom; the error is
	// ncn-m003's alone, not repeated for every host it stopped.
	for _, h := range []string{"ncn-m001", "ncn-m002"} {
		if e := recorded[h]; e != nil && (!errors.Is(e, ErrStopped) || e.Error() != "stopped: ncn-m003 failed") {
			t.Errorf("%s recorded %v, want nil or stopped: ncn-m003 failed", h, e)
		}
		if strings.Contains(err.Error(), "host "+h) {
			t.Errorf("error %q names %s, which did not fail by itself", err, h)
		}
	}
	// The hosts' errors, not only the reader's cancellation: one of them is
	// ncn-m003's own, not a cancellation.
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v: want the hosts' joined errors", err)
	}
	found := false
	for _, e := range joined.Unwrap() {
		var he *hosts.HostError
		if errors.As(e, &he) && he.Host == "ncn-m003" && !errors.Is(e, context.Canceled) {
			found = true
		}
	}
	if !found {
		t.Errorf("error %v has no error of ncn-m003's own", err)
	}
}

package etcdrestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/snapshot"
	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
)

const testBackup = "etcd-backup-2024-05-01-10-20-30"

// archive builds a CSM backup archive around a real bbolt snapshot of n
// keys, optionally with one byte of the dump flipped.
func archive(t *testing.T, n int, flip bool) ([]byte, []byte) {
	t.Helper()
	var ops []snapshottest.Op
	for i := range n {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/k%05d", i), Value: fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte("x"), 200))})
	}
	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	if _, err := snapshottest.Write(path, snapshottest.Options{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := dump
	if flip {
		src = bytes.Clone(dump)
		src[len(src)/2] ^= 0x01
	}
	var buf bytes.Buffer
	// WriteArchive refuses a dump with a bad hash, so a corrupt archive is
	// built from the good one by flipping the byte in the written tar.
	if err := backups.WriteArchive(&buf, testBackup, bytes.NewReader(dump), int64(len(dump))); err != nil {
		t.Fatal(err)
	}
	if !flip {
		return buf.Bytes(), dump
	}
	return rewriteArchive(t, buf.Bytes(), dump, src), src
}

// rewriteArchive replaces the dump's bytes inside an uncompressed copy of
// the archive and compresses it again.
func rewriteArchive(t *testing.T, gz, from, to []byte) []byte {
	t.Helper()
	raw := gunzip(t, gz)
	i := bytes.Index(raw, from)
	if i < 0 {
		t.Fatal("dump not found in the archive")
	}
	copy(raw[i:], to)
	return gzipBytes(t, raw)
}

func testRun(t *testing.T, n int) (*run, hosts.Hosts, []string) {
	t.Helper()
	var hs hosts.Hosts
	var roots []string
	for i := range n {
		name := fmt.Sprintf("ncn-m%03d", i+1)
		root := t.TempDir()
		roots = append(roots, root)
		h := hosts.New(&inventory.Host{Name: name})
		h.Conn = &hoststest.Conn{Host: name, Root: root}
		hs = append(hs, h)
	}
	env := &phases.Env{Hosts: hs, Vars: map[string]any{"staging_dir": "/var/tmp/stage"}}
	return &run{env: env, runID: "r1", members: map[string]member{}, locks: map[string]*lock{}, paths: map[string]Paths{}}, hs, roots
}

func TestStreamDeliversTheWholeSnapshotToEveryHost(t *testing.T) {
	gz, dump := archive(t, 3000, false) // several chunks: more than 1 MiB
	if len(dump) <= chunkSize {
		t.Fatalf("test snapshot too small (%d bytes) to span chunks", len(dump))
	}
	r, hs, roots := testRun(t, 3)
	// One host's inventory vars move its staging directory: the stream goes
	// where that host's scripts look (one resolution of variables).
	hs[2].Vars = map[string]string{"staging_dir": "/srv/stage"}
	dirs := []string{"var/tmp/stage.r1", "var/tmp/stage.r1", "srv/stage.r1"}
	p := &pushPhase{GoPhase: &phases.GoPhase{Hosts: hs}, r: r}
	d, err := backups.OpenArchive(bytes.NewReader(gz), testBackup, backups.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stream(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(dump)
	if d.HexSum() != hex.EncodeToString(want[:]) {
		t.Fatalf("dump sum %s, want %x", d.HexSum(), want)
	}
	for i, root := range roots {
		got, err := os.ReadFile(filepath.Join(root, dirs[i], DumpFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dump) {
			t.Errorf("host %d received %d bytes, not the %d-byte snapshot", i, len(got), len(dump))
		}
		st, _ := os.Stat(filepath.Join(root, dirs[i], DumpFile))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("host %d: mode %o, want 600", i, st.Mode().Perm())
		}
	}
	if len(p.Results()) != 3 {
		t.Errorf("results for %d hosts, want 3", len(p.Results()))
	}
}

func TestStreamRefusesACorruptSnapshot(t *testing.T) {
	gz, _ := archive(t, 3000, true)
	r, hs, _ := testRun(t, 2)
	p := &pushPhase{GoPhase: &phases.GoPhase{Hosts: hs}, r: r}
	d, err := backups.OpenArchive(bytes.NewReader(gz), testBackup, backups.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.stream(context.Background(), d)
	if !errors.Is(err, snapshot.ErrHashMismatch) {
		t.Fatalf("stream of a corrupt snapshot: %v, want ErrHashMismatch", err)
	}
}

func TestStreamStopsWhenOneHostFails(t *testing.T) {
	gz, _ := archive(t, 3000, false)
	r, hs, _ := testRun(t, 3)
	hs[1].Conn.(*hoststest.Conn).Root = "" // uploads to this host fail
	p := &pushPhase{GoPhase: &phases.GoPhase{Hosts: hs}, r: r}
	d, err := backups.OpenArchive(bytes.NewReader(gz), testBackup, backups.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stream(context.Background(), d); err == nil {
		t.Fatal("stream succeeded with a failing host")
	}
}

package snapshot_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ncnpush/ncnpush/snapshot"
	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
)

func sampleOps() []snapshottest.Op {
	var ops []snapshottest.Op
	for i := range 50 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/pods/default/p%02d", i), Value: strings.Repeat("v", i)})
	}
	// Updates, deletions, and a key deleted then put again.
	ops = append(ops,
		snapshottest.Op{Key: "/registry/pods/default/p00", Value: "updated"},
		snapshottest.Op{Key: "/registry/pods/default/p01", Delete: true},
		snapshottest.Op{Key: "/registry/pods/default/p02", Delete: true},
		snapshottest.Op{Key: "/registry/pods/default/p02", Value: "back"},
		snapshottest.Op{Key: "/registry/pods/default/p03", Delete: true},
	)
	return ops
}

func TestStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	exp, err := snapshottest.Write(path, snapshottest.Options{Ops: sampleOps(), CompactRevision: 7, ConsistentIndex: 4242})
	if err != nil {
		t.Fatal(err)
	}
	st, err := snapshot.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if exp.LiveKeys != 48 || exp.Revision != 56 {
		t.Fatalf("fixture changed: %+v", exp)
	}
	if st.Revision != exp.Revision || st.TotalKey != exp.TotalKey || st.LiveKeys != exp.LiveKeys ||
		st.Revisions != exp.Revisions || st.TotalSize != exp.TotalSize || st.FileSize != exp.Size {
		t.Fatalf("Stat = %+v\nwant %+v", st, exp)
	}
	if !st.HasHash || st.CompactRevision != 7 || st.ConsistentIndex != 4242 || st.Hash == 0 {
		t.Fatalf("Stat = %+v", st)
	}
	if _, err := snapshot.VerifyFile(path); err != nil {
		t.Fatal(err)
	}

	// Same contents, written again: same crc32 hash.
	path2 := filepath.Join(t.TempDir(), "again.bin")
	if _, err := snapshottest.Write(path2, snapshottest.Options{Ops: sampleOps(), CompactRevision: 7, ConsistentIndex: 4242}); err != nil {
		t.Fatal(err)
	}
	st2, err := snapshot.Stat(path2)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Hash != st.Hash {
		t.Fatalf("hash %d != %d for equal contents", st2.Hash, st.Hash)
	}
}

func TestStatWithoutHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	exp, err := snapshottest.Write(path, snapshottest.Options{Ops: sampleOps(), NoHash: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := snapshot.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.HasHash || st.Revision != exp.Revision || st.FileSize != st.TotalSize {
		t.Fatalf("Stat = %+v", st)
	}
}

func TestStatEmptyKeyspace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.bin")
	exp, err := snapshottest.Write(path, snapshottest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := snapshot.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != 0 || st.LiveKeys != 0 || st.TotalKey != exp.TotalKey {
		t.Fatalf("Stat = %+v", st)
	}
}

func TestFlippedByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	if _, err := snapshottest.Write(path, snapshottest.Options{Ops: sampleOps()}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the middle of a data page (not a meta page).
	data[len(data)/2+100] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = snapshot.VerifyFile(path)
	if !errors.Is(err, snapshot.ErrHashMismatch) {
		t.Fatalf("VerifyFile = %v, want ErrHashMismatch", err)
	}
	if !strings.Contains(err.Error(), "hash mismatch") || !strings.Contains(err.Error(), path) {
		t.Fatalf("message: %v", err)
	}
}

func TestStatNotSnapshot(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	cases := map[string][]byte{
		"garbage": garbage,
		"zeros":   make([]byte, 64<<10),
		"text":    bytes.Repeat([]byte("not a database\n"), 1000),
	}
	for name, data := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := snapshot.Stat(path)
		if !errors.Is(err, snapshot.ErrNotSnapshot) {
			t.Errorf("%s: Stat = %v, want ErrNotSnapshot", name, err)
		}
	}

	// A real bbolt file without a "key" bucket.
	path := filepath.Join(dir, "other.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("a"), []byte("b"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = snapshot.Stat(path)
	if !errors.Is(err, snapshot.ErrNotSnapshot) || !strings.Contains(err.Error(), `no "key" bucket`) {
		t.Fatalf("Stat(no key bucket) = %v", err)
	}
}

func TestStatTooSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny")
	if err := os.WriteFile(path, []byte("tiny"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.Stat(path); !errors.Is(err, snapshot.ErrTooSmall) {
		t.Fatalf("Stat = %v, want ErrTooSmall", err)
	}
	if _, err := snapshot.Stat(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v", err)
	}
}

func TestStatCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		return b.Put([]byte("short"), []byte{0x0a, 0x01, 'k'})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.Stat(path); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Stat = %v, want ErrCorrupt", err)
	}
}

func TestStatTruncatedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd-dump.bin")
	var ops []snapshottest.Op
	for i := range 2000 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("k%05d", i), Value: strings.Repeat("x", 100)})
	}
	exp, err := snapshottest.Write(path, snapshottest.Options{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	// Cut the file in half: the meta pages still claim the full size.
	if err := os.Truncate(path, exp.Size/2); err != nil {
		t.Fatal(err)
	}
	_, err = snapshot.Stat(path)
	if !errors.Is(err, snapshot.ErrCorrupt) && !errors.Is(err, snapshot.ErrNotSnapshot) {
		t.Fatalf("Stat(truncated) = %v", err)
	}
}

// Package snapshottest writes etcd v3 snapshot files for tests: real bbolt
// databases with etcd 3.5's buckets and record formats, followed by the
// sha256 that `etcdctl snapshot save` appends.
package snapshottest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Op is one etcd request, applied at its own main revision.
type Op struct {
	// Key is the user key.
	Key string
	// Value is the value a put stores (ignored by a delete).
	Value string
	// Delete makes the op a deletion: a tombstone record.
	Delete bool
}

// Options shape the snapshot that [Write] makes.
type Options struct {
	// Ops are applied in order, one main revision each, starting at revision 2
	// (a new etcd cluster is at revision 1 before its first write).
	Ops []Op
	// CompactRevision, when not 0, is recorded as meta "finishedCompactRev".
	// Records are not removed: this only sets the meta key.
	CompactRevision int64
	// ConsistentIndex is recorded as meta "consistent_index" (default 1000).
	ConsistentIndex uint64
	// NoHash leaves out the appended sha256 (like a copied member/snap/db).
	NoHash bool
}

// Expect holds what a correct reader must report for the written snapshot.
type Expect struct {
	// Revision is the highest main revision written.
	Revision int64
	// TotalKey counts the keys of every bucket, as etcdutl does.
	TotalKey int
	// LiveKeys is the number of user keys whose newest op is a put.
	LiveKeys int
	// Revisions is the number of records in bucket "key".
	Revisions int
	// Size is the length of the file, hash included.
	Size int64
	// TotalSize is the size of the bbolt database (without the hash).
	TotalSize int64
}

// Write makes a snapshot file at path. The database is written the way etcd
// writes a snapshot: a bbolt transaction's WriteTo, then the sha256 of those
// bytes.
func Write(path string, o Options) (Expect, error) {
	var exp Expect
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".bbolt")
	defer os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return exp, fmt.Errorf("snapshottest: %w", err)
	}
	defer db.Close()

	if o.ConsistentIndex == 0 {
		o.ConsistentIndex = 1000
	}
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := map[string]*bolt.Bucket{}
		for _, name := range []string{"alarm", "auth", "authRoles", "authUsers", "cluster", "key", "lease", "members", "members_removed", "meta"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			buckets[name] = b
		}
		put := func(bucket string, k, v []byte) error {
			exp.TotalKey++
			return buckets[bucket].Put(k, v)
		}
		if err := put("cluster", []byte("clusterVersion"), []byte("3.5.0")); err != nil {
			return err
		}
		if err := put("members", []byte("8e9e05c52164694d"), []byte(`{"id":10276657743932975437,"peerURLs":["http://127.0.0.1:2380"]}`)); err != nil {
			return err
		}
		if err := put("auth", []byte("authEnabled"), []byte{0}); err != nil {
			return err
		}
		if err := put("meta", []byte("consistent_index"), u64(o.ConsistentIndex)); err != nil {
			return err
		}
		if err := put("meta", []byte("term"), u64(2)); err != nil {
			return err
		}
		if o.CompactRevision != 0 {
			if err := put("meta", []byte("finishedCompactRev"), RevKey(o.CompactRevision, 0, false)); err != nil {
				return err
			}
		}

		type state struct{ create, version int64 }
		keys := map[string]*state{}
		live := map[string]bool{}
		rev := int64(1)
		for _, op := range o.Ops {
			rev++
			s := keys[op.Key]
			if op.Delete {
				if err := put("key", RevKey(rev, 0, true), KeyValue(op.Key, 0, 0, 0, "")); err != nil {
					return err
				}
				delete(keys, op.Key)
				live[op.Key] = false
			} else {
				if s == nil {
					s = &state{create: rev}
					keys[op.Key] = s
				}
				s.version++
				if err := put("key", RevKey(rev, 0, false), KeyValue(op.Key, s.create, rev, s.version, op.Value)); err != nil {
					return err
				}
				live[op.Key] = true
			}
			exp.Revisions++
		}
		exp.Revision = rev
		if len(o.Ops) == 0 {
			exp.Revision = 0
		}
		for _, l := range live {
			if l {
				exp.LiveKeys++
			}
		}
		return nil
	})
	if err != nil {
		return exp, fmt.Errorf("snapshottest: %w", err)
	}

	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return exp, fmt.Errorf("snapshottest: %w", err)
	}
	h := sha256.New()
	err = db.View(func(tx *bolt.Tx) error {
		exp.TotalSize = tx.Size()
		_, err := tx.WriteTo(io.MultiWriter(f, h))
		return err
	})
	if err == nil && !o.NoHash {
		_, err = f.Write(h.Sum(nil))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return exp, fmt.Errorf("snapshottest: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return exp, fmt.Errorf("snapshottest: %w", err)
	}
	exp.Size = fi.Size()
	return exp, nil
}

// RevKey encodes an etcd revision key: 8-byte big-endian main, '_', 8-byte
// big-endian sub, and 't' for a tombstone.
func RevKey(main, sub int64, tombstone bool) []byte {
	b := make([]byte, 17, 18)
	binary.BigEndian.PutUint64(b, uint64(main))
	b[8] = '_'
	binary.BigEndian.PutUint64(b[9:], uint64(sub))
	if tombstone {
		b = append(b, 't')
	}
	return b
}

// KeyValue encodes an mvccpb.KeyValue protobuf by hand. Zero fields are left
// out, as proto3 does.
func KeyValue(key string, create, mod, version int64, value string) []byte {
	var b []byte
	b = appendBytes(b, 1, key)
	b = appendVarint(b, 2, create)
	b = appendVarint(b, 3, mod)
	b = appendVarint(b, 4, version)
	b = appendBytes(b, 5, value)
	return b
}

func appendBytes(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendVarint(b []byte, field int, v int64) []byte {
	if v == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, uint64(v))
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Names of the bbolt buckets and meta keys that etcd 3.5 writes.
const (
	keyBucket  = "key"
	metaBucket = "meta"

	metaConsistentIndex = "consistent_index"
	metaFinishedCompact = "finishedCompactRev"

	// revBytesLen is the length of a revision key: 8-byte big-endian main
	// revision, '_', 8-byte big-endian sub revision.
	revBytesLen = 8 + 1 + 8
	// minFileSize is two pages of the smallest page size bbolt accepts.
	minFileSize = 2 * 1024
)

// OpenTimeout bounds how long [Stat] waits for bbolt's shared file lock. A
// snapshot is never locked; a live etcd data file (member/snap/db) is.
var OpenTimeout = 5 * time.Second

// Status is what [Stat] reports about a snapshot. The JSON names of the first
// four fields match `etcdutl snapshot status -w json`.
type Status struct {
	// Hash is etcdutl's crc32 (Castagnoli) over every bucket name, key and
	// value, in bbolt's order. Equal hashes mean equal contents.
	Hash uint32 `json:"hash"`
	// Revision is the highest main revision in bucket "key": the revision the
	// cluster had when the snapshot was taken.
	Revision int64 `json:"revision"`
	// TotalKey counts the keys of every bucket (meta, members, lease, auth ...
	// included), each revision of each user key once: etcdutl's definition.
	TotalKey int `json:"totalKey"`
	// TotalSize is the size of the bbolt database in bytes (pages up to the
	// high-water mark), without the appended hash.
	TotalSize int64 `json:"totalSize"`

	// LiveKeys is the number of distinct user keys whose newest revision in the
	// snapshot is not a deletion: what `etcdctl get "" --prefix --count-only`
	// reports on a cluster restored from this snapshot.
	LiveKeys int `json:"liveKeys"`
	// Revisions is the number of records in bucket "key" (tombstones included).
	Revisions int `json:"revisions"`
	// CompactRevision is the last finished compaction (meta
	// "finishedCompactRev"), 0 if the keyspace was never compacted.
	CompactRevision int64 `json:"compactRevision"`
	// ConsistentIndex is the raft index the snapshot reflects (meta
	// "consistent_index"), 0 if absent.
	ConsistentIndex uint64 `json:"consistentIndex"`
	// FileSize is the size of the file in bytes.
	FileSize int64 `json:"fileSize"`
	// HasHash tells whether the file has exactly HashSize bytes after the
	// database, where `etcdctl snapshot save` puts its sha256 (a copied
	// member/snap/db has none). Stat does not check that hash: see [Verifier].
	HasHash bool `json:"hasHash"`
}

// Stat opens the snapshot at path with bbolt, read-only, and reports its
// revision and key counts. It runs bbolt's integrity check, as etcdutl does.
//
// bbolt tolerates bytes after the database: the pages it reads are all below
// the high-water mark recorded in its meta page, so the appended sha256 is
// ignored (and reported by [Status.HasHash]).
//
// Counting LiveKeys holds every distinct user key in memory once (tens of
// MB for a million keys); the values are only read, from bbolt's memory map.
//
// Errors wrap [ErrTooSmall] (shorter than two bbolt pages), [ErrNotSnapshot]
// (bbolt cannot open it, or it has no "key" bucket) or [ErrCorrupt].
func Stat(path string) (st Status, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return st, fmt.Errorf("stat snapshot: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return st, fmt.Errorf("stat snapshot %s: %w: not a regular file", path, ErrNotSnapshot)
	}
	st.FileSize = fi.Size()
	if st.FileSize < minFileSize {
		return st, fmt.Errorf("stat snapshot %s: %w: %d bytes", path, ErrTooSmall, st.FileSize)
	}

	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: OpenTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return st, fmt.Errorf("stat snapshot %s: file is locked (a running etcd's database?): %w", path, err)
		}
		return st, fmt.Errorf("stat snapshot %s: %w: bbolt: %v", path, ErrNotSnapshot, err)
	}
	defer db.Close()

	// bbolt reads pages straight from its memory map: a corrupt page
	// reference would fault. Turn faults into panics, and panics into errors.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stat snapshot %s: %w: %v", path, ErrCorrupt, r)
		}
	}()

	if err := db.View(func(tx *bolt.Tx) error { return scan(tx, &st) }); err != nil {
		return st, fmt.Errorf("stat snapshot %s: %w", path, err)
	}
	st.HasHash = st.FileSize-st.TotalSize == HashSize
	return st, nil
}

// scan walks every bucket once, like etcdutl's status, then runs bbolt's
// integrity check (after the walk, which has touched every page of every
// bucket without faulting).
func scan(tx *bolt.Tx, st *Status) error {
	st.TotalSize = tx.Size()
	if st.TotalSize > st.FileSize {
		return fmt.Errorf("%w: database claims %d bytes, file has %d", ErrCorrupt, st.TotalSize, st.FileSize)
	}
	if tx.Bucket([]byte(keyBucket)) == nil {
		return fmt.Errorf("%w: no %q bucket", ErrNotSnapshot, keyBucket)
	}

	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	latest := make(map[string]bool) // user key → newest revision is live
	c := tx.Cursor()
	for name, _ := c.First(); name != nil; name, _ = c.Next() {
		b := tx.Bucket(name)
		if b == nil {
			return fmt.Errorf("%w: top-level key %q is not a bucket", ErrCorrupt, name)
		}
		h.Write(name)
		isKey := string(name) == keyBucket
		err := b.ForEach(func(k, v []byte) error {
			h.Write(k)
			h.Write(v)
			st.TotalKey++
			if !isKey {
				return nil
			}
			main, tomb, err := parseRevision(k)
			if err != nil {
				return err
			}
			if main > st.Revision {
				st.Revision = main
			}
			userKey, err := kvKey(v)
			if err != nil {
				return fmt.Errorf("%w: revision %d: %v", ErrCorrupt, main, err)
			}
			// A record without a key is no key: `etcdutl snapshot restore
			// --bump-revision` writes one, empty, at the bumped revision so
			// that the revision survives, and etcd skips it when it builds
			// its index. It counts for the revision only.
			if len(userKey) > 0 {
				// Records are in revision order: the last one seen wins.
				latest[string(userKey)] = !tomb
			}
			st.Revisions++
			return nil
		})
		if err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
	}
	st.Hash = h.Sum32()
	for _, live := range latest {
		if live {
			st.LiveKeys++
		}
	}
	if meta := tx.Bucket([]byte(metaBucket)); meta != nil {
		if v := meta.Get([]byte(metaFinishedCompact)); len(v) == revBytesLen {
			st.CompactRevision = int64(binary.BigEndian.Uint64(v[:8]))
		}
		if v := meta.Get([]byte(metaConsistentIndex)); len(v) == 8 {
			st.ConsistentIndex = binary.BigEndian.Uint64(v)
		}
	}

	var problems []string
	for e := range tx.Check() {
		problems = append(problems, e.Error())
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("and %d more", len(problems)-3))
		}
		return fmt.Errorf("%w: bbolt integrity check: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// parseRevision decodes a key of bucket "key": 8-byte big-endian main
// revision, '_', 8-byte big-endian sub revision, and a trailing 't' for a
// tombstone (a deletion).
func parseRevision(k []byte) (main int64, tombstone bool, err error) {
	switch {
	case len(k) == revBytesLen:
	case len(k) == revBytesLen+1 && k[revBytesLen] == 't':
		tombstone = true
	default:
		return 0, false, fmt.Errorf("%w: revision key %x has length %d", ErrCorrupt, k, len(k))
	}
	if k[8] != '_' {
		return 0, false, fmt.Errorf("%w: revision key %x lacks '_'", ErrCorrupt, k)
	}
	return int64(binary.BigEndian.Uint64(k[:8])), tombstone, nil
}

package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// HashSize is the length of the sha256 that etcd appends to a snapshot.
const HashSize = sha256.Size

// Sentinel errors, for errors.Is.
var (
	// ErrHashMismatch: the last 32 bytes are not the sha256 of the bytes before them.
	ErrHashMismatch = errors.New("snapshot hash mismatch")
	// ErrNotSnapshot: bbolt cannot open the file, or it has no "key" bucket.
	ErrNotSnapshot = errors.New("not an etcd v3 snapshot")
	// ErrTooSmall: the file is too short to hold a hash (or a bbolt database).
	ErrTooSmall = errors.New("snapshot too small")
	// ErrCorrupt: bbolt opens the file, but its pages or its MVCC records are
	// inconsistent (bbolt's integrity check failed, or a record does not decode).
	ErrCorrupt = errors.New("snapshot database is corrupt")
)

// Verifier checks the sha256 that etcd appends to a snapshot while the bytes
// stream through it. It is an io.Writer: write the whole file, then call
// [Verifier.Verify] and [Verifier.Sum].
//
// It hashes every byte once: the last 32 bytes written are held back, so at
// the end they are the stored hash, and the running hash covers exactly the
// bytes before them. The sha256 of the whole file is derived from a clone of
// the running hash.
//
// The zero value is not ready for use: call [NewVerifier]. A Verifier is not
// safe for concurrent use.
type Verifier struct {
	body hash.Cloner     // sha256 of the bytes before the holdback
	hold [HashSize]byte  // the last bytes written, at most HashSize
	n    int             // valid bytes in hold
	size int64           // bytes written in total
	sum  *[HashSize]byte // cached sha256 of the whole input
}

// NewVerifier returns an empty Verifier.
func NewVerifier() *Verifier {
	// crypto/sha256 implements hash.Cloner since Go 1.25.
	return &Verifier{body: sha256.New().(hash.Cloner)}
}

// Write adds p to the stream. It never fails.
func (v *Verifier) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	v.sum = nil
	v.size += int64(len(p))
	if len(p) >= HashSize {
		// Everything held back so far, and all of p but its tail, is body.
		v.body.Write(v.hold[:v.n])
		v.body.Write(p[:len(p)-HashSize])
		v.n = copy(v.hold[:], p[len(p)-HashSize:])
		return len(p), nil
	}
	if over := v.n + len(p) - HashSize; over > 0 {
		v.body.Write(v.hold[:over])
		v.n = copy(v.hold[:], v.hold[over:v.n])
	}
	v.n += copy(v.hold[v.n:], p)
	return len(p), nil
}

// Size returns the number of bytes written so far.
func (v *Verifier) Size() int64 { return v.size }

// Verify reports whether the last 32 bytes written equal the sha256 of all
// the bytes before them. It returns nil when they do, an error wrapping
// [ErrTooSmall] when fewer than 33 bytes were written, and one wrapping
// [ErrHashMismatch] otherwise. Call it after the last Write.
func (v *Verifier) Verify() error {
	if v.size <= HashSize {
		return fmt.Errorf("%w: %d bytes, need more than %d for the appended sha256", ErrTooSmall, v.size, HashSize)
	}
	want := v.hold[:v.n]
	got := v.body.Sum(nil)
	if string(got) != string(want) {
		return fmt.Errorf("%w: stored sha256 %s, computed %s over %d bytes",
			ErrHashMismatch, shortHex(want), shortHex(got), v.size-HashSize)
	}
	return nil
}

// Sum returns the sha256 of every byte written (the stored hash included):
// the value `sha256sum` prints for the file.
func (v *Verifier) Sum() [HashSize]byte {
	if v.sum != nil {
		return *v.sum
	}
	whole, err := v.body.Clone()
	if err != nil { // crypto/sha256 never fails to clone
		panic("snapshot: cloning sha256: " + err.Error())
	}
	whole.Write(v.hold[:v.n])
	var out [HashSize]byte
	whole.Sum(out[:0])
	v.sum = &out
	return out
}

// HexSum returns [Verifier.Sum] in lower-case hex, as `sha256sum` prints it.
func (v *Verifier) HexSum() string {
	s := v.Sum()
	return hex.EncodeToString(s[:])
}

// Checked is the result of [VerifyFile] and [VerifyReader].
type Checked struct {
	// Size is the length of the file in bytes, the appended hash included.
	Size int64
	// SHA256 is the sha256 of the whole file (what `sha256sum` prints).
	SHA256 [HashSize]byte
}

// HexSHA256 returns SHA256 in lower-case hex.
func (c Checked) HexSHA256() string { return hex.EncodeToString(c.SHA256[:]) }

// VerifyReader reads r to EOF through a [Verifier]. The result is filled in
// even when the hash does not match (the error then wraps [ErrHashMismatch]).
func VerifyReader(r io.Reader) (Checked, error) {
	v := NewVerifier()
	if _, err := io.Copy(v, r); err != nil {
		return Checked{}, fmt.Errorf("read snapshot: %w", err)
	}
	res := Checked{Size: v.Size(), SHA256: v.Sum()}
	return res, v.Verify()
}

// VerifyFile checks the appended sha256 of the snapshot file at path.
func VerifyFile(path string) (Checked, error) {
	f, err := os.Open(path)
	if err != nil {
		return Checked{}, fmt.Errorf("verify snapshot: %w", err)
	}
	defer f.Close()
	res, err := VerifyReader(f)
	if err != nil {
		return res, fmt.Errorf("verify snapshot %s: %w", path, err)
	}
	return res, nil
}

func shortHex(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

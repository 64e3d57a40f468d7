package snapshot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withHash returns body followed by its sha256, as etcd writes a snapshot.
func withHash(body []byte) []byte {
	s := sha256.Sum256(body)
	return append(append([]byte{}, body...), s[:]...)
}

// feed writes data to a new Verifier in chunks of random sizes up to max.
func feed(data []byte, rng *rand.Rand, max int) *Verifier {
	v := NewVerifier()
	for len(data) > 0 {
		n := 1 + rng.IntN(max)
		n = min(n, len(data))
		v.Write(data[:n])
		data = data[n:]
	}
	return v
}

func TestVerifierChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 5, 31, 32, 33, 64, 65, 4096, 100_000} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		file := withHash(body)
		whole := sha256.Sum256(file)
		for _, max := range []int{1, 3, 31, 32, 33, 1000, 1 << 20} {
			v := feed(file, rng, max)
			if err := v.Verify(); err != nil {
				t.Fatalf("size %d chunks ≤%d: Verify: %v", size, max, err)
			}
			if v.Sum() != whole {
				t.Fatalf("size %d chunks ≤%d: Sum differs from sha256 of the file", size, max)
			}
			if v.Size() != int64(len(file)) {
				t.Fatalf("Size = %d, want %d", v.Size(), len(file))
			}
		}
		// Flip one byte anywhere: body or stored hash.
		for _, pos := range []int{0, len(body) / 2, len(body), len(file) - 1} {
			bad := bytes.Clone(file)
			bad[pos] ^= 0x40
			v := feed(bad, rng, 100)
			if err := v.Verify(); !errors.Is(err, ErrHashMismatch) {
				t.Fatalf("size %d flipped at %d: Verify = %v, want ErrHashMismatch", size, pos, err)
			}
			if v.Sum() != sha256.Sum256(bad) {
				t.Fatal("Sum of a mismatching file is not its sha256")
			}
		}
	}
}

func TestVerifierTooSmall(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32} {
		v := NewVerifier()
		v.Write(make([]byte, n))
		err := v.Verify()
		if !errors.Is(err, ErrTooSmall) {
			t.Fatalf("%d bytes: Verify = %v, want ErrTooSmall", n, err)
		}
	}
	// sha256 of the empty string followed by ... nothing: 32 bytes are a
	// hash with no body, which etcd never writes.
	e := sha256.Sum256(nil)
	v := NewVerifier()
	v.Write(e[:])
	if err := v.Verify(); !errors.Is(err, ErrTooSmall) {
		t.Fatalf("hash of nothing: Verify = %v, want ErrTooSmall", err)
	}
}

func TestVerifierSumIsStable(t *testing.T) {
	v := NewVerifier()
	v.Write([]byte("hello, "))
	a := v.Sum()
	if a != sha256.Sum256([]byte("hello, ")) {
		t.Fatal("intermediate Sum wrong")
	}
	v.Write([]byte("world and more than thirty-two bytes"))
	if v.Sum() != sha256.Sum256([]byte("hello, world and more than thirty-two bytes")) {
		t.Fatal("Sum after more writes wrong")
	}
	if v.HexSum() != v.HexSum() || len(v.HexSum()) != 64 {
		t.Fatal("HexSum")
	}
}

func TestVerifyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	body := bytes.Repeat([]byte("etcd"), 5000)
	file := withHash(body)
	if err := os.WriteFile(good, file, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := VerifyFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(file)) || res.SHA256 != sha256.Sum256(file) {
		t.Fatalf("VerifyFile = %+v", res)
	}
	file[10] ^= 1
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, file, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyFile(bad)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("VerifyFile(bad) = %v", err)
	}
	if _, err := VerifyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("VerifyFile(missing) = %v", err)
	}
}

// FuzzVerifier checks that the chunking never changes the answer.
func FuzzVerifier(f *testing.F) {
	f.Add([]byte("short"), uint8(3))
	f.Add(withHash([]byte("a body that is long enough to matter")), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		one := NewVerifier()
		one.Write(data)
		many := NewVerifier()
		step := int(chunk%64) + 1
		for i := 0; i < len(data); i += step {
			many.Write(data[i:min(i+step, len(data))])
		}
		e1, e2 := one.Verify(), many.Verify()
		if (e1 == nil) != (e2 == nil) || one.Sum() != many.Sum() {
			t.Fatalf("chunking changed the result: %v vs %v", e1, e2)
		}
		wantOK := len(data) > HashSize &&
			bytes.Equal(data[len(data)-HashSize:], func() []byte { s := sha256.Sum256(data[:len(data)-HashSize]); return s[:] }())
		if wantOK != (e1 == nil) {
			t.Fatalf("Verify = %v, want ok=%v", e1, wantOK)
		}
	})
}

func BenchmarkVerifier(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	v := NewVerifier()
	for b.Loop() {
		v.Write(buf)
	}
}

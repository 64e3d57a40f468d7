package backups

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ncnpush/ncnpush/snapshot"
)

// benchDumpSize is the size of the benchmarks' dump.
const benchDumpSize = 256 << 20

var (
	benchOnce    sync.Once
	benchDump    []byte
	benchArchive []byte
)

// realisticDump makes n bytes that compress like an etcd database of
// Kubernetes objects (about 5:1 with gzip -6): JSON-ish records with random
// identifiers, a third of them random base64 (Secrets, certificates), and
// some empty pages. The last 32 bytes are the sha256 of the rest.
func realisticDump(n int) []byte {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	rng := rand.New(rand.NewPCG(7, 7))
	buf := bytes.NewBuffer(make([]byte, 0, n+64<<10))
	page := make([]byte, 4096)
	blob := make([]byte, 800)
	for buf.Len() < n {
		switch rng.IntN(30) {
		case 0, 1, 2:
			buf.Write(page) // a free page
		case 3, 4, 5, 6, 7, 8, 9, 10, 11, 12:
			l := 200 + rng.IntN(600)
			for i := range l {
				blob[i] = b64[rng.IntN(64)]
			}
			fmt.Fprintf(buf, `{"kind":"Secret","apiVersion":"v1","data":{"tls.crt":"%s"}}`, blob[:l])
		default:
			fmt.Fprintf(buf, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"pod-%08x","namespace":"ns-%d","uid":"%016x-%08x","resourceVersion":"%d","labels":{"app":"svc-%d"}},"spec":{"nodeName":"ncn-w%03d","containers":[{"image":"registry.local/img-%d:%d"}]}}`,
				rng.Uint32(), rng.IntN(50), rng.Uint64(), rng.Uint32(), rng.IntN(1e9), rng.IntN(300), rng.IntN(100), rng.IntN(40), rng.IntN(9))
		}
	}
	b := buf.Bytes()[:n-snapshot.HashSize]
	s := sha256.Sum256(b)
	return append(b, s[:]...)
}

func benchData(b *testing.B) ([]byte, []byte) {
	benchOnce.Do(func() {
		benchDump = realisticDump(benchDumpSize)
		var buf bytes.Buffer
		if err := WriteArchive(&buf, testName, bytes.NewReader(benchDump), int64(len(benchDump))); err != nil {
			b.Fatal(err)
		}
		benchArchive = buf.Bytes()
	})
	return benchDump, benchArchive
}

// BenchmarkOpenArchive streams a 256 MiB dump through gzip, tar and the
// sha256 checks, as Open does after the network. MB/s counts dump bytes.
func BenchmarkOpenArchive(b *testing.B) {
	_, data := benchData(b)
	b.SetBytes(benchDumpSize)
	for b.Loop() {
		d, err := OpenArchive(bytes.NewReader(data), testName, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchDumpSize)/float64(len(data)), "ratio")
}

// BenchmarkWriteArchive builds the archive of a 256 MiB dump, as Upload does
// before the network.
func BenchmarkWriteArchive(b *testing.B) {
	dump, _ := benchData(b)
	b.SetBytes(benchDumpSize)
	for b.Loop() {
		if err := WriteArchive(io.Discard, testName, bytes.NewReader(dump), int64(len(dump))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenS3 is BenchmarkOpenArchive through MinIO on loopback (behind
// the RGW-like proxy): S3 GET, gzip, tar and the checks.
func BenchmarkOpenS3(b *testing.B) {
	_, data := benchData(b)
	c := newClient(b, testOptions(b))
	put(b, c, "bare-metal/"+testName+ObjectSuffix, data)
	b.SetBytes(benchDumpSize)
	for b.Loop() {
		d, err := c.Open(context.Background(), Backup{Name: testName}, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, d); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

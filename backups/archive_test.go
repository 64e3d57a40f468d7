package backups

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
)

const testName = "etcd-backup-2024-05-01-10-20-30"

// member is one tar entry of a test archive.
type member struct {
	name     string
	typ      byte
	body     []byte
	linkname string
}

func dirMember(name string) member { return member{name: name + "/", typ: tar.TypeDir} }
func dumpMember(name string, body []byte) member {
	return member{name: name + "/" + DumpFile, typ: tar.TypeReg, body: body}
}

// tgz builds a tar.gz in memory.
func tgz(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: 0o600, Size: int64(len(m.body)), Linkname: m.linkname, ModTime: time.Unix(1714558830, 0)}
		if m.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			if _, err := tw.Write(m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeDump is n pseudo-random bytes followed by their sha256: enough for the
// stream checks (they never open bbolt).
func fakeDump(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32() % 16) // compressible, like a database
	}
	s := sha256.Sum256(b)
	return append(b, s[:]...)
}

// readDump opens an archive and reads the dump to the end.
func readDump(data []byte, opts OpenOptions) ([]byte, *Dump, error) {
	d, err := OpenArchive(bytes.NewReader(data), testName, opts)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	got, err := io.ReadAll(d)
	return got, d, err
}

func TestOpenArchiveGood(t *testing.T) {
	dump := fakeDump(100_000, 1)
	for name, data := range map[string][]byte{
		"dir and dump": tgz(t, dirMember(testName), dumpMember(testName, dump)),
		"dump only":    tgz(t, dumpMember(testName, dump)),
		"dot slash":    tgz(t, dirMember("./"+testName), dumpMember("./"+testName, dump)),
	} {
		d, err := OpenArchive(bytes.NewReader(data), "bare-metal/"+testName+".tar.gz", OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Size() != int64(len(dump)) || d.Name() != testName || !d.Time().Equal(time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)) {
			t.Fatalf("%s: Size %d Name %s Time %v", name, d.Size(), d.Name(), d.Time())
		}
		if d.Verified() {
			t.Fatal("verified before reading")
		}
		var out bytes.Buffer
		if _, err := io.Copy(&out, d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out.Bytes(), dump) || d.Sum() != sha256.Sum256(dump) || !d.Verified() {
			t.Fatalf("%s: dump bytes or sum differ", name)
		}
		if d.CompressedBytes() != int64(len(data)) {
			t.Fatalf("%s: CompressedBytes %d, want %d", name, d.CompressedBytes(), len(data))
		}
		// Reading past the end keeps returning EOF.
		if n, err := d.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("%s: read after EOF = %d, %v", name, n, err)
		}
		d.Close()
	}
}

func TestOpenArchiveBad(t *testing.T) {
	dump := fakeDump(50_000, 2)
	bad := bytes.Clone(dump)
	bad[1234] ^= 0x20
	other := "etcd-backup-2024-05-01-10-30-00"
	good := tgz(t, dirMember(testName), dumpMember(testName, dump))

	type tc struct {
		name string
		data []byte
		opts OpenOptions
		want error
		text string
	}
	cases := []tc{
		{"two dumps", tgz(t, dirMember(testName), dumpMember(testName, dump), dumpMember(testName, dump)), OpenOptions{}, ErrLayout, `member "` + testName + `/etcd-dump.bin" after etcd-dump.bin`},
		{"no dump", tgz(t, dirMember(testName)), OpenOptions{}, ErrLayout, "no " + testName + "/etcd-dump.bin"},
		{"empty tar", tgz(t), OpenOptions{}, ErrLayout, "no " + testName},
		{"dot dot", tgz(t, member{name: "../x", typ: tar.TypeReg, body: []byte("x")}, dumpMember(testName, dump)), OpenOptions{}, ErrLayout, `member "../x": path with ".."`},
		{"dot dot inside", tgz(t, member{name: testName + "/../../etc/passwd", typ: tar.TypeReg, body: []byte("x")}), OpenOptions{}, ErrLayout, `path with ".."`},
		{"absolute", tgz(t, member{name: "/" + testName + "/" + DumpFile, typ: tar.TypeReg, body: dump}), OpenOptions{}, ErrLayout, "absolute path"},
		{"symlink dump", tgz(t, dirMember(testName), member{name: testName + "/" + DumpFile, typ: tar.TypeSymlink, linkname: "/etc/shadow"}), OpenOptions{}, ErrLayout, "is a symlink"},
		{"hardlink dump", tgz(t, dirMember(testName), member{name: testName + "/" + DumpFile, typ: tar.TypeLink, linkname: "x"}), OpenOptions{}, ErrLayout, "is a hard link"},
		{"device dump", tgz(t, member{name: testName + "/" + DumpFile, typ: tar.TypeChar}), OpenOptions{}, ErrLayout, "is a device"},
		{"dir is a file", tgz(t, member{name: testName, typ: tar.TypeReg, body: []byte("x")}), OpenOptions{}, ErrLayout, "is a regular file"},
		{"other member first", tgz(t, dirMember(testName), member{name: testName + "/notes.txt", typ: tar.TypeReg, body: []byte("x")}, dumpMember(testName, dump)), OpenOptions{}, ErrLayout, "unexpected member"},
		{"other member after", tgz(t, dirMember(testName), dumpMember(testName, dump), member{name: "x", typ: tar.TypeReg, body: []byte("x")}), OpenOptions{}, ErrLayout, `member "x" after`},
		{"dir after dump", tgz(t, dumpMember(testName, dump), dirMember(testName)), OpenOptions{}, ErrLayout, "after etcd-dump.bin"},
		{"wrong timestamp", tgz(t, dirMember(other), dumpMember(other, dump)), OpenOptions{}, ErrLayout, "unexpected member \"" + other + "/\""},
		{"wrong file name", tgz(t, dirMember(testName), member{name: testName + "/etcd-dump.db", typ: tar.TypeReg, body: dump}), OpenOptions{}, ErrLayout, "unexpected member"},
		{"hash mismatch", tgz(t, dirMember(testName), dumpMember(testName, bad)), OpenOptions{}, ErrHashMismatch, "snapshot hash mismatch"},
		{"too large", good, OpenOptions{MaxDumpSize: 1000}, ErrTooLarge, "limit 1000"},
		{"too small", tgz(t, dumpMember(testName, []byte("tiny"))), OpenOptions{}, ErrLayout, "snapshot too small"},
		{"not gzip", []byte("<?xml version=\"1.0\"?><Error>...</Error>"), OpenOptions{}, ErrLayout, "not gzip"},
		{"plain tar", func() []byte { // a tar without gzip
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			tw.WriteHeader(&tar.Header{Name: testName + "/", Typeflag: tar.TypeDir})
			tw.Close()
			return b.Bytes()
		}(), OpenOptions{}, ErrLayout, "not gzip"},
		{"empty object", nil, OpenOptions{}, ErrTruncated, "empty object"},
		{"garbage after gzip", append(bytes.Clone(good), "trailing junk"...), OpenOptions{}, ErrLayout, "data after the gzip stream"},
		{"gzip not tar", func() []byte {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			gz.Write(bytes.Repeat([]byte("hello world "), 1000))
			gz.Close()
			return b.Bytes()
		}(), OpenOptions{}, ErrCorrupt, "invalid tar header"},
	}
	// Data inside the gzip stream after the end of the tar archive.
	{
		var b bytes.Buffer
		gz := gzip.NewWriter(&b)
		tw := tar.NewWriter(gz)
		tw.WriteHeader(&tar.Header{Name: testName + "/" + DumpFile, Typeflag: tar.TypeReg, Size: int64(len(dump)), Mode: 0o600})
		tw.Write(dump)
		tw.Close()
		gz.Write([]byte("smuggled"))
		gz.Close()
		cases = append(cases, tc{"data after tar end", b.Bytes(), OpenOptions{}, ErrLayout, "data after the end of the tar archive"})
	}
	// Truncations at several points: in the header, in the dump, in the trailer.
	for _, cut := range []int{5, 30, len(good) / 2, len(good) - 9, len(good) - 1} {
		cases = append(cases, tc{"truncated at " + strconv.Itoa(cut), good[:cut], OpenOptions{}, ErrTruncated, "truncated"})
	}

	for _, c := range cases {
		_, _, err := readDump(c.data, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %q lacks %q", c.name, err, c.text)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error", c.name)
		}
		// A read loop that stops quietly on (unexpected) EOF must not take
		// a failed check for the end of the stream.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v wraps io.EOF or io.ErrUnexpectedEOF", c.name, err)
		}
	}
}

// TestOpenArchiveCorruptData flips bytes in the compressed stream: whatever
// the flip hits, reading must fail.
func TestOpenArchiveCorruptData(t *testing.T) {
	dump := fakeDump(200_000, 3)
	good := tgz(t, dirMember(testName), dumpMember(testName, dump))
	for _, pos := range []int{20, len(good) / 3, len(good) / 2, len(good) - 20, len(good) - 3} {
		data := bytes.Clone(good)
		data[pos] ^= 0x55
		_, _, err := readDump(data, OpenOptions{})
		if err == nil {
			t.Errorf("flip at %d: no error", pos)
			continue
		}
		if classify(err) == nil {
			t.Errorf("flip at %d: unclassified error %v", pos, err)
		}
	}
}

// TestOpenArchiveRealTar reads an archive made by GNU tar, the way the CSM
// CronJob makes it, around a real bbolt snapshot.
func TestOpenArchiveRealTar(t *testing.T) {
	data, exp := realTarArchive(t, testName)
	d, err := OpenArchive(bytes.NewReader(data), testName+ObjectSuffix, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, d)
	if err != nil {
		t.Fatal(err)
	}
	if n != exp.Size || !d.Verified() {
		t.Fatalf("read %d bytes, want %d", n, exp.Size)
	}
}

// realTarArchive writes a snapshot with snapshottest and archives it with
// `tar czf NAME.tar.gz -C DIR NAME`, as kube-etcdbackup does.
func realTarArchive(t testing.TB, name string) ([]byte, snapshottest.Expect) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
		t.Fatal(err)
	}
	exp, err := snapshottest.Write(filepath.Join(dir, name, DumpFile), snapshottest.Options{Ops: sampleOps()})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, name+ObjectSuffix)
	if out, err := exec.Command("tar", "czf", archive, "-C", dir, name).CombinedOutput(); err != nil {
		t.Fatalf("tar czf: %v\n%s", err, out)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	return data, exp
}

func sampleOps() []snapshottest.Op {
	var ops []snapshottest.Op
	for i := range 200 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/pods/ns/p%03d", i), Value: strings.Repeat("spec", i%50)})
	}
	ops = append(ops, snapshottest.Op{Key: "/registry/pods/ns/p007", Delete: true})
	return ops
}

func TestWriteArchiveRoundTrip(t *testing.T) {
	dump := fakeDump(300_000, 4)
	var buf bytes.Buffer
	if err := WriteArchive(&buf, "bare-metal/"+testName+".tar.gz", bytes.NewReader(dump), int64(len(dump))); err != nil {
		t.Fatal(err)
	}
	got, d, err := readDump(buf.Bytes(), OpenOptions{})
	if err != nil || !bytes.Equal(got, dump) || d.ModTime().Unix() != 1714558830 {
		t.Fatalf("round trip: %v (modtime %v)", err, d.ModTime())
	}
	// GNU tar lists exactly the CSM layout.
	path := filepath.Join(t.TempDir(), "a.tar.gz")
	os.WriteFile(path, buf.Bytes(), 0o600)
	out, err := exec.Command("tar", "tzvf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tar tzvf: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "drwxr-xr-x root/root") || !strings.HasSuffix(lines[0], " "+testName+"/") ||
		!strings.HasPrefix(lines[1], "-rw------- root/root") || !strings.HasSuffix(lines[1], " "+testName+"/"+DumpFile) {
		t.Fatalf("tar tzvf:\n%s", out)
	}

	// Bad sources: short, long, wrong hash.
	for name, c := range map[string]struct {
		r    io.Reader
		size int64
		want error
	}{
		"short": {bytes.NewReader(dump[:1000]), int64(len(dump)), ErrTruncated},
		"long":  {bytes.NewReader(append(bytes.Clone(dump), 'x')), int64(len(dump)), ErrLayout},
		"hash":  {bytes.NewReader(append(bytes.Clone(dump[:len(dump)-1]), dump[len(dump)-1]^1)), int64(len(dump)), ErrHashMismatch},
	} {
		err := WriteArchive(io.Discard, testName, c.r, c.size)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: WriteArchive = %v, want %v", name, err, c.want)
		}
	}
}

// A reader that stops after exactly Size bytes still gets the verdict.
func TestDumpVerdictWithLastBytes(t *testing.T) {
	dump := fakeDump(70_000, 6)
	bad := bytes.Clone(dump)
	bad[5] ^= 1
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"good":      {tgz(t, dumpMember(testName, dump)), nil},
		"bad hash":  {tgz(t, dumpMember(testName, bad)), ErrHashMismatch},
		"extra":     {tgz(t, dumpMember(testName, dump), member{name: "x", typ: tar.TypeReg}), ErrLayout},
		"truncated": {tgz(t, dumpMember(testName, dump))[:200], ErrTruncated},
	} {
		d, err := OpenArchive(bytes.NewReader(c.data), testName, OpenOptions{})
		if err == nil {
			if err := d.Err(); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: Err before reading = %v", name, err)
			}
			// io.CopyN drops an error that comes with the last byte it wants.
			_, err = io.CopyN(io.Discard, d, d.Size())
			if err == nil {
				err = d.Err()
			}
		}
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s: CopyN = %v, want %v", name, err, c.want)
		}
		if c.want == nil && !d.Verified() {
			t.Errorf("%s: not verified", name)
		}
	}
}

package backups

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz targets of the backup names, the --before time and the archive
// layout check. Their seed corpora are in testdata/fuzz/<FuzzName>/; those
// of FuzzOpenArchive are generated (go test ./backups -run
// TestOpenArchiveSeeds -update-fuzz-seeds) and checked by
// TestOpenArchiveSeeds against the verdict their file name announces.

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzOpenArchive")

const (
	// fuzzName is the backup FuzzOpenArchive opens: a real CSM name.
	fuzzName = "etcd-backup-2020-02-04-18-50-03"
	// fuzzKey is its object key.
	fuzzKey = DefaultPrefix + fuzzName + ObjectSuffix
	// fuzzMaxDump is the MaxDumpSize FuzzOpenArchive opens with.
	fuzzMaxDump = 1 << 20
)

// archiveSentinels are the errors an archive check may fail with.
var archiveSentinels = []error{ErrLayout, ErrTruncated, ErrCorrupt, ErrHashMismatch, ErrTooLarge}

// checkArchiveError: err wraps an archive sentinel, never an EOF (read
// loops stop quietly on those), is one line and names the object (by
// default OpenOptions.Source is the backup's name + .tar.gz).
func checkArchiveError(t *testing.T, what string, err error) {
	t.Helper()
	n := 0
	for _, s := range archiveSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	switch {
	case n == 0:
		t.Fatalf("%s error wraps no archive sentinel: %v", what, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		t.Fatalf("%s error wraps an EOF: %v", what, err)
	case strings.ContainsAny(err.Error(), "\r\n"):
		t.Fatalf("%s error is not one line: %q", what, err)
	case !strings.Contains(err.Error(), fuzzName+ObjectSuffix):
		t.Fatalf("%s error does not name %s: %v", what, fuzzName+ObjectSuffix, err)
	}
}

// layoutOracle decides, from OpenArchive's documented contract alone and
// with the standard library's gzip (OpenArchive uses klauspost's) and tar
// readers, whether OpenArchive must accept data, and returns the dump. It
// must: a gzip stream of a tar that holds optionally the directory
// `<name>/`, then the regular file `<name>/etcd-dump.bin` (a leading "./"
// tolerated), of more than 32 and at most maxDump bytes, whose last 32 bytes
// are the sha256 of the rest, then the end of the tar, then nothing but at
// most maxTrailer zero bytes.
func layoutOracle(data []byte, maxDump int64) (dump []byte, why string) {
	zr, err := stdgzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, "gzip: " + err.Error()
	}
	tr := tar.NewReader(zr)
	sawDir := false
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, "no dump: " + err.Error()
		}
		m := strings.TrimPrefix(hdr.Name, "./")
		if !sawDir && hdr.Typeflag == tar.TypeDir && strings.TrimSuffix(m, "/") == fuzzName {
			sawDir = true
			continue
		}
		if m != fuzzName+"/"+DumpFile || hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Sprintf("member %q type %q", hdr.Name, hdr.Typeflag)
		}
		if hdr.Size > maxDump || hdr.Size <= int64(sha256.Size) {
			return nil, fmt.Sprintf("dump of %d bytes", hdr.Size)
		}
		dump, err := io.ReadAll(tr)
		if err != nil || int64(len(dump)) != hdr.Size {
			return nil, fmt.Sprintf("dump read %d of %d: %v", len(dump), hdr.Size, err)
		}
		body, sum := dump[:len(dump)-sha256.Size], dump[len(dump)-sha256.Size:]
		if h := sha256.Sum256(body); !bytes.Equal(h[:], sum) {
			return nil, "hash"
		}
		if hdr, err := tr.Next(); err != io.EOF {
			return nil, fmt.Sprintf("after the dump: %v %v", hdr, err)
		}
		tail, err := io.ReadAll(io.LimitReader(zr, maxTrailer+1))
		switch {
		case err != nil:
			return nil, "tail: " + err.Error()
		case len(tail) > maxTrailer:
			return nil, "tail longer than maxTrailer"
		case !allZero(tail):
			return nil, "data after the tar"
		}
		return dump, ""
	}
}

// FuzzOpenArchive: OpenArchive and the Dump never panic or hang, accept
// exactly the archives layoutOracle accepts (one `<name>/etcd-dump.bin`
// regular file, optionally after its directory, with a good sha256, within
// MaxDumpSize, nothing after it but tar padding) and give exactly the
// dump's bytes; never hand out more than the header's size, nor a dump
// above MaxDumpSize (reopened with a limit one byte below the dump, the
// archive fails with ErrTooLarge); and fail with one-line errors that wrap
// an archive sentinel, no EOF, and name the object.
func FuzzOpenArchive(f *testing.F) {
	f.Add(tgz(f, dirMember(fuzzName), dumpMember(fuzzName, fakeDump(2000, 5))))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, why := layoutOracle(data, fuzzMaxDump)
		d, err := OpenArchive(bytes.NewReader(data), fuzzKey, OpenOptions{MaxDumpSize: fuzzMaxDump})
		var got []byte
		if err == nil {
			if d.Size() <= int64(sha256.Size) || d.Size() > fuzzMaxDump || d.Name() != fuzzName {
				t.Fatalf("opened a dump of %d bytes named %q (limit %d)", d.Size(), d.Name(), fuzzMaxDump)
			}
			got, err = io.ReadAll(d)
			if int64(len(got)) > d.Size() {
				t.Fatalf("read %d bytes of a %d-byte dump", len(got), d.Size())
			}
			if err == nil && (int64(len(got)) != d.Size() || !d.Verified() || d.Err() != nil || d.Sum() != sha256.Sum256(got)) {
				t.Fatalf("clean EOF after %d of %d bytes, verified %v, Err %v", len(got), d.Size(), d.Verified(), d.Err())
			}
			if err != nil && (d.Verified() || !errors.Is(d.Err(), err)) {
				t.Fatalf("read failed (%v) but Verified %v, Err %v", err, d.Verified(), d.Err())
			}
			d.Close()
		}
		switch {
		case err != nil && why == "":
			t.Fatalf("rejected a good archive: %v", err)
		case err == nil && why != "":
			t.Fatalf("accepted a bad archive (%s)", why)
		case err != nil:
			checkArchiveError(t, "OpenArchive/Read", err)
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatal("the dump differs from the archive's etcd-dump.bin")
		}
		// The limit holds before a single dump byte is handed out.
		d, err = OpenArchive(bytes.NewReader(data), fuzzKey, OpenOptions{MaxDumpSize: int64(len(got)) - 1})
		if !errors.Is(err, ErrTooLarge) || d != nil {
			t.Fatalf("with MaxDumpSize %d below the dump: %v", len(got)-1, err)
		}
	})
}

// seedArchive is one generated seed of FuzzOpenArchive; its file name
// starts with the verdict: "good" or the sentinel's short name.
type seedArchive struct {
	file string
	data []byte
}

var seedVerdicts = map[string]error{
	"good": nil, "layout": ErrLayout, "truncated": ErrTruncated, "corrupt": ErrCorrupt, "hash": ErrHashMismatch, "toolarge": ErrTooLarge,
}

// gzipBytes gzips raw (which need not be a tar).
func gzipBytes(raw []byte) []byte {
	var b bytes.Buffer
	zw := stdgzip.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	return b.Bytes()
}

// tarBytes is a tar (no gzip) of members, ending with extra after the tar's
// end (inside what is then gzipped).
func tarBytes(t testing.TB, extra []byte, members ...member) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: 0o600, Linkname: m.linkname, ModTime: time.Unix(1580842203, 0), Uname: "root", Gname: "root"}
		if m.typ == tar.TypeReg {
			hdr.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return append(b.Bytes(), extra...)
}

// gnuTarArchive is `tar czf NAME.tar.gz -C DIR NAME` as kube-etcdbackup runs
// it, around dump.
func gnuTarArchive(t testing.TB, dump []byte) []byte {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, fuzzName), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fuzzName, DumpFile), dump, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "a.tar.gz")
	if b, err := exec.Command("tar", "czf", out, "-C", dir, fuzzName).CombinedOutput(); err != nil {
		t.Fatalf("tar czf: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedArchives builds FuzzOpenArchive's seeds: the CSM layout as GNU tar and
// archive/tar write it, and each way an object can be wrong.
func seedArchives(t testing.TB) []seedArchive {
	dump := fakeDump(2000, 5)
	badHash := bytes.Clone(dump)
	badHash[100] ^= 1
	n := fuzzName
	dir, dmp := dirMember(n), dumpMember(n, dump)
	good := tgz(t, dir, dmp)
	var s []seedArchive
	add := func(file string, data []byte) { s = append(s, seedArchive{file, data}) }

	add("good-csm-gnu-tar", gnuTarArchive(t, dump))
	add("good-dir-and-dump", good)
	add("good-dump-only", tgz(t, dmp))
	add("good-dot-slash", tgz(t, dirMember("./"+n), dumpMember("./"+n, dump)))
	add("good-dir-without-slash", tgz(t, member{name: n, typ: tar.TypeDir}, dmp))
	add("good-gnu-padding", gzipBytes(tarBytes(t, make([]byte, 9216), dir, dmp)))
	add("good-two-gzip-members", append(bytes.Clone(good), gzipBytes(make([]byte, 512))...))
	add("good-pax-records", func() []byte {
		var b bytes.Buffer
		zw := stdgzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: n + "/" + DumpFile, Typeflag: tar.TypeReg, Size: int64(len(dump)), Mode: 0o600,
			PAXRecords: map[string]string{"comment": "made by hand", "mtime": "1580842203.5"}, Format: tar.FormatPAX})
		tw.Write(dump)
		tw.Close()
		zw.Close()
		return b.Bytes()
	}())

	add("layout-two-dumps", tgz(t, dir, dmp, dmp))
	add("layout-no-dump", tgz(t, dir))
	add("layout-empty-tar", tgz(t))
	add("layout-dir-twice", tgz(t, dir, dir, dmp))
	add("layout-dotdot", tgz(t, member{name: "../x", typ: tar.TypeReg, body: []byte("x")}, dmp))
	add("layout-dotdot-inside", tgz(t, member{name: n + "/../" + n + "/" + DumpFile, typ: tar.TypeReg, body: dump}))
	add("layout-absolute", tgz(t, member{name: "/" + n + "/" + DumpFile, typ: tar.TypeReg, body: dump}))
	add("layout-symlink-dump", tgz(t, dir, member{name: n + "/" + DumpFile, typ: tar.TypeSymlink, linkname: "/etc/shadow"}))
	add("layout-hardlink-dump", tgz(t, dir, member{name: n + "/" + DumpFile, typ: tar.TypeLink, linkname: n + "/x"}))
	add("layout-dump-is-dir", tgz(t, dir, member{name: n + "/" + DumpFile + "/", typ: tar.TypeDir}))
	add("layout-other-backup", tgz(t, dirMember("etcd-backup-2020-02-04-19-00-03"), dumpMember("etcd-backup-2020-02-04-19-00-03", dump)))
	add("layout-other-member-after", tgz(t, dir, dmp, member{name: n + "/etcd-dump.bin.sha256", typ: tar.TypeReg, body: []byte("x")}))
	add("layout-tiny-dump", tgz(t, dumpMember(n, []byte("tiny"))))
	add("layout-plain-tar", tarBytes(t, nil, dir, dmp))
	add("layout-not-gzip", []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>"))
	add("layout-zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"))
	add("layout-garbage-after-gzip", append(bytes.Clone(good), "trailing junk"...))
	add("layout-data-after-tar", gzipBytes(tarBytes(t, []byte("smuggled"), dir, dmp)))
	add("layout-long-zero-tail", gzipBytes(tarBytes(t, make([]byte, 2*maxTrailer), dir, dmp)))

	add("truncated-empty", nil)
	add("truncated-gzip-header", good[:5])
	add("truncated-half", good[:len(good)/2])
	add("truncated-trailer", good[:len(good)-4])
	add("truncated-gnu-tar", func() []byte { b := gnuTarArchive(t, dump); return b[:len(b)-100] }())

	add("corrupt-crc", func() []byte { b := bytes.Clone(good); b[len(b)-6] ^= 0xff; return b }())
	add("corrupt-gzip-not-tar", gzipBytes(bytes.Repeat([]byte("hello world "), 100)))

	add("hash-flipped-byte", tgz(t, dir, dumpMember(n, badHash)))
	add("toolarge-dump", tgz(t, dir, dumpMember(n, make([]byte, fuzzMaxDump+1))))
	return s
}

// readSeedCorpus reads FuzzOpenArchive's corpus files.
func readSeedCorpus(t *testing.T) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpenArchive", "*"))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		head, lit, ok := strings.Cut(string(b), "\n")
		lit, ok2 := strings.CutPrefix(strings.TrimSpace(lit), "[]byte(")
		lit, ok3 := strings.CutSuffix(lit, ")")
		v, err := strconv.Unquote(lit)
		if head != "go test fuzz v1" || !ok || !ok2 || !ok3 || err != nil {
			t.Fatalf("%s is not a corpus file of one []byte: %v", file, err)
		}
		seeds[filepath.Base(file)] = []byte(v)
	}
	return seeds
}

// TestOpenArchiveSeeds: every corpus file of FuzzOpenArchive gets the
// verdict its name announces (so the corpus really covers the good CSM
// layout and each bad one), and the oracle agrees. With -update-fuzz-seeds
// it regenerates the generated ones first.
func TestOpenArchiveSeeds(t *testing.T) {
	if *updateFuzzSeeds {
		dir := filepath.Join("testdata", "fuzz", "FuzzOpenArchive")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range seedArchives(t) {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.data)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, s.file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	seeds := readSeedCorpus(t)
	var names []string
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	kinds := map[string]int{}
	for _, name := range names {
		kind, _, _ := strings.Cut(name, "-")
		want, known := seedVerdicts[kind]
		if !known {
			continue // a crasher the fuzzer found: FuzzOpenArchive itself checks it
		}
		kinds[kind]++
		data := seeds[name]
		_, err := OpenArchive(bytes.NewReader(data), fuzzKey, OpenOptions{MaxDumpSize: fuzzMaxDump})
		if err == nil {
			_, err = readAll(data)
		}
		if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if _, why := layoutOracle(data, fuzzMaxDump); (why == "") != (want == nil) {
			t.Errorf("%s: the oracle says %q", name, why)
		}
	}
	for kind := range seedVerdicts {
		if kinds[kind] == 0 {
			t.Errorf("no %s-* seed in testdata/fuzz/FuzzOpenArchive", kind)
		}
	}
}

func readAll(data []byte) ([]byte, error) {
	d, err := OpenArchive(bytes.NewReader(data), fuzzKey, OpenOptions{MaxDumpSize: fuzzMaxDump})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

// FuzzParseTime: ParseTime (--before) never panics; an error says "invalid
// time" on one line; a time is in UTC and (years 0 to 9999) formats back,
// in RFC 3339, to itself;
// whatever ParseName accepts, ParseTime accepts as the same instant; and a
// backup name of the time parses back to the second.
func FuzzParseTime(f *testing.F) {
	f.Add("2020-02-04 18:50")
	f.Add("2020-02-04T18:50:03+01:00")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid time ") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q", err)
			}
			if _, _, nerr := ParseName(s); nerr == nil {
				t.Fatalf("ParseName accepts %q but ParseTime fails: %v", s, err)
			}
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, tm)
		}
		// RFC 3339 has four-digit years; an offset can push a time into
		// year 10000 or year -1, which then has no RFC 3339 form.
		if y := tm.Year(); y >= 0 && y <= 9999 {
			back, err := ParseTime(tm.Format(time.RFC3339Nano))
			if err != nil || !back.Equal(tm) {
				t.Fatalf("%q -> %v -> %q -> %v, %v", s, tm, tm.Format(time.RFC3339Nano), back, err)
			}
		}
		if _, nt, nerr := ParseName(s); nerr == nil && !nt.Equal(tm) {
			t.Fatalf("ParseName(%q) = %v but ParseTime = %v", s, nt, tm)
		}
		if y := tm.Year(); y >= 1 && y <= 9999 {
			_, nt, err := ParseName(NameFor(tm))
			if err != nil || !nt.Equal(tm.Truncate(time.Second)) {
				t.Fatalf("NameFor(%v) = %q parses to %v, %v", tm, NameFor(tm), nt, err)
			}
		}
	})
}

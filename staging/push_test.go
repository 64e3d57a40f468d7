package staging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/snapshot"
	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
	"github.com/ncnpush/ncnpush/transport"
)

const testBackup = "etcd-backup-2024-05-01-10-20-30"

// testDump opens a CSM archive around a real snapshot of several chunks.
func testDump(t *testing.T) (*backups.Dump, []byte) {
	t.Helper()
	return testDumpWith(t, nil)
}

// testDumpWith is testDump with the dump's bytes changed by edit first.
func testDumpWith(t *testing.T, edit func([]byte)) (*backups.Dump, []byte) {
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
	if edit == nil {
		if err := backups.WriteArchive(&buf, testBackup, bytes.NewReader(dump), int64(len(dump))); err != nil {
			t.Fatal(err)
		}
	} else {
		edit(dump)
		writeArchiveUnchecked(t, &buf, dump)
	}
	d, err := backups.OpenArchive(&buf, testBackup, backups.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d, dump
}

// writeArchiveUnchecked writes the archive backups.WriteArchive writes,
// without its checks of the dump.
func writeArchiveUnchecked(t *testing.T, w io.Writer, dump []byte) {
	t.Helper()
	canon, ts, err := backups.ParseName(testBackup)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	hdr := tar.Header{Typeflag: tar.TypeDir, Name: canon + "/", Mode: 0o755, ModTime: ts, Format: tar.FormatGNU}
	if err := tw.WriteHeader(&hdr); err != nil {
		t.Fatal(err)
	}
	hdr.Typeflag, hdr.Name, hdr.Mode, hdr.Size = tar.TypeReg, canon+"/"+backups.DumpFile, 0o600, int64(len(dump))
	if err := tw.WriteHeader(&hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(dump); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
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

// endConn is a connection whose uploads note how their reader ended.
type endConn struct {
	hosts.Conn
	cleanEnd atomic.Int32 // readers that ended with io.EOF
}

func (c *endConn) Upload(ctx context.Context, r io.Reader, opts transport.UploadOptions) error {
	return c.Conn.Upload(ctx, &endReader{r: r, c: c}, opts)
}

type endReader struct {
	r io.Reader
	c *endConn
}

func (r *endReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.c.cleanEnd.Add(1)
	}
	return n, err
}

// TestPushDumpFailingAtItsEndCompletesNoUpload: the dump's checks fail only
// after its last byte (its appended sha256 is wrong). Every upload already
// has every byte then, and must see the failure, not a clean end that would
// complete it (the transport would move the file into place, or leave it
// whole in its temporary file).
func TestPushDumpFailingAtItsEndCompletesNoUpload(t *testing.T) {
	d, _ := testDumpWith(t, func(dump []byte) { dump[len(dump)-1] ^= 0xff })
	hs, _ := testHosts(t, 3)
	var conns []*endConn
	for _, h := range hs {
		c := &endConn{Conn: h.Conn}
		h.Conn, conns = c, append(conns, c)
	}
	var mu sync.Mutex
	recorded := map[string]error{}
	err := Push(context.Background(), PushOptions{Hosts: hs, Dump: d, Path: "/stage/dump.bin",
		Record: func(host string, _ time.Time, err error) { mu.Lock(); recorded[host] = err; mu.Unlock() }})
	if !errors.Is(err, snapshot.ErrHashMismatch) {
		t.Fatalf("err = %v, want the dump's hash mismatch", err)
	}
	for i, c := range conns {
		if n := c.cleanEnd.Load(); n > 0 {
			t.Errorf("host %d: the upload's reader ended cleanly", i)
		}
	}
	for _, h := range hs {
		if e := recorded[h.Name]; e == nil {
			t.Errorf("%s: upload succeeded with a dump that failed its check", h.Name)
		}
	}
}

// TestEndQueuesCancelsBeforeClosing: a reader that got every chunk and
// waits for the end of its queue must see the dump's error, never a clean
// end: the context is cancelled before the queue closes.
func TestEndQueuesCancelsBeforeClosing(t *testing.T) {
	errDump := errors.New("dump check failed")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	h := hosts.New(&inventory.Host{Name: "ncn-m001"})
	q := make(chan []byte, QueueDepth)
	q <- []byte("last chunk")
	r := &queueReader{ctx: ctx, q: q}
	buf := make([]byte, 64)
	if n, err := r.Read(buf); n != len("last chunk") || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	got := make(chan error, 1)
	go func() { _, err := r.Read(buf); got <- err }() // waits for the end
	closedFirst := false
	endQueues(map[*hosts.Host]chan []byte{h: q}, func(err error) {
		select {
		case _, ok := <-q:
			closedFirst = !ok
		default:
		}
		cancel(err)
	}, errDump)
	if closedFirst {
		t.Error("the queue was closed before the context was cancelled")
	}
	if err := <-got; !errors.Is(err, errDump) {
		t.Errorf("Read after the last chunk = %v, want the dump's error", err)
	}

	// Without an error, the end is clean.
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	defer cancel2(nil)
	q = make(chan []byte)
	endQueues(map[*hosts.Host]chan []byte{h: q}, cancel2, nil)
	if _, err := (&queueReader{ctx: ctx2, q: q}).Read(buf); err != io.EOF {
		t.Errorf("Read at a clean end = %v, want io.EOF", err)
	}
}

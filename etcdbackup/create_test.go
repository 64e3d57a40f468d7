package etcdbackup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
	"github.com/ncnpush/ncnpush/templates"
)

// The tests run the real task and templates with hoststest's local bash and
// a stub etcdctl on PATH: `endpoint health` fails on the hosts named in
// $STUB_UNHEALTHY, `snapshot save` copies $STUB_SNAPSHOT (or fails with
// $STUB_SAVE_FAIL set, or hangs with $STUB_SAVE_HANG set).
const stubEtcdctl = `#!/bin/bash
for a in "$@"; do last=$a; done
case " $* " in
*" endpoint health"*)
	if [[ " ${STUB_UNHEALTHY:-} " == *" $NCNPUSH_TEST_HOST "* ]]; then
		echo "https://127.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded" >&2
		exit 1
	fi
	echo "https://127.0.0.1:2379 is healthy: successfully committed proposal: took = 1ms"
	;;
*" snapshot save "*)
	echo "$NCNPUSH_TEST_HOST $last" >>"$STUB_LOG"
	if [[ -n ${STUB_SAVE_HANG:-} ]]; then
		: >"$last.part"
		touch "$STUB_SAVE_HANG"
		sleep 300
	fi
	if [[ -n ${STUB_SAVE_FAIL:-} ]]; then
		: >"$last.part"
		echo "Error: context deadline exceeded" >&2
		exit 1
	fi
	cp -- "$STUB_SNAPSHOT" "$last.part"
	mv -- "$last.part" "$last"
	echo "Snapshot saved at $last"
	;;
*)
	echo "stub etcdctl: unexpected $*" >&2
	exit 2
	;;
esac
`

// fakeStore keeps objects in memory. Upload builds the archive exactly as
// backups.Client does (WriteArchive checks the dump's size and sha256);
// Verify reads it back as backups.Client does.
type fakeStore struct {
	mu           sync.Mutex
	objects      map[string][]byte
	listErr      error
	uploadErr    error
	badVerify    bool   // Verify reports a hash mismatch
	cutVerify    bool   // Verify's download is cut short
	beforeUpload func() // called when Upload starts
	deleted      []string
	uploaded     int64 // dump bytes the last Upload read
}

func (f *fakeStore) Bucket() string { return "etcd-backup" }

func (f *fakeStore) List(context.Context) ([]backups.Backup, error) { return nil, f.listErr }

func (f *fakeStore) Upload(ctx context.Context, name string, r io.Reader, size int64) (backups.Backup, error) {
	if f.uploadErr != nil {
		return backups.Backup{}, f.uploadErr
	}
	if f.beforeUpload != nil {
		f.beforeUpload()
	}
	var buf bytes.Buffer
	cr := &countReader{r: r}
	if err := backups.WriteArchive(&buf, name, cr, size); err != nil {
		return backups.Backup{}, fmt.Errorf("upload: %w", err)
	}
	canon, t, _ := backups.ParseName(name)
	key := "bare-metal/" + canon + backups.ObjectSuffix
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	f.objects[key] = buf.Bytes()
	f.uploaded = cr.n
	return backups.Backup{Key: key, Name: canon, Time: t, Size: int64(buf.Len())}, nil
}

func (f *fakeStore) Verify(ctx context.Context, b backups.Backup) (backups.VerifyResult, error) {
	f.mu.Lock()
	obj := f.objects[b.Key]
	f.mu.Unlock()
	res := backups.VerifyResult{Backup: b}
	if f.badVerify {
		res.CompressedBytes = int64(len(obj))
		return res, fmt.Errorf("verify %s: %w", b.Key, backups.ErrHashMismatch)
	}
	if f.cutVerify {
		res.CompressedBytes = int64(len(obj)) / 2
		return res, fmt.Errorf("read dump %s: %w: unexpected EOF", b.Key, backups.ErrTruncated)
	}
	d, err := backups.OpenArchive(bytes.NewReader(obj), b.Name, backups.OpenOptions{})
	if err != nil {
		return res, err
	}
	if _, err := io.Copy(io.Discard, d); err != nil {
		return res, err
	}
	res.DumpSize, res.SHA256 = d.Size(), d.HexSum()
	res.Snapshot.Revision = 42
	return res, nil
}

func (f *fakeStore) Delete(_ context.Context, keys []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		delete(f.objects, k)
		f.deleted = append(f.deleted, k)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type fixture struct {
	t        *testing.T
	tmp      string // the nodes' tmp_dir (they share this machine)
	snapshot string // what the stub saves
	sum      string // its sha256
	size     int64
	log      string // the stub's log of snapshot saves
	hosts    hosts.Hosts
	out      *bytes.Buffer
	store    *fakeStore
}

func newFixture(t *testing.T, env ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, tmp: t.TempDir(), out: &bytes.Buffer{}, store: &fakeStore{}}
	dir := t.TempDir()
	f.snapshot = filepath.Join(dir, "source.db")
	var ops []snapshottest.Op
	for i := range 200 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/k%03d", i), Value: strings.Repeat("v", 500)})
	}
	exp, err := snapshottest.Write(f.snapshot, snapshottest.Options{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.snapshot)
	s := sha256.Sum256(b)
	f.sum, f.size = hex.EncodeToString(s[:]), exp.Size
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "etcdctl"), []byte(stubEtcdctl), 0o755); err != nil {
		t.Fatal(err)
	}
	f.log = filepath.Join(dir, "saves.log")
	env = append(env, "PATH="+bin+":"+os.Getenv("PATH"), "STUB_SNAPSHOT="+f.snapshot, "STUB_LOG="+f.log)
	for _, n := range []string{"ncn-m001", "ncn-m002", "ncn-m003"} {
		h := hosts.New(&inventory.Host{Name: n, Groups: []string{"all", "masters"}})
		h.Conn = &hoststest.Conn{Host: n, Root: "/", Env: env}
		f.hosts = append(f.hosts, h)
	}
	return f
}

func (f *fixture) run(ctx context.Context) (*output.Report, Result, error) {
	f.t.Helper()
	set, err := templates.New("")
	if err != nil {
		f.t.Fatal(err)
	}
	return Run(ctx, Options{
		Env: &phases.Env{Hosts: f.hosts, Templates: set,
			Out: output.NewPrinter(f.out, output.PrinterOptions{Color: output.ColorNever})},
		Backups: f.store,
		Vars:    map[string]any{"tmp_dir": f.tmp},
		Now:     func() time.Time { return time.Date(2026, 2, 12, 10, 15, 0, 0, time.UTC) },
	})
}

// leftovers lists what is left in the nodes' tmp_dir.
func (f *fixture) leftovers() []string {
	entries, _ := os.ReadDir(f.tmp)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func (f *fixture) saves() string {
	b, _ := os.ReadFile(f.log)
	return string(b)
}

func TestCreatePicksFirstHealthyMemberAndCleansUp(t *testing.T) {
	f := newFixture(t, "STUB_UNHEALTHY=ncn-m001")
	rep, res, err := f.run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, f.out)
	}
	const name = "etcd-backup-2026-02-12-10-15-00"
	key := "bare-metal/" + name + ".tar.gz"
	if res.Name != name || res.Host != "ncn-m002" || res.Backup == nil || res.Backup.Key != key || res.Verify == nil {
		t.Fatalf("result %+v", res)
	}
	if res.Verify.SHA256 != f.sum || res.NodeSHA256 != f.sum || res.Verify.DumpSize != f.size || f.store.uploaded != f.size {
		t.Errorf("sha256 %s / node %s / dump %d / uploaded %d, want %s and %d bytes", res.Verify.SHA256, res.NodeSHA256, res.Verify.DumpSize, f.store.uploaded, f.sum, f.size)
	}
	// The snapshot was taken once, on the picked member, in a private
	// directory of this run, which is gone.
	saves := strings.Split(strings.TrimSpace(f.saves()), "\n")
	if len(saves) != 1 || !strings.HasPrefix(saves[0], "ncn-m002 "+f.tmp+"/ncnpush-etcd-backup-20260212T101500Z-") ||
		!strings.HasSuffix(saves[0], "/etcd-dump.bin") {
		t.Errorf("snapshot saves: %q", saves)
	}
	if left := f.leftovers(); len(left) != 0 {
		t.Errorf("left in tmp_dir: %v", left)
	}
	// The report shows every phase, the finish task's included.
	var titles []string
	for _, p := range rep.Phases {
		titles = append(titles, fmt.Sprintf("%d %s %s", p.Index, p.Title, p.Status))
	}
	want := []string{
		"1 Check every member's health ok",
		"2 Pick the first healthy member ok",
		"3 Save a snapshot on the picked member ok",
		"4 Stream the snapshot into S3 and verify it ok",
		"5 Remove the snapshot from the member ok",
	}
	if strings.Join(titles, "\n") != strings.Join(want, "\n") || rep.Action != TaskCreate || rep.Status != output.StatusOK {
		t.Errorf("report %s %s:\n%s", rep.Action, rep.Status, strings.Join(titles, "\n"))
	}
	health := rep.Phases[0].Hosts
	if len(health) != 3 || health[0].Status != output.StatusFailed || health[1].Status != output.StatusOK {
		t.Errorf("health phase hosts: %+v", health)
	}
	for _, p := range rep.Phases[2:] {
		if len(p.Hosts) == 0 || p.Hosts[0].Host != "ncn-m002" || p.Hosts[0].Status != output.StatusOK {
			t.Errorf("phase %q did not run on ncn-m002: %+v", p.Title, p.Hosts)
		}
		for _, h := range p.Hosts[1:] {
			if h.Status != output.StatusSkipped {
				t.Errorf("phase %q ran on %s too", p.Title, h.Host)
			}
		}
	}
	if !strings.Contains(f.out.String(), "the etcd member on") {
		t.Errorf("the unhealthy member's reason is not shown:\n%s", f.out)
	}
}

func TestCreateNoHealthyMemberChangesNothing(t *testing.T) {
	f := newFixture(t, "STUB_UNHEALTHY=ncn-m001 ncn-m002 ncn-m003")
	rep, res, err := f.run(context.Background())
	if !errors.Is(err, ErrNoHealthyMember) || !strings.Contains(err.Error(), "ncn-m001, ncn-m002, ncn-m003") {
		t.Fatalf("err = %v", err)
	}
	if res.Host != "" || res.Backup != nil || f.saves() != "" || len(f.leftovers()) != 0 || len(f.store.objects) != 0 {
		t.Errorf("something happened: %+v, saves %q, left %v", res, f.saves(), f.leftovers())
	}
	if len(rep.Phases) != 4 || rep.Status != output.StatusFailed {
		t.Errorf("report: %d phases, %s (no finish task without a pick)", len(rep.Phases), rep.Status)
	}
}

func TestCreateS3CheckComesFirst(t *testing.T) {
	f := newFixture(t)
	f.store.listErr = fmt.Errorf("list s3://etcd-backup/bare-metal/: %w: InvalidAccessKeyId", backups.ErrAccessDenied)
	_, _, err := f.run(context.Background())
	if !errors.Is(err, ErrS3) || !errors.Is(err, backups.ErrAccessDenied) {
		t.Fatalf("err = %v", err)
	}
	if f.saves() != "" || f.hosts[0].Conn.(*hoststest.Conn).Runs() != 0 {
		t.Error("a node was touched although S3 is not usable")
	}
}

func TestCreateFailuresAlwaysRemoveTheSnapshot(t *testing.T) {
	t.Run("snapshot save fails", func(t *testing.T) {
		f := newFixture(t, "STUB_SAVE_FAIL=1")
		_, res, err := f.run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "etcdctl snapshot save failed") {
			t.Fatalf("err = %v", err)
		}
		if res.Host != "ncn-m001" || len(f.leftovers()) != 0 || len(f.store.objects) != 0 {
			t.Errorf("result %+v, left %v", res, f.leftovers())
		}
	})
	t.Run("upload fails", func(t *testing.T) {
		f := newFixture(t)
		f.store.uploadErr = fmt.Errorf("upload: %w", backups.ErrEndpoint)
		_, res, err := f.run(context.Background())
		if !errors.Is(err, ErrUpload) || !errors.Is(err, backups.ErrEndpoint) || res.Backup != nil {
			t.Fatalf("err = %v, result %+v", err, res)
		}
		if f.saves() == "" || len(f.leftovers()) != 0 {
			t.Errorf("saves %q, left %v", f.saves(), f.leftovers())
		}
	})
	t.Run("the dump is not the snapshot the node saved", func(t *testing.T) {
		f := newFixture(t)
		// The node's file changes between the save and the stream: the
		// stream no longer matches what the save reported.
		_, res, err := f.runWithHook(func() {
			matches, _ := filepath.Glob(filepath.Join(f.tmp, "ncnpush-etcd-backup-*", "etcd-dump.bin"))
			for _, m := range matches {
				os.WriteFile(m, []byte("not a snapshot at all, but longer than a sha256 is"), 0o600)
			}
		})
		if !errors.Is(err, ErrUpload) || res.Backup != nil || len(f.store.objects) != 0 || len(f.leftovers()) != 0 {
			t.Fatalf("err = %v, result %+v, objects %d, left %v", err, res, len(f.store.objects), f.leftovers())
		}
	})
	t.Run("verification finds the object bad", func(t *testing.T) {
		f := newFixture(t)
		f.store.badVerify = true
		_, res, err := f.run(context.Background())
		if !errors.Is(err, ErrVerify) || !errors.Is(err, backups.ErrHashMismatch) || !strings.Contains(err.Error(), "deleted") {
			t.Fatalf("err = %v", err)
		}
		if res.Backup != nil || len(f.store.deleted) != 1 || len(f.store.objects) != 0 || len(f.leftovers()) != 0 {
			t.Errorf("result %+v, deleted %v, left %v", res, f.store.deleted, f.leftovers())
		}
	})
	t.Run("the verification is cut short", func(t *testing.T) {
		f := newFixture(t)
		f.store.cutVerify = true
		_, res, err := f.run(context.Background())
		if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "could not be checked") {
			t.Fatalf("err = %v", err)
		}
		// The object may well be good: it is kept, and named.
		if res.Backup == nil || len(f.store.deleted) != 0 || len(f.store.objects) != 1 || len(f.leftovers()) != 0 {
			t.Errorf("result %+v, deleted %v, left %v", res, f.store.deleted, f.leftovers())
		}
	})
	t.Run("cancelled during the save", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "saving")
		f := newFixture(t, "STUB_SAVE_HANG="+marker)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for {
				if _, err := os.Stat(marker); err == nil {
					cancel()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		start := time.Now()
		rep, _, err := f.run(ctx)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 20*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		if left := f.leftovers(); len(left) != 0 {
			t.Errorf("left in tmp_dir after a cancel: %v", left)
		}
		if last := rep.Phases[len(rep.Phases)-1]; last.Title != "Remove the snapshot from the member" || last.Status != output.StatusOK {
			t.Errorf("the finish task did not run: %+v", last)
		}
	})
}

// runWithHook runs with hook called between the save and the stream.
func (f *fixture) runWithHook(hook func()) (*output.Report, Result, error) {
	f.t.Helper()
	f.store.beforeUpload = hook
	return f.run(context.Background())
}

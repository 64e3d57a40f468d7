package backups

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ncnpush/ncnpush/snapshot/snapshottest"
)

// putMany stores small objects with 16 parallel puts.
func putMany(t *testing.T, c *Client, keys []string, body []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, 16)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := c.S3().PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(c.Bucket()), Key: aws.String(k), Body: bytes.NewReader(body),
			})
			if err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestListManyAndSelect(t *testing.T) {
	o := testOptions(t)
	c := newClient(t, o)

	// 1100 backups every 10 minutes, in shuffled order, plus other clusters'
	// backups, an old prefix, and junk in our prefix.
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	var keys []string
	for i := range 1100 {
		name := NameFor(start.Add(time.Duration(i) * 10 * time.Minute))
		want = append(want, "bare-metal/"+name+ObjectSuffix)
		keys = append(keys, "bare-metal/"+name+ObjectSuffix)
	}
	slices.Reverse(want)
	for i := range 60 {
		name := NameFor(start.Add(time.Duration(i)*10*time.Minute + 5*time.Minute))
		keys = append(keys, "other-cluster/"+name+ObjectSuffix, "bare-metal-old/"+name+ObjectSuffix)
	}
	// A newer backup of another cluster must not become our latest.
	keys = append(keys, "other-cluster/"+NameFor(start.Add(1000*time.Hour))+ObjectSuffix)
	junk := []string{
		"bare-metal/etcd-backup-junk.tar.gz",
		"bare-metal/etcd-backup-2024-13-01-00-00-00.tar.gz",
		"bare-metal/etcd-backup-2024-05-01-00-00-00.tgz",
		"bare-metal/etcd-backup-2024-05-01-00-00-00",
		"bare-metal/etcd-backup-2024-05-01-00-00-00.tar.gz.part",
		"bare-metal/etcd-backup-2024-05-01-00-00-00.tar.gz/nested",
		"bare-metal/sub/etcd-backup-2024-05-01-00-00-00.tar.gz",
		"bare-metal/README",
		"etcd-backup-2024-05-01-00-00-00.tar.gz",
	}
	keys = append(keys, junk...)
	rng := slices.Clone(keys)
	slices.SortFunc(rng, func(a, b string) int { // a deterministic shuffle
		ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
		return bytes.Compare(ha[:], hb[:])
	})
	putMany(t, c, rng, []byte("x"))

	var logBuf bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c = newClient(t, o)
	list, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list {
		got = append(got, b.Key)
		if b.Size != 1 || b.ETag == "" || b.LastModified.IsZero() || !strings.HasPrefix(b.Key, "bare-metal/"+b.Name) {
			t.Fatalf("bad entry %+v", b)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List: %d keys, want %d; first %v", len(got), len(want), got[:min(3, len(got))])
	}
	if !strings.Contains(logBuf.String(), "skipping object") || strings.Contains(logBuf.String(), minioPassword) {
		t.Fatalf("debug log: %s", logBuf.String())
	}

	// Select on the real listing.
	latest, err := Select(list, Selector{Name: Latest})
	if err != nil || latest.Key != want[0] {
		t.Fatalf("latest = %v, %v", latest.Key, err)
	}
	exact, err := Select(list, Selector{Name: "etcd-backup-2024-05-02-00-00-00"})
	if err != nil || exact.Key != "bare-metal/etcd-backup-2024-05-02-00-00-00.tar.gz" {
		t.Fatalf("exact = %v, %v", exact.Key, err)
	}
	before, _ := ParseTime("2024-05-02 00:05")
	b, err := Select(list, Selector{Before: before})
	if err != nil || b.Name != "etcd-backup-2024-05-02-00-00-00" {
		t.Fatalf("before = %v, %v", b.Name, err)
	}
	_, err = Select(list, Selector{Name: "etcd-backup-2024-05-02-00-05-00"})
	if !errors.Is(err, ErrNoSuchBackup) || !strings.Contains(err.Error(),
		"nearest: etcd-backup-2024-05-01-23-50-00, etcd-backup-2024-05-02-00-00-00, etcd-backup-2024-05-02-00-10-00") {
		t.Fatalf("missing = %v", err)
	}
	// The same name under another prefix is not ours.
	_, err = Select(list, Selector{Name: "other-cluster/etcd-backup-2024-05-01-00-05-00.tar.gz"})
	if !errors.Is(err, ErrNoSuchBackup) {
		t.Fatalf("other prefix = %v", err)
	}
	// Ambiguous: list the bucket top level ("/"), where two prefixes... are
	// not listed; instead merge two listings, as a caller might.
	o2 := o
	o2.Prefix = "bare-metal-old"
	old, err := newClient(t, o2).List(context.Background())
	if err != nil || len(old) != 60 {
		t.Fatalf("bare-metal-old: %d, %v", len(old), err)
	}
	merged := append(slices.Clone(list), old...)
	dup := old[0]
	dup.Key = "bare-metal/" + dup.Name + ObjectSuffix
	merged = append(merged, dup)
	_, err = Select(merged, Selector{Name: dup.Name})
	if !errors.Is(err, ErrNoSuchBackup) || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous = %v", err)
	}
}

func TestVerifyRealTarBackup(t *testing.T) {
	c := newClient(t, testOptions(t))
	name := "etcd-backup-2024-06-01-12-00-00"
	data, exp := realTarArchive(t, name)
	put(t, c, "bare-metal/"+name+ObjectSuffix, data)

	list, err := c.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	res, err := c.Verify(context.Background(), list[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.DumpSize != exp.Size || res.CompressedBytes != int64(len(data)) ||
		res.Snapshot.Revision != exp.Revision || res.Snapshot.TotalKey != exp.TotalKey ||
		res.Snapshot.LiveKeys != exp.LiveKeys || !res.Snapshot.HasHash || len(res.SHA256) != 64 {
		t.Fatalf("Verify = %+v\nwant %+v", res, exp)
	}
	// The JSON form is what a CLI prints.
	if js, err := json.Marshal(res); err != nil || !bytes.Contains(js, []byte(`"revision":`)) {
		t.Fatalf("json: %s %v", js, err)
	}

	// Open by name only (no key, no ETag) streams the same bytes.
	d, err := c.Open(context.Background(), Backup{Name: name}, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, d); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if hex.EncodeToString(h.Sum(nil)) != res.SHA256 || d.HexSum() != res.SHA256 {
		t.Fatal("sha256 differs between Open and Verify")
	}
}

func TestUploadAndAWSCLI(t *testing.T) {
	o := testOptions(t)
	c := newClient(t, o)
	dir := t.TempDir()
	dumpPath := filepath.Join(dir, "etcd-dump.bin")
	var ops []snapshottest.Op
	for i := range 3000 {
		ops = append(ops, snapshottest.Op{Key: fmt.Sprintf("/registry/secrets/ns/s%04d", i), Value: strings.Repeat(fmt.Sprint(i), 300)})
	}
	exp, err := snapshottest.Write(dumpPath, snapshottest.Options{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	when := time.Date(2024, 7, 1, 8, 30, 0, 0, time.UTC)
	name := NameFor(when)
	// A pipe: the uploader gets a stream it cannot seek.
	pr, pw := io.Pipe()
	go func() { _, err := io.Copy(pw, f); pw.CloseWithError(err) }()
	b, err := c.Upload(context.Background(), name, pr, exp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if b.Key != "bare-metal/"+name+ObjectSuffix || b.Size == 0 || b.ETag == "" {
		t.Fatalf("Upload = %+v", b)
	}

	// Download with Debian's awscli and list with GNU tar.
	local := filepath.Join(dir, "dl.tar.gz")
	cmd := exec.Command("/usr/bin/aws", "s3", "cp", "--endpoint-url", testMinio.url, "--no-progress",
		"s3://"+c.Bucket()+"/"+b.Key, local)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+minioUser, "AWS_SECRET_ACCESS_KEY="+minioPassword,
		"AWS_DEFAULT_REGION=us-east-1", "HOME="+dir, "AWS_PAGER=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	out, err := exec.Command("tar", "tzf", local).CombinedOutput()
	if err != nil {
		t.Fatalf("tar tzf: %v\n%s", err, out)
	}
	if string(out) != name+"/\n"+name+"/etcd-dump.bin\n" {
		t.Fatalf("tar tzf:\n%s", out)
	}
	if out, err := exec.Command("tar", "xzf", local, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v\n%s", err, out)
	}
	orig, _ := os.ReadFile(dumpPath)
	extracted, _ := os.ReadFile(filepath.Join(dir, name, DumpFile))
	if !bytes.Equal(orig, extracted) {
		t.Fatal("extracted dump differs")
	}

	// It lists and verifies.
	list, err := c.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Key != b.Key || list[0].ETag != b.ETag {
		t.Fatalf("List = %+v, %v", list, err)
	}
	res, err := c.Verify(context.Background(), list[0])
	if err != nil || res.Snapshot.Revision != exp.Revision {
		t.Fatalf("Verify = %+v, %v", res, err)
	}

	// The same name again: refused.
	_, err = c.Upload(context.Background(), name, bytes.NewReader(orig), int64(len(orig)))
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), b.Key) {
		t.Fatalf("second upload = %v", err)
	}

	// A dump with a bad hash is not uploaded at all.
	bad := bytes.Clone(orig)
	bad[len(bad)/2] ^= 1
	badName := NameFor(when.Add(time.Hour))
	_, err = c.Upload(context.Background(), badName, bytes.NewReader(bad), int64(len(bad)))
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("bad upload = %v", err)
	}
	if _, err := get(t, c, "bare-metal/"+badName+ObjectSuffix); err == nil {
		t.Fatal("a bad dump was stored")
	}
	// A short stream neither.
	_, err = c.Upload(context.Background(), badName, bytes.NewReader(orig[:1000]), int64(len(orig)))
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("short upload = %v", err)
	}
}

// TestUploadMultipart sends a dump that takes several parts (no checksum
// headers: the proxy would refuse them).
func TestUploadMultipart(t *testing.T) {
	c := newClient(t, testOptions(t))
	dump := randomDump(20 << 20)
	name := "etcd-backup-2024-07-02-00-00-00"
	if _, err := c.Upload(context.Background(), name, io.MultiReader(bytes.NewReader(dump)), int64(len(dump))); err != nil {
		t.Fatal(err)
	}
	d, err := c.Open(context.Background(), Backup{Name: name}, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := io.Copy(io.Discard, d); err != nil {
		t.Fatal(err)
	}
	if d.Sum() != sha256.Sum256(dump) {
		t.Fatal("sum differs")
	}
}

// randomDump is incompressible: n-32 random bytes and their sha256.
func randomDump(n int) []byte {
	b := make([]byte, n-32)
	for i := 0; i < len(b); i += 32 {
		s := sha256.Sum256([]byte(fmt.Sprint(i)))
		copy(b[i:], s[:])
	}
	s := sha256.Sum256(b)
	return append(b, s[:]...)
}

func TestDeleteAndPrune(t *testing.T) {
	c := newClient(t, testOptions(t))
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var keys []string
	for i := range 30 {
		keys = append(keys, "bare-metal/"+NameFor(start.Add(time.Duration(i)*20*time.Minute))+ObjectSuffix)
	}
	putMany(t, c, append(keys, "other-cluster/"+NameFor(start)+ObjectSuffix), []byte("x"))
	list, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keep, drop := Prune(list, Policy{KeepLast: 5, KeepHourly: 3}, start.Add(24*time.Hour))
	// 5 newest (09:40 .. 08:20) + the newest of hours 09, 08, 07 → 07:40.
	if len(keep) != 6 || keep[5].Name != "etcd-backup-2024-05-01-07-40-00" {
		t.Fatalf("keep %v", names(keep))
	}
	var dropKeys []string
	for _, b := range drop {
		dropKeys = append(dropKeys, b.Key)
	}
	if err := c.Delete(context.Background(), dropKeys); err != nil {
		t.Fatal(err)
	}
	after, err := c.List(context.Background())
	if err != nil || !slices.Equal(names(after), names(keep)) {
		t.Fatalf("after delete: %v, %v", names(after), err)
	}
	// Never outside our prefix or pattern, and nothing is deleted then.
	for _, k := range []string{"other-cluster/" + NameFor(start) + ObjectSuffix, "bare-metal/README", "bare-metal/sub/" + NameFor(start) + ObjectSuffix} {
		err := c.Delete(context.Background(), []string{after[0].Key, k})
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), k) {
			t.Fatalf("Delete(%s) = %v", k, err)
		}
	}
	if again, _ := c.List(context.Background()); len(again) != len(keep) {
		t.Fatal("a refused Delete deleted something")
	}
	if _, err := get(t, c, "other-cluster/"+NameFor(start)+ObjectSuffix); err != nil {
		t.Fatal(err)
	}
}

// TestS3Errors: each failure is recognised with errors.Is and says what
// failed, where, on one line, without a secret.
func TestS3Errors(t *testing.T) {
	o := testOptions(t)
	c := newClient(t, o)
	dump := fakeDump(20_000, 9)
	badDump := bytes.Clone(dump)
	badDump[100] ^= 1
	good := tgz(t, dirMember("etcd-backup-2024-01-01-00-00-01"), dumpMember("etcd-backup-2024-01-01-00-00-01", dump))
	objects := map[string][]byte{
		"etcd-backup-2024-01-01-00-00-01": good[:len(good)-20],
		"etcd-backup-2024-01-01-00-00-02": tgz(t, dirMember("etcd-backup-2024-01-01-00-00-02"), dumpMember("etcd-backup-2024-01-01-00-00-02", dump), dumpMember("etcd-backup-2024-01-01-00-00-02", dump)),
		"etcd-backup-2024-01-01-00-00-03": tgz(t, dirMember("etcd-backup-2024-01-01-00-00-03")),
		"etcd-backup-2024-01-01-00-00-04": tgz(t, member{name: "../x", typ: '0', body: []byte("x")}),
		"etcd-backup-2024-01-01-00-00-05": tgz(t, dumpMember("etcd-backup-2024-01-01-00-00-05", badDump)),
		"etcd-backup-2024-01-01-00-00-06": []byte("<html>not a backup</html>"),
		"etcd-backup-2024-01-01-00-00-07": tgz(t, dumpMember("etcd-backup-2024-01-01-00-00-07", dump)),
	}
	for name, data := range objects {
		put(t, c, "bare-metal/"+name+ObjectSuffix, data)
	}

	checkErr := func(what string, err, want error, texts ...string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", what, err, want)
			return
		}
		msg := err.Error()
		for _, s := range texts {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: %q lacks %q", what, msg, s)
			}
		}
		t.Logf("%s: %s", what, msg)
		if strings.Contains(msg, "\n") || strings.Contains(msg, minioPassword) {
			t.Errorf("%s: message is multi-line or has the secret: %q", what, msg)
		}
	}
	verify := func(name string) error {
		_, err := c.Verify(context.Background(), Backup{Name: name})
		return err
	}

	checkErr("truncated gzip", verify("etcd-backup-2024-01-01-00-00-01"), ErrTruncated, "s3://"+o.Bucket+"/bare-metal/etcd-backup-2024-01-01-00-00-01.tar.gz", "truncated")
	checkErr("two dumps", verify("etcd-backup-2024-01-01-00-00-02"), ErrLayout, "after etcd-dump.bin")
	checkErr("no dump", verify("etcd-backup-2024-01-01-00-00-03"), ErrLayout, "no etcd-backup-2024-01-01-00-00-03/etcd-dump.bin")
	checkErr("dot dot", verify("etcd-backup-2024-01-01-00-00-04"), ErrLayout, `"../x"`)
	checkErr("hash mismatch", verify("etcd-backup-2024-01-01-00-00-05"), ErrHashMismatch, "hash mismatch", "etcd-backup-2024-01-01-00-00-05")
	checkErr("not gzip", verify("etcd-backup-2024-01-01-00-00-06"), ErrLayout, "not gzip")
	// A fake dump passes the stream checks, but bbolt cannot open it.
	checkErr("not a snapshot", verify("etcd-backup-2024-01-01-00-00-07"), ErrLayout, "not an etcd v3 snapshot")
	checkErr("no such object", verify("etcd-backup-2024-01-01-00-00-08"), ErrNoSuchBackup, "download", "bare-metal/etcd-backup-2024-01-01-00-00-08.tar.gz")

	// Wrong secret, unknown key.
	wrong := o
	wrong.SecretKey = "not-the-right-secret"
	_, err := newClient(t, wrong).List(context.Background())
	checkErr("wrong secret", err, ErrAccessDenied, "list backups", o.Bucket)
	if err != nil && strings.Contains(err.Error(), "not-the-right-secret") {
		t.Error("secret in message")
	}
	unknown := o
	unknown.AccessKey = "nobody"
	_, err = newClient(t, unknown).List(context.Background())
	checkErr("unknown key", err, ErrAccessDenied, "list backups")

	// No such bucket.
	nob := o
	nob.Bucket = "no-such-bucket-here"
	_, err = newClient(t, nob).List(context.Background())
	checkErr("no such bucket", err, ErrNoSuchBucket, "s3://no-such-bucket-here/")
	_, err = newClient(t, nob).Upload(context.Background(), testName, bytes.NewReader(dump), int64(len(dump)))
	checkErr("upload to no such bucket", err, ErrNoSuchBucket, "upload")

	// Endpoint down: a port nobody listens on.
	port, _ := freePort()
	down := o
	down.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	down.MaxRetries = -1
	_, err = newClient(t, down).List(context.Background())
	checkErr("endpoint down", err, ErrEndpoint, "list backups", fmt.Sprintf("127.0.0.1:%d", port), "connection refused")
}

// A stale ETag (the object was replaced after List) is refused.
func TestOpenStaleETag(t *testing.T) {
	c := newClient(t, testOptions(t))
	dump := fakeDump(1000, 1)
	put(t, c, "bare-metal/"+testName+ObjectSuffix, tgz(t, dumpMember(testName, dump)))
	list, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "bare-metal/"+testName+ObjectSuffix, tgz(t, dirMember(testName), dumpMember(testName, dump)))
	_, err = c.Open(context.Background(), list[0], OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "changed since it was listed") {
		t.Fatalf("Open with stale ETag = %v", err)
	}
}

func TestStallTimeout(t *testing.T) {
	// A server that sends the start of an object, then nothing.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		w.Write(tgz(t, dirMember(testName))[:40])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, ClientOptions{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b", Timeout: 300 * time.Millisecond, MaxRetries: -1})
	start := time.Now()
	_, err := c.Open(context.Background(), Backup{Name: testName}, OpenOptions{})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no data received") {
		t.Fatalf("Open = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}

	// A server that never answers: the response header timeout.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	c = newClient(t, ClientOptions{Endpoint: hang.URL, AccessKey: "a", SecretKey: "b", Timeout: 300 * time.Millisecond, MaxRetries: -1})
	_, err = c.List(context.Background())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("List = %v, want ErrTimeout", err)
	}
}

func TestTLSEndpoint(t *testing.T) {
	o := testOptions(t)
	srv := httptest.NewUnstartedServer(rgwProxy(testMinio.url))
	srv.StartTLS()
	defer srv.Close()
	o.Endpoint = srv.URL

	// Unknown CA: refused, as an endpoint problem.
	_, err := newClient(t, o).List(context.Background())
	if !errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA: %v", err)
	}
	// With the CA bundle.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca, srv.Certificate().Raw)
	withCA := o
	withCA.CABundle = ca
	if _, err := newClient(t, withCA).List(context.Background()); err != nil {
		t.Fatalf("with CA bundle: %v", err)
	}
	// Insecure, only when asked.
	insecure := o
	insecure.Insecure = true
	if _, err := newClient(t, insecure).List(context.Background()); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	// A CA bundle that is not PEM.
	os.WriteFile(ca, []byte("junk"), 0o600)
	if _, err := NewClient(context.Background(), withCA); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("junk CA bundle: %v", err)
	}
}

func TestCredentialSources(t *testing.T) {
	o := testOptions(t)

	// A profile of the shared credentials file (TestMain wrote [rgw]).
	p := o
	p.AccessKey, p.SecretKey, p.Profile = "", "", "rgw"
	if _, err := newClient(t, p).List(context.Background()); err != nil {
		t.Fatalf("profile: %v", err)
	}
	// Environment variables, and AWS_ENDPOINT_URL for the endpoint.
	t.Setenv("AWS_ACCESS_KEY_ID", minioUser)
	t.Setenv("AWS_SECRET_ACCESS_KEY", minioPassword)
	t.Setenv("AWS_ENDPOINT_URL", o.Endpoint)
	e := o
	e.AccessKey, e.SecretKey, e.Endpoint = "", "", ""
	c := newClient(t, e)
	if c.Endpoint() != o.Endpoint {
		t.Fatalf("endpoint %s", c.Endpoint())
	}
	if _, err := c.List(context.Background()); err != nil {
		t.Fatalf("environment: %v", err)
	}
	// An unknown profile.
	p.Profile = "nope"
	if _, err := NewClient(context.Background(), p); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestNewClientErrors(t *testing.T) {
	ctx := context.Background()
	_, err := NewClient(ctx, ClientOptions{AccessKey: "a", SecretKey: "b"})
	if !errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), "no endpoint") {
		t.Fatalf("no endpoint: %v", err)
	}
	for _, ep := range []string{"rgw-vip", "ftp://rgw", "http://", "http://user:hunter2@rgw"} {
		_, err := NewClient(ctx, ClientOptions{Endpoint: ep, AccessKey: "a", SecretKey: "b"})
		if !errors.Is(err, ErrEndpoint) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	_, err = NewClient(ctx, ClientOptions{Endpoint: "http://127.0.0.1:1", AccessKey: "a"})
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("key without secret: %v", err)
	}
	// TestMain cleared the environment; the shared file has no default profile.
	_, err = NewClient(ctx, ClientOptions{Endpoint: "http://127.0.0.1:1"})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "no usable credentials") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("no credentials: %v", err)
	}
	t.Log(err)
	c, err := NewClient(ctx, ClientOptions{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b", Prefix: "x"})
	if err != nil || c.Prefix() != "x/" || c.Bucket() != DefaultBucket {
		t.Fatalf("defaults: %v %v", c, err)
	}
	c, _ = NewClient(ctx, ClientOptions{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b", Prefix: "/"})
	if c.Prefix() != "" {
		t.Fatalf("prefix / = %q", c.Prefix())
	}
}

func TestOptionsRedacted(t *testing.T) {
	o := ClientOptions{Endpoint: "http://user:pw-in-url@rgw-vip", Bucket: "b", AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI", Timeout: time.Second}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("options", "s3", o)
	js, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{o.String(), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprint(&o), string(js), logBuf.String()} {
		if strings.Contains(s, "AKIDEXAMPLE") || strings.Contains(s, "wJalrXUtnFEMI") || strings.Contains(s, "pw-in-url") {
			t.Errorf("secret shown: %s", s)
		}
		if !strings.Contains(s, "REDACTED") && !strings.Contains(s, "xxxxx") {
			t.Errorf("no redaction mark: %s", s)
		}
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRGWProxyRejectsChecksums proves the proxy in front of MinIO is a real
// check: an SDK client left at its defaults (checksums when supported) fails
// through it, ours does not.
func TestRGWProxyRejectsChecksums(t *testing.T) {
	o := testOptions(t)
	ours := newClient(t, o)
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: minioUser, SecretAccessKey: minioPassword}, nil
		}),
	}
	defaults := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.BaseEndpoint = aws.String(o.Endpoint)
		so.UsePathStyle = true
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported // the SDK's default
	})
	_, err := defaults.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(o.Bucket), Key: aws.String("x"), Body: strings.NewReader("hello"),
	})
	if err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("default SDK client through the RGW proxy: %v, want InvalidArgument", err)
	}
	_, err = ours.S3().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(o.Bucket), Key: aws.String("x"), Body: strings.NewReader("hello"),
	})
	if err != nil {
		t.Fatalf("our client through the RGW proxy: %v", err)
	}
}

package backups

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// minioBin is built by `make lab-tools`.
const minioBin = "/var/cache/ncnpush/bin/minio-20260212"

const (
	minioUser     = "ncnpush-test"
	minioPassword = "s3cr3t-Pa55word-for-tests"
)

// testMinio is the package's one MinIO server, started on first use and
// stopped by TestMain.
var testMinio struct {
	once    sync.Once
	err     error
	cmd     *exec.Cmd
	dir     string
	url     string // MinIO itself
	rgw     *httptest.Server
	rgwURL  string // the RGW-like proxy in front of it: use this
	buckets atomic.Int64
}

func TestMain(m *testing.M) {
	// Keep the SDK away from the developer's AWS files and from any AWS
	// service: only the endpoints the tests give are used.
	home, err := os.MkdirTemp("", "backups-test-home-")
	if err != nil {
		panic(err)
	}
	creds := filepath.Join(home, "credentials")
	os.WriteFile(creds, []byte("[rgw]\naws_access_key_id = "+minioUser+"\naws_secret_access_key = "+minioPassword+"\n"), 0o600)
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":                        filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            creds,
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_S3":                    "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	defer os.RemoveAll(home)
	defer stopMinio()
	m.Run()
}

// needMinio starts MinIO (once per package run) and returns the URL of the
// RGW-like proxy in front of it. A missing binary fails the test.
func needMinio(t testing.TB) string {
	t.Helper()
	testMinio.once.Do(func() { testMinio.err = startMinio() })
	if testMinio.err != nil {
		t.Fatalf("MinIO: %v", testMinio.err)
	}
	return testMinio.rgwURL
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMinio() error {
	if _, err := os.Stat(minioBin); err != nil {
		return fmt.Errorf("%s is missing (%v): run make lab-tools", minioBin, err)
	}
	dir, err := os.MkdirTemp("", "backups-minio-")
	if err != nil {
		return err
	}
	testMinio.dir = dir
	port, err := freePort()
	if err != nil {
		return err
	}
	console, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(minioBin, "server", "--quiet",
		"--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", console),
		"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", // no console: nothing that could phone out
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", minioBin, err)
	}
	testMinio.cmd = cmd
	testMinio.url = "http://" + addr

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(testMinio.url + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
			return fmt.Errorf("MinIO did not become live on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	testMinio.rgw = httptest.NewServer(rgwProxy(testMinio.url))
	testMinio.rgwURL = testMinio.rgw.URL
	return nil
}

func stopMinio() {
	if testMinio.rgw != nil {
		testMinio.rgw.Close()
	}
	if c := testMinio.cmd; c != nil && c.Process != nil {
		// By PID, never by name.
		if p, err := os.FindProcess(c.Process.Pid); err == nil {
			p.Kill()
		}
		c.Wait()
	}
	if testMinio.dir != "" {
		os.RemoveAll(testMinio.dir)
	}
}

// rgwProxy stands in front of MinIO and behaves like an older Ceph RGW
// towards the optional integrity-checksum headers of recent SDKs: it rejects
// any request that carries one. So every test through it also proves that
// the client sends none.
func rgwProxy(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // SigV4 signed the Host the client used
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bad := checksumHeader(r); bad != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>unsupported header %s</Message></Error>`, bad)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

func checksumHeader(r *http.Request) string {
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "x-amz-checksum-"), lk == "x-amz-sdk-checksum-algorithm", lk == "x-amz-trailer":
			return k
		case lk == "content-encoding" && strings.Contains(strings.Join(v, ","), "aws-chunked"):
			return k + ": aws-chunked"
		}
	}
	return ""
}

// testOptions are client options for the test MinIO (through the proxy) and
// a fresh bucket.
func testOptions(t testing.TB) ClientOptions {
	t.Helper()
	endpoint := needMinio(t)
	bucket := fmt.Sprintf("etcd-backup-t%d", testMinio.buckets.Add(1))
	o := ClientOptions{
		Endpoint:   endpoint,
		Bucket:     bucket,
		AccessKey:  minioUser,
		SecretKey:  minioPassword,
		Timeout:    10 * time.Second,
		MaxRetries: 1,
	}
	c := newClient(t, o)
	if _, err := c.S3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	return o
}

func newClient(t testing.TB, o ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// put stores an object as is (seekable body: a plain PutObject).
func put(t testing.TB, c *Client, key string, body []byte) {
	t.Helper()
	_, err := c.S3().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(c.Bucket()), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// get fetches an object whole.
func get(t testing.TB, c *Client, key string) ([]byte, error) {
	t.Helper()
	out, err := c.S3().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(c.Bucket()), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

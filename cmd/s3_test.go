package cmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/etcdbackup"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/templates"
)

const (
	testAccessKey = "ZKQ3X1F9P0B7YH2LMN4C"
	testSecretKey = "s3cr3t/K3y+with'quote\"and$(touch x)"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// secretJSON is `kubectl get secret etcd-backup-s3-credentials -n default -o
// json` as a CSM system prints it, with the test keys; data overrides or
// (with value "") removes fields.
func secretJSON(t *testing.T, data map[string]string) []byte {
	t.Helper()
	d := map[string]string{
		"access_key":       b64(testAccessKey),
		"secret_key":       b64(testSecretKey + "\n"), // made from a file: a trailing newline
		"http_s3_endpoint": b64("http://rgw-vip.nmn"),
		"s3_endpoint":      b64("rgw-vip.nmn"),
	}
	for k, v := range data {
		if v == "" {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	applied, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "data": d,
		"metadata": map[string]any{"name": "etcd-backup-s3-credentials", "namespace": "default"}, "type": "Opaque"})
	doc := map[string]any{
		"apiVersion": "v1",
		"data":       d,
		"kind":       "Secret",
		"metadata": map[string]any{
			"annotations":       map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(applied) + "\n"},
			"creationTimestamp": "2022-03-01T17:25:33Z",
			"name":              "etcd-backup-s3-credentials",
			"namespace":         "default",
			"resourceVersion":   "8211",
			"uid":               "4d6f3c4e-9b5e-4b9c-8d1e-1c2f9e7a0b11",
		},
		"type": "Opaque",
	}
	b, err := json.MarshalIndent(doc, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseS3Secret(t *testing.T) {
	sec, err := parseS3Secret(secretJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sec.AccessKey != testAccessKey || sec.SecretKey != testSecretKey || sec.Endpoint != "http://rgw-vip.nmn" {
		t.Errorf("parsed %q %q %q", sec.AccessKey, sec.SecretKey, sec.Endpoint)
	}
	// Printing the value never shows the keys.
	for _, s := range []string{fmt.Sprint(sec), fmt.Sprintf("%+v", sec), fmt.Sprintf("%#v", sec)} {
		if strings.Contains(s, testAccessKey) || strings.Contains(s, testSecretKey) {
			t.Errorf("formatted secret shows a key: %s", s)
		}
	}
	// The endpoint is optional.
	if sec, err := parseS3Secret(secretJSON(t, map[string]string{"http_s3_endpoint": ""})); err != nil || sec.Endpoint != "" {
		t.Errorf("no endpoint: %+v %v", sec, err)
	}

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"no access key", secretJSON(t, map[string]string{"access_key": ""}), "the secret has no data.access_key"},
		{"no secret key", secretJSON(t, map[string]string{"secret_key": ""}), "the secret has no data.secret_key"},
		{"not base64", secretJSON(t, map[string]string{"secret_key": testSecretKey}), "data.secret_key of the secret is not base64"},
		{"empty", secretJSON(t, map[string]string{"access_key": b64(" \n")}), "data.access_key of the secret is empty"},
		{"bad endpoint", secretJSON(t, map[string]string{"http_s3_endpoint": "%%%"}), "data.http_s3_endpoint of the secret is not base64"},
		{"not JSON", []byte("error: You must be logged in to the server (Unauthorized)"), "kubectl did not print a Kubernetes secret in JSON"},
		{"not a secret", []byte(`{"kind":"ConfigMap","data":{"access_key":"` + b64(testAccessKey) + `"}}`), "kubectl did not print a Kubernetes secret in JSON"},
		{"truncated", secretJSON(t, nil)[:200], "kubectl did not print a Kubernetes secret in JSON"},
	} {
		_, err := parseS3Secret(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), testSecretKey) || strings.Contains(err.Error(), testAccessKey)) {
			t.Errorf("%s: the error shows a key: %v", tc.name, err)
		}
	}
}

func TestParseSecretRef(t *testing.T) {
	if ns, name, err := parseSecretRef("default/etcd-backup-s3-credentials"); err != nil || ns != "default" || name != "etcd-backup-s3-credentials" {
		t.Errorf("got %q %q %v", ns, name, err)
	}
	for _, bad := range []string{"", "default", "/name", "ns/", "a/b/c", "Default/x", "ns/-x", "ns/x y", "ns/$(reboot)", "ns/--all"} {
		if _, _, err := parseSecretRef(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", bad, err)
		}
	}
}

// stubKubectl is kubectl for readS3Secret's tests: it prints $STUB_SECRET
// for the expected arguments, or fails like kubectl.
const stubKubectl = `#!/bin/bash
want="--kubeconfig /etc/kubernetes/admin.conf --request-timeout 20s -n default get secret etcd-backup-s3-credentials -o json"
if [[ "$*" != "$want" ]]; then
	echo "Error from server (NotFound): secrets \"${9:-}\" not found" >&2
	exit 1
fi
if [[ -n ${STUB_FAIL:-} ]]; then
	echo "E0101 00:00:00.000000   1 memcache.go:265] couldn't get current server API group list" >&2
	echo "The connection to the server 10.252.1.10:6442 was refused - did you specify the right host or port?" >&2
	exit 1
fi
cat -- "$STUB_SECRET"
`

func secretHost(t *testing.T, env ...string) *hosts.Host {
	t.Helper()
	h := hosts.New(&inventory.Host{Name: "ncn-m001", Groups: []string{"all", "masters"}})
	h.Conn = &hoststest.Conn{Host: "ncn-m001", Env: env}
	return h
}

func TestReadS3Secret(t *testing.T) {
	set, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "kubectl"), []byte(stubKubectl), 0o755)
	secretFile := filepath.Join(dir, "secret.json")
	os.WriteFile(secretFile, secretJSON(t, nil), 0o600)
	path := "PATH=" + bin + ":" + os.Getenv("PATH")
	ctx := context.Background()

	red := output.NewRedactor()
	sec, err := readS3Secret(ctx, secretHost(t, path, "STUB_SECRET="+secretFile), set, "default", "etcd-backup-s3-credentials", red)
	if err != nil {
		t.Fatal(err)
	}
	if sec.AccessKey != testAccessKey || sec.SecretKey != testSecretKey || sec.Endpoint != "http://rgw-vip.nmn" {
		t.Errorf("read %q %q %q", sec.AccessKey, sec.SecretKey, sec.Endpoint)
	}
	// The keys are masked from now on, in every form they may take.
	line := "key " + testAccessKey + " secret " + testSecretKey + " b64 " + b64(testSecretKey)
	if got := red.Redact(line); strings.Contains(got, testAccessKey) || strings.Contains(got, testSecretKey) || strings.Contains(got, b64(testSecretKey)) {
		t.Errorf("not redacted: %s", got)
	}

	// kubectl fails: one line naming the secret and the host, with
	// kubectl's last word.
	_, err = readS3Secret(ctx, secretHost(t, path, "STUB_SECRET="+secretFile, "STUB_FAIL=1"), set, "default", "etcd-backup-s3-credentials", nil)
	want := "read S3 credentials from Kubernetes secret default/etcd-backup-s3-credentials on ncn-m001: " +
		"The connection to the server 10.252.1.10:6442 was refused - did you specify the right host or port?"
	if err == nil || err.Error() != want {
		t.Errorf("kubectl fails: %v\nwant %s", err, want)
	}
	_, err = readS3Secret(ctx, secretHost(t, path, "STUB_SECRET="+secretFile), set, "default", "other", nil)
	if err == nil || !strings.HasSuffix(err.Error(), `: Error from server (NotFound): secrets "other" not found`) {
		t.Errorf("missing secret: %v", err)
	}
	// No kubectl on the node.
	_, err = readS3Secret(ctx, secretHost(t, "PATH="+t.TempDir()), set, "default", "etcd-backup-s3-credentials", nil)
	if err == nil || !strings.Contains(err.Error(), "on ncn-m001: kubectl not found on") || strings.Contains(err.Error(), "\n") {
		t.Errorf("no kubectl: %v", err)
	}
	// Output that is not the secret.
	os.WriteFile(secretFile, []byte("{}"), 0o600)
	_, err = readS3Secret(ctx, secretHost(t, path, "STUB_SECRET="+secretFile), set, "default", "etcd-backup-s3-credentials", nil)
	if err == nil || !strings.HasSuffix(err.Error(), "on ncn-m001: kubectl did not print a Kubernetes secret in JSON") {
		t.Errorf("not a secret: %v", err)
	}
}

// TestCreateOutputRedactsSecrets checks that the -o json document and the
// exit error of `backups create` mask the session's secrets.
func TestCreateOutputRedactsSecrets(t *testing.T) {
	var stdout bytes.Buffer
	s := &session{redactor: output.NewRedactor(testSecretKey), json: true, stdout: &stdout}
	rep := &output.Report{Action: etcdbackup.TaskCreate, Status: output.StatusFailed, Error: "boom " + testSecretKey,
		Phases: []output.PhaseResult{{Index: 1, Title: "t", Hosts: []output.HostResult{{Host: "ncn-m001", Output: []string{"x " + testSecretKey}}}}}}
	err := s.finishCreate(rep, etcdbackup.Result{Name: "etcd-backup-2026-02-12-10-15-00"}, "etcd-backup", errors.New("failed: "+testSecretKey))
	var ee *exitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || strings.Contains(err.Error(), testSecretKey) || !strings.Contains(err.Error(), output.Mask) {
		t.Errorf("exit error %v", err)
	}
	if strings.Contains(stdout.String(), "touch x") || strings.Contains(stdout.String(), "K3y") {
		t.Errorf("the secret is in the JSON output:\n%s", stdout.String())
	}
	var doc createOutput
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || doc.Status != output.StatusFailed || doc.Report == nil || doc.Key != "" {
		t.Errorf("not one JSON document: %v\n%s", err, stdout.String())
	}
}

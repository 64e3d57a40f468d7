package cmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/templates"
	"github.com/ncnpush/ncnpush/transport"
)

// newBackupsClient builds the S3 catalogue client from the s3 flags.
//
// With --s3-credentials-from-secret NS/NAME, the access key, the secret key
// and, unless --s3-endpoint (or AWS_ENDPOINT_URL) is given, the endpoint come
// from that Kubernetes secret, read with kubectl on the first master: the
// first connected host of s (the first host, connected now, if none is), or,
// when s is nil, the first host that -i and --limit select (default: group
// masters) over a connection of its own. The secret's values are added to
// s's redactor at once; they are never printed, logged or reported.
//
// Errors are *exitError: a bad flag or S3 setting exits 2, a failure to
// read the secret 1.
func newBackupsClient(ctx context.Context, c *cli.Context, s *session) (*backups.Client, error) {
	var log *slog.Logger
	if s != nil {
		log = s.log
	}
	retries := c.Int(flagS3MaxAttempts) - 1
	if retries <= 0 {
		retries = -1 // one attempt: no retry (0 would mean the default)
	}
	o := backups.ClientOptions{
		Endpoint:   c.String(flagS3Endpoint),
		Bucket:     c.String(flagBucket),
		Prefix:     c.String(flagPrefix),
		Region:     c.String(flagRegion),
		CABundle:   c.String(flagS3CABundle),
		Insecure:   c.Bool(flagS3Insecure),
		Profile:    c.String(flagS3Profile),
		Timeout:    c.Duration(flagS3Timeout),
		MaxRetries: retries,
		Logger:     log,
	}
	if ref := c.String(flagS3FromSecret); ref != "" {
		sec, err := secretCredentials(ctx, c, s, ref)
		if err != nil {
			return nil, err
		}
		o.AccessKey, o.SecretKey = sec.AccessKey, sec.SecretKey
		if o.Endpoint == "" {
			if sec.Endpoint == "" {
				return nil, usageErrorf("secret %s has no data.%s: pass --%s", ref, secretEndpointKey, flagS3Endpoint)
			}
			o.Endpoint = sec.Endpoint
		}
	}
	cl, err := backups.NewClient(ctx, o)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return cl, nil
}

// selectBackup lists the bucket and picks the backup --backup/--before name.
// A selection that matches nothing is a usage error (exit 2); an S3 failure
// is not.
func selectBackup(ctx context.Context, cl *backups.Client, name, before string) (backups.Backup, error) {
	sel := backups.Selector{Name: name}
	if before != "" {
		t, err := backups.ParseTime(before)
		if err != nil {
			return backups.Backup{}, usageErrorf("--%s: %v", flagBefore, err)
		}
		sel.Before = t
	}
	all, err := cl.List(ctx)
	if err != nil {
		// S3 itself failed (endpoint, credentials, timeout): not a usage
		// error.
		return backups.Backup{}, err
	}
	b, err := backups.Select(all, sel)
	if err != nil {
		// No backup matches what the operator asked for.
		return backups.Backup{}, &exitError{code: exitUsage, err: err}
	}
	return b, nil
}

// The Kubernetes secret CSM keeps the bucket's credentials in, and its
// fields (base64, as in every secret's data).
const (
	secretAccessKey   = "access_key"
	secretSecretKey   = "secret_key"
	secretEndpointKey = "http_s3_endpoint"
	// secretTemplate prints a secret as JSON with kubectl on a master.
	secretTemplate = "k8s-secret-get.sh.tmpl"
	// adminKubeconfig is kubectl's configuration on a CSM master.
	adminKubeconfig = "/etc/kubernetes/admin.conf"
)

// s3Secret holds the S3 settings read from a Kubernetes secret. Its
// String, GoString and LogValue never show the keys.
type s3Secret struct {
	AccessKey string
	SecretKey string
	Endpoint  string // may be empty
}

func (s s3Secret) String() string   { return "s3Secret{endpoint=" + s.Endpoint + " keys=REDACTED}" }
func (s s3Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer without the keys.
func (s s3Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// k8sName is a Kubernetes namespace or object name (DNS-1123 subdomain).
var k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// parseSecretRef splits NS/NAME.
func parseSecretRef(ref string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || !k8sName.MatchString(ns) || !k8sName.MatchString(name) {
		return "", "", usageErrorf("--%s %q: want NAMESPACE/NAME, e.g. default/etcd-backup-s3-credentials", flagS3FromSecret, ref)
	}
	return ns, name, nil
}

// parseS3Secret reads what `kubectl get secret -o json` prints: data.access_key
// and data.secret_key (required) and data.http_s3_endpoint (optional), all
// base64. Errors name the missing or bad field, never a value.
func parseS3Secret(b []byte) (s3Secret, error) {
	var doc struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Kind != "Secret" {
		return s3Secret{}, errors.New("kubectl did not print a Kubernetes secret in JSON")
	}
	field := func(k string, required bool) (string, error) {
		v, ok := doc.Data[k]
		if !ok {
			if required {
				return "", fmt.Errorf("the secret has no data.%s", k)
			}
			return "", nil
		}
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", fmt.Errorf("data.%s of the secret is not base64", k)
		}
		s := strings.TrimSpace(string(dec))
		if s == "" && required {
			return "", fmt.Errorf("data.%s of the secret is empty", k)
		}
		return s, nil
	}
	var sec s3Secret
	var err error
	if sec.AccessKey, err = field(secretAccessKey, true); err != nil {
		return s3Secret{}, err
	}
	if sec.SecretKey, err = field(secretSecretKey, true); err != nil {
		return s3Secret{}, err
	}
	if sec.Endpoint, err = field(secretEndpointKey, false); err != nil {
		return s3Secret{}, err
	}
	return sec, nil
}

// secretCredentials reads --s3-credentials-from-secret ref on the first
// master (see newBackupsClient).
func secretCredentials(ctx context.Context, c *cli.Context, s *session, ref string) (s3Secret, error) {
	ns, name, err := parseSecretRef(ref)
	if err != nil {
		return s3Secret{}, err
	}
	var (
		h    *hosts.Host
		tmpl *templates.Set
		red  *output.Redactor
	)
	if s != nil {
		if len(s.hosts) == 0 {
			return s3Secret{}, usageErrorf("--%s: no master selected to run kubectl on", flagS3FromSecret)
		}
		h = s.hosts.Filter(func(h *hosts.Host) bool { return h.Conn != nil }).First()
		if h == nil {
			h = s.hosts[0]
			if err := connectOne(ctx, h, s.connect); err != nil {
				return s3Secret{}, &exitError{code: exitFailed, err: fmt.Errorf("--%s: %w", flagS3FromSecret, err)}
			}
		}
		tmpl, red = s.tmpl, s.redactor
	} else {
		if c.String(flagInventory) == "" {
			return s3Secret{}, usageErrorf("--%s needs -i INVENTORY: kubectl runs on the first master", flagS3FromSecret)
		}
		_, hs, err := selectHosts(c, "masters")
		if err != nil {
			return s3Secret{}, err
		}
		if h = hs.First(); h == nil {
			return s3Secret{}, usageErrorf("--%s: no master selected to run kubectl on", flagS3FromSecret)
		}
		if tmpl, err = templates.New(c.String(flagTemplates)); err != nil {
			return s3Secret{}, &exitError{code: exitUsage, err: fmt.Errorf("templates: %w", err)}
		}
		if err := connectOne(ctx, h, connectOptions(c, slog.New(slog.DiscardHandler), 1)); err != nil {
			return s3Secret{}, &exitError{code: exitFailed, err: fmt.Errorf("--%s: %w", flagS3FromSecret, err)}
		}
		defer h.Conn.Close()
	}
	sec, err := readS3Secret(ctx, h, tmpl, ns, name, red)
	if err != nil {
		return s3Secret{}, &exitError{code: exitFailed, err: err}
	}
	return sec, nil
}

// readS3Secret runs k8s-secret-get.sh.tmpl on h and parses its output. The
// script's output goes only to memory: it is not shown, logged or put in a
// report. The keys are added to red (which may be nil) before it returns.
func readS3Secret(ctx context.Context, h *hosts.Host, tmpl *templates.Set, ns, name string, red *output.Redactor) (s3Secret, error) {
	what := fmt.Sprintf("read S3 credentials from Kubernetes secret %s/%s on %s", ns, name, h.Name)
	script, err := tmpl.Render(secretTemplate, map[string]any{"Vars": map[string]any{
		"kubeconfig": adminKubeconfig, "secret_namespace": ns, "secret_name": name,
	}})
	if err != nil {
		return s3Secret{}, fmt.Errorf("%s: %w", what, err)
	}
	var (
		mu     sync.Mutex // a cancelled Run may return before its last line
		stdout strings.Builder
		stderr []string
	)
	_, err = h.Conn.Run(ctx, phases.WrapScript(script), transport.RunOptions{
		Stdout: func(l string) { mu.Lock(); stdout.WriteString(l + "\n"); mu.Unlock() },
		Stderr: func(l string) { mu.Lock(); stderr = append(stderr, l); mu.Unlock() },
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		msg := err.Error()
		for i := len(stderr) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(stderr[i]); l != "" {
				msg = l
				break
			}
		}
		return s3Secret{}, fmt.Errorf("%s: %s", what, msg)
	}
	sec, err := parseS3Secret([]byte(stdout.String()))
	if err != nil {
		return s3Secret{}, fmt.Errorf("%s: %w", what, err)
	}
	red.Add(sec.AccessKey, sec.SecretKey, base64.StdEncoding.EncodeToString([]byte(sec.AccessKey)),
		base64.StdEncoding.EncodeToString([]byte(sec.SecretKey)))
	return sec, nil
}

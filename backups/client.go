package backups

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults of [ClientOptions].
const (
	DefaultRegion     = "us-east-1"
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 3
)

// ClientOptions configure [NewClient]. Only Endpoint (or AWS_ENDPOINT_URL) is
// required; credentials come from AccessKey/SecretKey, or else the SDK's
// usual chain (environment, shared files, Profile). The secrets never appear
// in String, GoString, LogValue or MarshalJSON output, nor in errors.
type ClientOptions struct {
	// Endpoint is the S3 URL, e.g. "http://rgw-vip" or "https://rgw.example:8443".
	// Empty: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then the profile's
	// endpoint_url. With none of them NewClient fails (ErrEndpoint): the
	// client never falls back to AWS.
	Endpoint string
	// Bucket holds the backups (default "etcd-backup").
	Bucket string
	// Prefix is the key prefix of this cluster's backups (default
	// "bare-metal/"; a missing trailing "/" is added; "/" means the bucket's
	// top level).
	Prefix string
	// Region signs the requests (default: from the environment or profile,
	// else "us-east-1"; RGW accepts any).
	Region string
	// CABundle is a PEM file of CA certificates trusted for HTTPS in addition
	// to the system's (e.g. the site CA of a CSM system).
	CABundle string
	// Insecure skips TLS certificate verification. Only when asked for.
	Insecure bool
	// Profile is a profile of the shared AWS config/credentials files.
	Profile string
	// AccessKey, with SecretKey, overrides every other credential source
	// (e.g. the fields of the Kubernetes secret etcd-backup-s3-credentials).
	AccessKey string
	// SecretKey is AccessKey's secret. Never printed.
	SecretKey string
	// Timeout bounds each network wait: connecting, the TLS handshake, the
	// response headers, unacknowledged sent data (TCP_USER_TIMEOUT) and a
	// download that receives no byte (default 30s). There is no limit on a
	// whole transfer that keeps moving: use the context for that.
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried, with
	// exponential back-off (0: default 3; negative: no retry).
	MaxRetries int
	// MaxDumpSize is the default OpenOptions.MaxDumpSize of Open and Verify
	// (0: DefaultMaxDumpSize).
	MaxDumpSize int64
	// Logger receives debug and info lines (nil: discard).
	Logger *slog.Logger
}

// redacted returns o with its secrets replaced.
func (o ClientOptions) redacted() ClientOptions {
	if o.AccessKey != "" {
		o.AccessKey = "REDACTED"
	}
	if o.SecretKey != "" {
		o.SecretKey = "REDACTED"
	}
	o.Endpoint = redactURL(o.Endpoint)
	o.Logger = nil
	return o
}

// String describes the options with the secrets redacted.
func (o ClientOptions) String() string {
	r := o.redacted()
	return fmt.Sprintf("endpoint=%s bucket=%s prefix=%s region=%s ca-bundle=%s insecure=%t profile=%s access-key=%s secret-key=%s timeout=%s max-retries=%d",
		r.Endpoint, r.Bucket, r.Prefix, r.Region, r.CABundle, r.Insecure, r.Profile, r.AccessKey, r.SecretKey, r.Timeout, r.MaxRetries)
}

// GoString is String, so that %#v redacts too.
func (o ClientOptions) GoString() string { return "backups.ClientOptions{" + o.String() + "}" }

// LogValue implements slog.LogValuer with the secrets redacted.
func (o ClientOptions) LogValue() slog.Value {
	r := o.redacted()
	return slog.GroupValue(
		slog.String("endpoint", r.Endpoint),
		slog.String("bucket", r.Bucket),
		slog.String("prefix", r.Prefix),
		slog.String("region", r.Region),
		slog.String("ca_bundle", r.CABundle),
		slog.Bool("insecure", r.Insecure),
		slog.String("profile", r.Profile),
		slog.String("access_key", r.AccessKey),
		slog.String("secret_key", r.SecretKey),
		slog.Duration("timeout", r.Timeout),
		slog.Int("max_retries", r.MaxRetries),
	)
}

// MarshalJSON writes the options with the secrets redacted.
func (o ClientOptions) MarshalJSON() ([]byte, error) {
	r := o.redacted()
	return json.Marshal(struct {
		Endpoint    string        `json:"endpoint,omitempty"`
		Bucket      string        `json:"bucket,omitempty"`
		Prefix      string        `json:"prefix,omitempty"`
		Region      string        `json:"region,omitempty"`
		CABundle    string        `json:"caBundle,omitempty"`
		Insecure    bool          `json:"insecure,omitempty"`
		Profile     string        `json:"profile,omitempty"`
		AccessKey   string        `json:"accessKey,omitempty"`
		SecretKey   string        `json:"secretKey,omitempty"`
		Timeout     time.Duration `json:"timeout,omitempty"`
		MaxRetries  int           `json:"maxRetries,omitempty"`
		MaxDumpSize int64         `json:"maxDumpSize,omitempty"`
	}{r.Endpoint, r.Bucket, r.Prefix, r.Region, r.CABundle, r.Insecure, r.Profile, r.AccessKey, r.SecretKey, r.Timeout, r.MaxRetries, r.MaxDumpSize})
}

// redactURL hides a password in a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// Client is the S3 catalogue of one bucket and prefix. It is safe for
// concurrent use.
type Client struct {
	s3       *s3.Client
	opts     ClientOptions // with defaults filled in
	endpoint string
	log      *slog.Logger
	secrets  []string
}

// Bucket returns the bucket.
func (c *Client) Bucket() string { return c.opts.Bucket }

// Prefix returns the key prefix ("bare-metal/").
func (c *Client) Prefix() string { return c.opts.Prefix }

// Endpoint returns the S3 endpoint URL in use.
func (c *Client) Endpoint() string { return redactURL(c.endpoint) }

// S3 returns the underlying SDK client, configured for RGW.
func (c *Client) S3() *s3.Client { return c.s3 }

// NewClient loads the AWS configuration (environment, shared files, profile),
// applies the options, checks that credentials can be had, and returns a
// client. It contacts nothing but the credential sources the configuration
// names (never instance metadata); the first S3 request is made by the first
// method call. Errors wrap ErrEndpoint (no or bad endpoint) or
// ErrAccessDenied (no credentials).
func NewClient(ctx context.Context, o ClientOptions) (*Client, error) {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	switch {
	case o.Prefix == "":
		o.Prefix = DefaultPrefix
	case o.Prefix == "/":
		o.Prefix = ""
	case !strings.HasSuffix(o.Prefix, "/"):
		o.Prefix += "/"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.MaxDumpSize <= 0 {
		o.MaxDumpSize = DefaultMaxDumpSize
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secrets := []string{o.SecretKey, o.AccessKey}
	fail := func(err error) (*Client, error) {
		return nil, &opError{action: "configure S3 client", err: err, redact: secrets}
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return fail(fmt.Errorf("%w: an access key needs its secret key and vice versa", ErrAccessDenied))
	}

	httpClient, err := newHTTPClient(o)
	if err != nil {
		return fail(err)
	}
	maxAttempts := o.MaxRetries + 1
	load := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = maxAttempts
				so.MaxBackoff = 5 * time.Second
				so.RateLimiter = ratelimit.None
			})
		}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(o.Profile))
	}
	if o.AccessKey != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return fail(fmt.Errorf("load AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	// Fail now, with a clear message, rather than at the first request.
	if cfg.Credentials == nil {
		return fail(fmt.Errorf("%w: no credentials: give an access key and secret key, a profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", ErrAccessDenied))
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fail(fmt.Errorf("%w: no usable credentials (give an access key and secret key, a profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): %w", ErrAccessDenied, err))
	}
	o.Region = cfg.Region

	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	if endpoint == "" {
		return fail(fmt.Errorf("%w: no endpoint: give one (e.g. http://rgw-vip) or set AWS_ENDPOINT_URL", ErrEndpoint))
	}
	if err := checkEndpoint(endpoint); err != nil {
		return fail(fmt.Errorf("%w: endpoint %s: %v", ErrEndpoint, redactURL(endpoint), err))
	}
	o.Endpoint = endpoint

	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.BaseEndpoint = aws.String(endpoint)
		so.UsePathStyle = true
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		so.DisableS3ExpressSessionAuth = aws.Bool(true)
	})
	c := &Client{
		s3:       client,
		opts:     o,
		endpoint: endpoint,
		log:      log.With("endpoint", redactURL(endpoint), "bucket", o.Bucket),
		secrets:  secrets,
	}
	c.log.Debug("S3 client ready", "options", o)
	return c, nil
}

// checkEndpoint accepts http(s)://host[:port][/path] without user info.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	if u.User != nil {
		return errors.New("credentials do not belong in the URL")
	}
	return nil
}

// newHTTPClient builds the transport: bounded connect, TLS and header waits,
// TCP_USER_TIMEOUT against a peer that stops acknowledging an upload, the CA
// bundle, and no overall request timeout (a large download may take long).
// It is the SDK's buildable client, so that the SDK can still add
// AWS_CA_BUNDLE (or a profile's ca_bundle) to the trusted roots.
func newHTTPClient(o ClientOptions) (*awshttp.BuildableClient, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", o.CABundle)
		}
	}
	tlsCfg.RootCAs = pool
	tlsCfg.InsecureSkipVerify = o.Insecure
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = o.Timeout
			d.KeepAlive = 15 * time.Second
			d.Control = dialControl(o.Timeout)
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.Proxy = http.ProxyFromEnvironment
			tr.TLSClientConfig = tlsCfg
			tr.TLSHandshakeTimeout = o.Timeout
			tr.ResponseHeaderTimeout = o.Timeout
			tr.MaxIdleConnsPerHost = 32
			tr.ForceAttemptHTTP2 = true
		}), nil
}

// wrap makes the error of an S3 action on key (or on the prefix when key
// is empty).
func (c *Client) wrap(action, key string, err error) error {
	if err == nil {
		return nil
	}
	target := fmt.Sprintf("s3://%s/%s at %s", c.opts.Bucket, key, c.Endpoint())
	return &opError{action: action, target: target, kind: classify(err), err: err, redact: c.secrets}
}

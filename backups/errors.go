package backups

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"github.com/ncnpush/ncnpush/snapshot"
)

// Sentinel errors, for errors.Is. Every error this package returns wraps at
// most one of the S3 sentinels (ErrEndpoint ... ErrTimeout) and keeps the
// underlying error in its chain as well.
var (
	// ErrEndpoint: the S3 endpoint cannot be reached or is not configured
	// (connection refused, DNS failure, TLS failure, no endpoint given).
	ErrEndpoint = errors.New("S3 endpoint unreachable")
	// ErrAccessDenied: the credentials are missing, unknown or not allowed
	// (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, HTTP 403).
	ErrAccessDenied = errors.New("S3 access denied")
	// ErrNoSuchBucket: the bucket does not exist.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrNoSuchBackup: no backup object matches (missing key, or a selector
	// that matches none or more than one backup).
	ErrNoSuchBackup = errors.New("no such backup")
	// ErrInvalidName: a string is not a backup name in any accepted form.
	ErrInvalidName = errors.New("invalid backup name")
	// ErrExists: an upload would replace an existing backup.
	ErrExists = errors.New("backup already exists")
	// ErrLayout: the object is not a CSM backup archive: not gzip, or a tar
	// whose members are not exactly `etcd-backup-<ts>/etcd-dump.bin` (and its
	// directory).
	ErrLayout = errors.New("unexpected backup layout")
	// ErrCorrupt: the gzip or tar data is damaged (bad deflate data, gzip CRC,
	// tar header checksum).
	ErrCorrupt = errors.New("corrupt backup archive")
	// ErrTruncated: the gzip or tar stream ends early.
	ErrTruncated = errors.New("truncated backup archive")
	// ErrHashMismatch: the dump's appended sha256 is wrong. It is the very
	// same value as snapshot.ErrHashMismatch.
	ErrHashMismatch = snapshot.ErrHashMismatch
	// ErrTooLarge: the dump is larger than the configured limit, or than the
	// memory available to hold it.
	ErrTooLarge = errors.New("backup too large")
	// ErrTimeout: a connection, a response or a transfer stalled for longer
	// than the configured timeout, or the context's deadline passed.
	ErrTimeout = errors.New("S3 timeout")
)

// opError is the error type of S3 operations: one line naming the action and
// the target, the sentinel kind, and the cause. Known secrets are removed
// from the cause's text.
type opError struct {
	action string // "list", "download", ...
	target string // s3://bucket/key at endpoint
	kind   error  // one of the sentinels, or nil
	err    error  // the cause
	redact []string
}

// Error returns the one-line message, secrets redacted.
func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString(e.action)
	if e.target != "" {
		b.WriteString(" ")
		b.WriteString(e.target)
	}
	cause := describe(e.err)
	if e.kind != nil && !strings.Contains(cause, e.kind.Error()) {
		b.WriteString(": ")
		b.WriteString(e.kind.Error())
	}
	if cause != "" {
		b.WriteString(": ")
		b.WriteString(cause)
	}
	return redact(oneLine(b.String()), e.redact)
}

// Unwrap returns the sentinel kind (if any) and the cause.
func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// describe returns the useful part of an SDK error: the S3 error code and
// message, or the network error, and how many attempts were made. Other
// errors are described by their own text.
func describe(err error) string {
	if err == nil {
		return ""
	}
	var (
		api      smithy.APIError
		resp     *smithyhttp.ResponseError
		op       *net.OpError
		attempts *retry.MaxAttemptsError
		text     string
	)
	switch {
	case errors.As(err, &api):
		text = api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			text += ": " + m
		}
		if errors.As(err, &resp) {
			text += fmt.Sprintf(" (HTTP %d)", resp.HTTPStatusCode())
		}
	case errors.As(err, &op):
		text = op.Error()
	default:
		return err.Error()
	}
	// Keep what this package said before the SDK error.
	if i := strings.Index(err.Error(), "operation error "); i > 0 {
		text = err.Error()[:i] + text
	}
	if errors.As(err, &attempts) && attempts.Attempt > 1 {
		text += fmt.Sprintf(" (after %d attempts)", attempts.Attempt)
	}
	return text
}

// oneLine folds an error text onto one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// minRedactLen is the shortest secret that redact looks for: a shorter one
// would match ordinary text (and is no real S3 secret).
const minRedactLen = 6

// redact replaces every occurrence of each secret.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= minRedactLen {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

// Codes of S3 (and Ceph RGW) errors, by the sentinel they map to.
var apiCodes = map[string]error{
	"AccessDenied":          ErrAccessDenied,
	"InvalidAccessKeyId":    ErrAccessDenied,
	"SignatureDoesNotMatch": ErrAccessDenied,
	"InvalidToken":          ErrAccessDenied,
	"ExpiredToken":          ErrAccessDenied,
	"AllAccessDisabled":     ErrAccessDenied,
	"AccountProblem":        ErrAccessDenied,
	"UserSuspended":         ErrAccessDenied,
	"Forbidden":             ErrAccessDenied,
	"NoSuchBucket":          ErrNoSuchBucket,
	"NoSuchKey":             ErrNoSuchBackup,
	"NotFound":              ErrNoSuchBackup,
	"RequestTimeout":        ErrTimeout,
}

// classify returns the sentinel that err falls under, or nil.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrTimeout, ErrEndpoint, ErrAccessDenied, ErrNoSuchBucket, ErrNoSuchBackup,
		ErrTruncated, ErrCorrupt, ErrLayout, ErrHashMismatch, ErrTooLarge, ErrExists, ErrInvalidName} {
		if errors.Is(err, s) {
			return s
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if s, ok := apiCodes[api.ErrorCode()]; ok {
			return s
		}
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) {
		switch resp.HTTPStatusCode() {
		case http.StatusForbidden, http.StatusUnauthorized:
			return ErrAccessDenied
		case http.StatusRequestTimeout, http.StatusGatewayTimeout:
			return ErrTimeout
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	if isEndpointError(err) {
		return ErrEndpoint
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") ||
		strings.Contains(err.Error(), "failed to refresh cached credentials") {
		return ErrAccessDenied
	}
	return nil
}

// isEndpointError tells connection, DNS and TLS failures.
func isEndpointError(err error) bool {
	var (
		dns      *net.DNSError
		op       *net.OpError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &dns), errors.As(err, &unknown), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &verify), errors.As(err, &record), errors.As(err, &alert):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	}
	return false
}

// archiveError maps a gzip/tar/reader error to ErrTruncated or ErrCorrupt,
// leaving errors that are already classified alone. No error it returns
// wraps io.EOF or io.ErrUnexpectedEOF.
func archiveError(err error) error {
	if classify(err) != nil {
		return err
	}
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// Not %w: io.EOF and io.ErrUnexpectedEOF steer read loops, and a
		// loop that stops quietly on them must not take this for an end.
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
	case errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%w: not gzip data: %w", ErrLayout, err)
	case strings.HasPrefix(err.Error(), "archive/tar:"):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

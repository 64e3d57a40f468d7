package backups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// errStalled is the cancellation cause of a download that stopped moving.
var errStalled = errors.New("no data received")

// key returns b's object key, from its name if it has no key.
func (c *Client) key(b Backup) (string, error) {
	if b.Key != "" {
		return b.Key, nil
	}
	return KeyFor(c.opts.Prefix, b.Name)
}

// Open downloads backup b and streams its dump: S3 body → gzip → tar, with
// the layout checks of [OpenArchive] and the checks of [Dump] as it is read.
// If b has an ETag (from List), the object must still be that version. A
// download that receives nothing for the client's Timeout fails with
// ErrTimeout. Close the Dump when done.
func (c *Client) Open(ctx context.Context, b Backup, opts OpenOptions) (*Dump, error) {
	key, err := c.key(b)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	if opts.MaxDumpSize <= 0 {
		opts.MaxDumpSize = c.opts.MaxDumpSize
	}
	if opts.Source == "" {
		opts.Source = "s3://" + c.opts.Bucket + "/" + key
	}
	ctx, cancel := context.WithCancelCause(ctx)
	in := &s3.GetObjectInput{Bucket: aws.String(c.opts.Bucket), Key: aws.String(key)}
	if b.ETag != "" {
		in.IfMatch = aws.String(b.ETag)
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		cancel(nil)
		var resp *smithyhttp.ResponseError
		if errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusPreconditionFailed {
			err = fmt.Errorf("%w: the object changed since it was listed (ETag %s): %w", ErrNoSuchBackup, b.ETag, err)
		}
		return nil, c.wrap("download", key, err)
	}
	body := &stallReader{body: out.Body, cancel: cancel, timeout: c.opts.Timeout}
	body.timer = time.AfterFunc(time.Hour, body.stall)
	body.timer.Stop()

	d, err := OpenArchive(body, key, opts)
	if err != nil {
		body.Close()
		return nil, err
	}
	d.closer = body
	c.log.Debug("opened backup", "key", key, "dump_size", d.Size())
	return d, nil
}

// stallReader cancels a download that receives no byte for timeout, and
// classifies read errors.
type stallReader struct {
	body    io.ReadCloser
	cancel  context.CancelCauseFunc
	timeout time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func (s *stallReader) stall() {
	s.stalled.Store(true)
	s.cancel(errStalled)
}

// Read arms the stall timer for the duration of one read of the body.
func (s *stallReader) Read(p []byte) (int, error) {
	s.timer.Reset(s.timeout)
	n, err := s.body.Read(p)
	s.timer.Stop()
	if err == nil || err == io.EOF {
		return n, err
	}
	if s.stalled.Load() {
		err = fmt.Errorf("%w: %v for %s: %w", ErrTimeout, errStalled, s.timeout, err)
	}
	if kind := classify(err); kind != nil && !errors.Is(err, kind) {
		err = fmt.Errorf("%w: %w", kind, err)
	}
	return n, err
}

// Close cancels the request (which unblocks a pending Read) and closes the
// body.
func (s *stallReader) Close() error {
	s.timer.Stop()
	s.cancel(nil)
	return s.body.Close()
}

package backups

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ncnpush/ncnpush/snapshot"
)

// Upload part size and concurrency: at most 4 × 8 MiB of buffers.
const (
	uploadPartSize    = 8 << 20
	uploadConcurrency = 4
)

// errUploadEnded stops WriteArchive when the upload has failed.
var errUploadEnded = errors.New("upload ended")

// Upload stores a dump as a new backup, in CSM's layout, without a local
// archive: the tar.gz of `<name>/etcd-dump.bin` is built while r is read and
// sent with the SDK's multipart upload manager (a plain-HTTP PutObject cannot
// take a non-seekable stream).
//
// name is the backup name in any form [ParseName] accepts (see [NameFor]);
// r must yield exactly size bytes, an etcd snapshot whose appended sha256 is
// right: otherwise the upload is aborted and no object is created (errors
// wrap ErrTruncated, ErrLayout or ErrHashMismatch). An existing backup of the
// same name is never replaced (ErrExists).
func (c *Client) Upload(ctx context.Context, name string, r io.Reader, size int64) (Backup, error) {
	canon, t, err := ParseName(name)
	if err != nil {
		return Backup{}, fmt.Errorf("upload backup: %w", err)
	}
	key := c.opts.Prefix + canon + ObjectSuffix
	if size <= snapshot.HashSize {
		return Backup{}, c.wrap("upload", key, fmt.Errorf("%w: %w: %d bytes", ErrLayout, snapshot.ErrTooSmall, size))
	}
	if size > c.opts.MaxDumpSize {
		return Backup{}, c.wrap("upload", key, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, c.opts.MaxDumpSize))
	}

	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.opts.Bucket), Key: aws.String(key)})
	switch {
	case err == nil:
		return Backup{}, c.wrap("upload", key, ErrExists)
	case !errors.Is(classify(err), ErrNoSuchBackup):
		return Backup{}, c.wrap("upload (check for an existing object)", key, err)
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := WriteArchive(pw, canon, r, size)
		pw.CloseWithError(err)
		done <- err
	}()
	uploader := manager.NewUploader(c.s3, func(u *manager.Uploader) {
		u.PartSize = uploadPartSize
		u.Concurrency = uploadConcurrency
		u.LeavePartsOnError = false
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	out, upErr := uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(c.opts.Bucket),
		Key:         aws.String(key),
		Body:        pr,
		ContentType: aws.String("application/gzip"),
	})
	pr.CloseWithError(errUploadEnded) // unblock the writer if the upload failed first
	werr := <-done
	if werr != nil && !errors.Is(werr, errUploadEnded) {
		// The source's fault: report it rather than the upload's echo of it.
		return Backup{}, c.wrap("upload", key, werr)
	}
	if upErr != nil {
		return Backup{}, c.wrap("upload", key, upErr)
	}

	b := Backup{Key: key, Name: canon, Time: t, LastModified: time.Now().UTC(), ETag: aws.ToString(out.ETag)}
	if head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.opts.Bucket), Key: aws.String(key)}); err == nil {
		b.Size = aws.ToInt64(head.ContentLength)
		b.LastModified = aws.ToTime(head.LastModified)
		b.ETag = aws.ToString(head.ETag)
	}
	c.log.Info("uploaded backup", "key", key, "dump_size", size, "size", b.Size)
	return b, nil
}

// WriteArchive writes the CSM backup archive of a dump to w, as
// `tar czf <name>.tar.gz <name>` would: the directory `<name>/` and the file
// `<name>/etcd-dump.bin` (GNU tar format, root-owned, mode 0600, the name's
// time). r must yield exactly size bytes, ending with the snapshot's correct
// sha256; otherwise WriteArchive fails (ErrTruncated, ErrLayout,
// ErrHashMismatch) before it writes the end of the archive. It does not
// close w.
func WriteArchive(w io.Writer, name string, r io.Reader, size int64) error {
	canon, t, err := ParseName(name)
	if err != nil {
		return err
	}
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := tar.Header{
		Typeflag: tar.TypeDir,
		Name:     canon + "/",
		Mode:     0o755,
		ModTime:  t,
		Uname:    "root",
		Gname:    "root",
		Format:   tar.FormatGNU,
	}
	if err := tw.WriteHeader(&hdr); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	hdr.Typeflag, hdr.Name, hdr.Mode, hdr.Size = tar.TypeReg, canon+"/"+DumpFile, 0o600, size
	if err := tw.WriteHeader(&hdr); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	v := snapshot.NewVerifier()
	n, err := io.CopyN(io.MultiWriter(tw, v), r, size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("read dump: %w: it ended after %d of %d bytes", ErrTruncated, n, size)
		}
		return fmt.Errorf("read dump: %w", err)
	}
	var one [1]byte
	if m, _ := io.ReadFull(r, one[:]); m > 0 {
		return fmt.Errorf("read dump: %w: longer than the %d bytes announced", ErrLayout, size)
	}
	if err := v.Verify(); err != nil {
		return fmt.Errorf("read dump: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// Delete removes backups by key, up to 8 at a time, one DeleteObject each
// (the multi-object delete needs a Content-MD5 header that RGW insists on
// and recent SDKs no longer send). Keys must be backups of this client's
// prefix (`<prefix>etcd-backup-<ts>.tar.gz`): anything else is refused
// (ErrInvalidName) before any deletion. Deleting a missing key is not an
// error. The errors of failed deletions are joined.
func (c *Client) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, ok := c.backupFor(k); !ok {
			return c.wrap("delete", k, fmt.Errorf("%w: not a backup key under %q", ErrInvalidName, c.opts.Prefix))
		}
	}
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 8)
	for i, k := range keys {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.opts.Bucket), Key: aws.String(k)})
			if err != nil {
				errs[i] = c.wrap("delete", k, err)
				return
			}
			c.log.Info("deleted backup", "key", k)
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	return errors.Join(errs...)
}

package backups

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ncnpush/ncnpush/snapshot"
)

// DefaultMaxDumpSize bounds the uncompressed dump: 16 GiB, twice the largest
// backend etcd's quota allows.
const DefaultMaxDumpSize int64 = 16 << 30

// OpenOptions tune [OpenArchive] and [Client.Open].
type OpenOptions struct {
	// MaxDumpSize is the largest uncompressed dump accepted, in bytes
	// (default DefaultMaxDumpSize). A larger tar header fails with ErrTooLarge
	// before any dump byte is read.
	MaxDumpSize int64
	// Source names the archive in error messages (default: the backup name;
	// Client.Open uses s3://bucket/key).
	Source string
}

// maxTrailer bounds the zero padding read after the end of the tar archive.
// GNU tar pads its output to a 10 KiB record, so 1 MiB is far more than any
// tar writes; without a bound, a small object could hold gigabytes of
// zeros (deflate packs zeros about 1000 to 1) and keep the check busy.
const maxTrailer = 1 << 20

// readBufferSize is the read-ahead on the compressed stream.
const readBufferSize = 256 << 10

// Dump streams the etcd snapshot out of a backup archive. Read it to EOF:
// only then are the snapshot's appended sha256 and the rest of the archive
// checked. Read returns io.EOF only when everything is right; otherwise the
// last Read returns an error wrapping ErrHashMismatch (bad sha256),
// ErrTruncated (gzip or tar cut short), ErrLayout (tar members after the
// dump, data or more than 1 MiB of zero padding after the archive) or
// ErrCorrupt. Errors are sticky.
//
// A Dump is not safe for concurrent use. Close it when done.
type Dump struct {
	name    string
	t       time.Time
	source  string
	size    int64
	modTime time.Time

	gz     *gzip.Reader
	tr     *tar.Reader
	v      *snapshot.Verifier
	read   int64
	done   bool
	err    error
	closer io.Closer
	count  *countingReader
}

// Name returns the backup's canonical name ("etcd-backup-<ts>").
func (d *Dump) Name() string { return d.name }

// Time returns the backup's timestamp (from its name).
func (d *Dump) Time() time.Time { return d.t }

// Size returns the dump's size in bytes, from its tar header: known before
// the first Read.
func (d *Dump) Size() int64 { return d.size }

// ModTime returns the dump's modification time recorded in the tar header.
func (d *Dump) ModTime() time.Time { return d.modTime }

// Sum returns the sha256 of the dump bytes read so far: after Read returned
// io.EOF, the sha256 of the whole dump (what `sha256sum etcd-dump.bin`
// prints).
func (d *Dump) Sum() [snapshot.HashSize]byte { return d.v.Sum() }

// HexSum returns [Dump.Sum] in lower-case hex.
func (d *Dump) HexSum() string {
	s := d.Sum()
	return hex.EncodeToString(s[:])
}

// Verified reports whether the dump was read to EOF and every check passed.
func (d *Dump) Verified() bool { return d.done && d.err == nil }

// Err returns the verdict: nil once every dump byte was read and every check
// passed, the error of the failed check, or an error saying the dump was not
// read to the end. Use it after helpers that hide a final error when they
// got all the bytes they wanted (io.CopyN, io.ReadFull).
func (d *Dump) Err() error {
	switch {
	case d.err != nil:
		return d.err
	case d.done:
		return nil
	}
	return d.fail("read dump", fmt.Errorf("%w: %d of %d bytes read, checks not done", ErrTruncated, d.read, d.size))
}

// CompressedBytes returns the number of archive bytes read so far.
func (d *Dump) CompressedBytes() int64 { return d.count.n }

// Close releases the source (for Client.Open, the S3 response). It does not
// report check failures: those come from Read.
func (d *Dump) Close() error {
	if d.closer != nil {
		c := d.closer
		d.closer = nil
		return c.Close()
	}
	return nil
}

// Read reads dump bytes. See [Dump] for what it checks at the end: the
// verdict comes with the last dump bytes (io.EOF or an error), so a caller
// that reads exactly Size bytes gets it too.
func (d *Dump) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	n, err := d.tr.Read(p)
	d.v.Write(p[:n])
	d.read += int64(n)
	if err == nil && d.read == d.size {
		// Check now, so that a reader that stops after Size bytes (io.CopyN)
		// still gets the verdict.
		err = io.EOF
	}
	switch {
	case err == io.EOF:
		if err := d.finish(); err != nil {
			d.err = err
			return n, err
		}
		d.done = true
		return n, io.EOF
	case err != nil:
		d.err = d.fail("read dump", archiveError(err))
		return n, d.err
	}
	return n, nil
}

// WriteTo lets io.Copy stream the dump without an intermediate buffer.
func (d *Dump) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, rerr := d.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

func (d *Dump) fail(what string, err error) error {
	return fmt.Errorf("%s %s: %w", what, d.source, err)
}

// finish runs the end-of-dump checks: sha256, then nothing but the end of
// the tar archive, then the end of the gzip stream.
func (d *Dump) finish() error {
	if d.read != d.size { // archive/tar reports short members itself; belt and braces
		return d.fail("read dump", fmt.Errorf("%w: %d of %d bytes", ErrTruncated, d.read, d.size))
	}
	if err := d.v.Verify(); err != nil {
		if errors.Is(err, snapshot.ErrTooSmall) {
			err = fmt.Errorf("%w: %w", ErrLayout, err)
		}
		return d.fail("verify dump", err)
	}
	hdr, err := d.tr.Next()
	switch {
	case err == nil:
		return d.fail("read archive", fmt.Errorf("%w: member %q after %s", ErrLayout, hdr.Name, DumpFile))
	case err != io.EOF:
		return d.fail("read archive", archiveError(err))
	}
	// tar pads its end with zero blocks; anything else is not from tar czf.
	var tail [32 << 10]byte
	for padding := 0; ; {
		n, err := d.gz.Read(tail[:])
		if !allZero(tail[:n]) {
			return d.fail("read archive", fmt.Errorf("%w: data after the end of the tar archive", ErrLayout))
		}
		if padding += n; padding > maxTrailer {
			return d.fail("read archive", fmt.Errorf("%w: more than %d bytes of padding after the end of the tar archive", ErrLayout, maxTrailer))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, gzip.ErrHeader) {
				return d.fail("read archive", fmt.Errorf("%w: data after the gzip stream", ErrLayout))
			}
			return d.fail("read archive", archiveError(err))
		}
	}
}

// OpenArchive reads a CSM backup archive (tar.gz) from r up to the dump's
// tar header and returns the dump as a stream. name is the backup's name in
// any form [ParseName] accepts; the archive must hold, in this order,
// optionally the directory `<name>/`, then the regular file
// `<name>/etcd-dump.bin`, and nothing else. A leading "./" on member names is
// tolerated. Anything else (another member, an absolute or ".." path, a
// link, a device, no dump, a dump above MaxDumpSize) fails here, with
// ErrLayout or ErrTooLarge; a damaged stream fails with ErrTruncated or
// ErrCorrupt. The dump's own checks happen as it is read: see [Dump].
//
// OpenArchive does not close r.
func OpenArchive(r io.Reader, name string, opts OpenOptions) (*Dump, error) {
	canon, t, err := ParseName(name)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	if opts.MaxDumpSize <= 0 {
		opts.MaxDumpSize = DefaultMaxDumpSize
	}
	if opts.Source == "" {
		opts.Source = canon + ObjectSuffix
	}
	d := &Dump{name: canon, t: t, source: opts.Source, v: snapshot.NewVerifier(), count: &countingReader{r: r}}

	d.gz, err = gzip.NewReader(bufio.NewReaderSize(d.count, readBufferSize))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: empty object", ErrTruncated)
		}
		return nil, d.fail("open archive", archiveError(err))
	}
	d.tr = tar.NewReader(d.gz)

	dir := canon + "/"
	dump := dir + DumpFile
	sawDir := false
	for {
		hdr, err := d.tr.Next()
		if err == io.EOF {
			return nil, d.fail("open archive", fmt.Errorf("%w: no %s in the archive", ErrLayout, dump))
		}
		if err != nil {
			return nil, d.fail("open archive", archiveError(err))
		}
		member := strings.TrimPrefix(hdr.Name, "./")
		if err := checkPath(member); err != nil {
			return nil, d.fail("open archive", fmt.Errorf("%w: member %q: %v", ErrLayout, hdr.Name, err))
		}
		switch {
		case strings.TrimSuffix(member, "/") == canon && hdr.Typeflag == tar.TypeDir && !sawDir:
			sawDir = true
			continue
		case member == dump && hdr.Typeflag == tar.TypeReg:
			if hdr.Size > opts.MaxDumpSize {
				return nil, d.fail("open archive", fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, dump, hdr.Size, opts.MaxDumpSize))
			}
			if hdr.Size <= snapshot.HashSize {
				return nil, d.fail("open archive", fmt.Errorf("%w: %w: %s is %d bytes", ErrLayout, snapshot.ErrTooSmall, dump, hdr.Size))
			}
			d.size, d.modTime = hdr.Size, hdr.ModTime
			return d, nil
		case member == dump || strings.TrimSuffix(member, "/") == canon:
			return nil, d.fail("open archive", fmt.Errorf("%w: member %q is a %s", ErrLayout, hdr.Name, typeName(hdr.Typeflag)))
		default:
			return nil, d.fail("open archive", fmt.Errorf("%w: unexpected member %q (%s), want only %s", ErrLayout, hdr.Name, typeName(hdr.Typeflag), dump))
		}
	}
}

// checkPath rejects absolute and upward paths.
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty name")
	}
	if path.IsAbs(p) || strings.HasPrefix(p, `\`) {
		return errors.New("absolute path")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return errors.New(`path with ".."`)
		}
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeXGlobalHeader:
		return "pax global header"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("tar type %q", t)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

// Read reads from the underlying reader and counts.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

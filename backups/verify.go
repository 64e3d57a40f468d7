package backups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ncnpush/ncnpush/snapshot"
)

// VerifyResult is what [Client.Verify] found.
type VerifyResult struct {
	// Backup is the verified backup.
	Backup Backup `json:"backup"`
	// DumpSize is the size of etcd-dump.bin in bytes.
	DumpSize int64 `json:"dumpSize"`
	// SHA256 is the hex sha256 of etcd-dump.bin (what sha256sum prints).
	SHA256 string `json:"sha256"`
	// CompressedBytes is the number of bytes downloaded.
	CompressedBytes int64 `json:"compressedBytes"`
	// Snapshot holds the bbolt statistics of the dump (revision, key counts).
	Snapshot snapshot.Status `json:"snapshot"`
	// Duration is how long the verification took.
	Duration time.Duration `json:"duration"`
}

// memoryReserve is memory left to everything else when Verify sizes its
// in-memory copy against MemAvailable.
const memoryReserve = 256 << 20

// Verify downloads backup b and checks all of it: the archive layout, the
// dump's size limit, its appended sha256, the gzip and tar ends, and then
// opens the dump with bbolt for its statistics (package snapshot's Stat).
// Nothing is written to disk.
//
// Memory: bbolt needs a file, so the dump is copied into an anonymous
// memory file (memfd_create on Linux). It costs the dump's size in RAM
// (shared memory, charged to the process's cgroup) until Verify returns;
// Verify refuses a dump larger than MemAvailable minus 256 MiB (ErrTooLarge)
// before downloading it. Outside Linux an unlinked temporary file is used.
//
// On failure the result holds what was learnt before it.
func (c *Client) Verify(ctx context.Context, b Backup) (VerifyResult, error) {
	start := time.Now()
	res := VerifyResult{Backup: b}
	d, err := c.Open(ctx, b, OpenOptions{})
	if err != nil {
		return res, err
	}
	defer d.Close()
	res.DumpSize = d.Size()
	key, _ := c.key(b)

	if avail, ok := memAvailable(); ok && d.Size() > avail-memoryReserve {
		return res, c.wrap("verify", key, fmt.Errorf("%w: the dump needs %d bytes of memory, %d are available", ErrTooLarge, d.Size(), avail))
	}
	f, path, err := scratchFile(d.Name())
	if err != nil {
		return res, c.wrap("verify", key, fmt.Errorf("memory file: %w", err))
	}
	defer f.Close()

	_, err = io.Copy(f, d)
	res.CompressedBytes = d.CompressedBytes()
	if err != nil {
		return res, err
	}
	res.SHA256 = d.HexSum()
	st, err := snapshot.Stat(path)
	res.Snapshot = st
	if err != nil {
		err = &renamed{err: err, old: path, new: DumpFile + " (in memory)"}
	}
	res.Duration = time.Since(start)
	switch {
	case errors.Is(err, snapshot.ErrCorrupt):
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	case err != nil:
		// Not a bbolt database, no "key" bucket, too small: not an etcd snapshot.
		err = fmt.Errorf("%w: %w", ErrLayout, err)
	}
	if err != nil {
		return res, c.wrap("verify", key, err)
	}
	c.log.Info("verified backup", "key", key, "dump_size", res.DumpSize, "sha256", res.SHA256,
		"revision", st.Revision, "live_keys", st.LiveKeys, "duration", res.Duration)
	return res, nil
}

// renamed replaces a name in an error's text, and keeps its chain.
type renamed struct {
	err      error
	old, new string
}

// Error returns the wrapped error's text with the name replaced.
func (r *renamed) Error() string { return strings.ReplaceAll(r.err.Error(), r.old, r.new) }

// Unwrap returns the wrapped error.
func (r *renamed) Unwrap() error { return r.err }

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// Package backups is the S3 catalogue of etcd backups that CSM's CronJob
// kube-etcdbackup writes to Ceph RGW: list, select, stream (gzip → tar →
// dump, with sha256 and snapshot checks), verify, upload, prune.
//
// A backup is the object `<prefix>etcd-backup-YYYY-MM-DD-HH-MM-SS.tar.gz`
// (UTC) in bucket etcd-backup, prefix bare-metal/. The archive holds the
// directory `etcd-backup-<ts>/` with one file, `etcd-dump.bin`: an etcd v3
// snapshot (see package snapshot).
//
// The client is made for Ceph RGW: path-style addressing, any region, no
// optional integrity-checksum headers (older RGW rejects them), no instance
// metadata lookups, and an endpoint that must be given: it never talks to
// AWS by default.
//
// # Streaming and checks
//
// [Client.Open] (and [OpenArchive] on any reader) streams the dump out of
// the archive without touching disk: S3 body → gzip → tar → [Dump], an
// io.Reader whose size is known from the tar header before the first byte.
// The layout is checked up front; the dump's appended sha256, the end of the
// tar and of the gzip stream are checked as the last bytes are read.
// [Client.Verify] does all that and also opens the dump with bbolt, from an
// anonymous in-memory file (memfd): it costs the dump's size in RAM.
//
// # Timeouts
//
// ClientOptions.Timeout bounds every wait on the network (connect, TLS,
// response headers, a download that receives nothing, sent data that is not
// acknowledged) but not a transfer that keeps moving: give the context a
// deadline for that. Failed requests are retried (3 times by default) with
// exponential back-off of at most 5 seconds.
//
// # Errors
//
// Errors are one line naming the action and s3://bucket/key (and the
// endpoint), never a secret, and wrap one of the sentinels (ErrEndpoint,
// ErrAccessDenied, ErrNoSuchBucket, ErrNoSuchBackup, ErrLayout, ErrCorrupt,
// ErrTruncated, ErrHashMismatch, ErrTooLarge, ErrTimeout, ...) for errors.Is.
package backups

package backups

import (
	"fmt"
	"strings"
	"time"
)

// Names, as the CSM CronJob kube-etcdbackup makes them.
const (
	// NamePrefix starts every backup name.
	NamePrefix = "etcd-backup-"
	// TimeLayout is the backup timestamp: `date '+%Y-%m-%d-%H-%M-%S'`, UTC.
	TimeLayout = "2006-01-02-15-04-05"
	// ObjectSuffix ends every backup object key.
	ObjectSuffix = ".tar.gz"
	// DumpFile is the one file inside the archive's directory.
	DumpFile = "etcd-dump.bin"
	// DefaultBucket is the bucket CSM writes to.
	DefaultBucket = "etcd-backup"
	// DefaultPrefix is the key prefix of the bare-metal etcd's backups.
	DefaultPrefix = "bare-metal/"
)

// Backup is one backup object.
type Backup struct {
	// Key is the object key, e.g. "bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz".
	Key string `json:"key"`
	// Name is the canonical name, e.g. "etcd-backup-2024-05-01-10-20-30":
	// also the directory inside the archive.
	Name string `json:"name"`
	// Time is the timestamp in the name (UTC): when the backup was taken.
	Time time.Time `json:"time"`
	// Size is the object's size in bytes (compressed).
	Size int64 `json:"size"`
	// LastModified is when S3 stored the object.
	LastModified time.Time `json:"lastModified"`
	// ETag is the object's entity tag as S3 reports it (quotes included).
	ETag string `json:"etag"`
}

// NameFor returns the backup name for time t (converted to UTC, truncated
// to the second): "etcd-backup-YYYY-MM-DD-HH-MM-SS".
func NameFor(t time.Time) string {
	return NamePrefix + t.UTC().Format(TimeLayout)
}

// KeyFor returns the object key of a backup name under prefix: prefix +
// name + ".tar.gz". name may be in any form [ParseName] accepts.
func KeyFor(prefix, name string) (string, error) {
	n, _, err := ParseName(name)
	if err != nil {
		return "", err
	}
	return prefix + n + ObjectSuffix, nil
}

// ParseName parses a backup name in any of these forms:
//
//	etcd-backup-2024-05-01-10-20-30
//	etcd-backup-2024-05-01-10-20-30.tar.gz
//	bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz  (any key prefix)
//	bare-metal/etcd-backup-2024-05-01-10-20-30
//
// The timestamp must be exactly YYYY-MM-DD-HH-MM-SS, a real UTC date and
// time with two-digit fields. It returns the canonical name
// ("etcd-backup-<ts>") and the time. Errors wrap [ErrInvalidName].
func ParseName(s string) (name string, t time.Time, err error) {
	base := s
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ObjectSuffix)
	ts, ok := strings.CutPrefix(base, NamePrefix)
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w %q: want %sYYYY-MM-DD-HH-MM-SS", ErrInvalidName, s, NamePrefix)
	}
	t, err = parseStamp(ts)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w %q: %v", ErrInvalidName, s, err)
	}
	return NamePrefix + ts, t, nil
}

// parseStamp parses YYYY-MM-DD-HH-MM-SS strictly: the value must print back
// to the very same string (time.Parse alone accepts e.g. one-digit fields in
// some layouts and leap seconds).
func parseStamp(ts string) (time.Time, error) {
	if len(ts) != len(TimeLayout) {
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD-HH-MM-SS", ts)
	}
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if TimeLayout[i] == '-' {
			if c != '-' {
				return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD-HH-MM-SS", ts)
			}
		} else if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD-HH-MM-SS", ts)
		}
	}
	t, err := time.Parse(TimeLayout, ts)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %v", ts, err)
	}
	if t.Format(TimeLayout) != ts {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid time", ts)
	}
	return t, nil
}

// timeForms are the layouts [ParseTime] accepts, all but RFC 3339 in UTC.
var timeForms = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	TimeLayout,
}

// ParseTime parses a point in time given on the command line (--before). It
// accepts RFC 3339 ("2024-05-01T10:20:30Z", "2024-05-01T12:20:30+02:00"),
// "2024-05-01T10:20:30", "2024-05-01 10:20:30", "2024-05-01T10:20",
// "2024-05-01 10:20", "2024-05-01", the backup timestamp
// "2024-05-01-10-20-30", and a backup name in any form [ParseName] accepts.
// Forms without a zone are UTC, as backup names are. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeForms {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if _, t, err := ParseName(s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339, YYYY-MM-DD, \"YYYY-MM-DD HH:MM[:SS]\" (UTC) or YYYY-MM-DD-HH-MM-SS", s)
}

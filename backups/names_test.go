package backups

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	want := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)
	for _, s := range []string{
		"etcd-backup-2024-05-01-10-20-30",
		"etcd-backup-2024-05-01-10-20-30.tar.gz",
		"bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz",
		"bare-metal/etcd-backup-2024-05-01-10-20-30",
		"some/other/prefix/etcd-backup-2024-05-01-10-20-30.tar.gz",
	} {
		name, tm, err := ParseName(s)
		if err != nil || name != "etcd-backup-2024-05-01-10-20-30" || !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("ParseName(%q) = %q, %v, %v", s, name, tm, err)
		}
	}
	for _, s := range []string{
		"", "etcd-backup-", "etcd-backup-2024-05-01", "etcd-backup-2024-05-01-10-20",
		"etcd-backup-2024-5-01-10-20-30", "etcd-backup-2024-05-01-10-20-3",
		"etcd-backup-2024-13-01-10-20-30", "etcd-backup-2024-02-30-10-20-30",
		"etcd-backup-2024-05-01-24-00-00", "etcd-backup-2024-05-01-10-60-00",
		"etcd-backup-2024-05-01-10-20-60", "etcd-backup-2024-05-01T10-20-30",
		"etcd-backup-2024-05-01-10-20-30.tar", "etcd-backup-2024-05-01-10-20-30.tgz",
		"etcd-backup-2024-05-01-10-20-30.tar.gz.tar.gz", "etcd-backup-2024-05-01-10-20-30/",
		"etcd-backup-+024-05-01-10-20-30", "etcd-backup-2024-05-01-10-20-30x",
		"xetcd-backup-2024-05-01-10-20-30", "etcd-backup-2024-05-01-10-20-30 ",
		"etcd-backup-２０２４-05-01-10-20-30",
	} {
		if _, _, err := ParseName(s); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ParseName(%q) = %v, want ErrInvalidName", s, err)
		}
	}
	// Leap day exists in 2024, not 2023.
	if _, _, err := ParseName("etcd-backup-2024-02-29-00-00-00"); err != nil {
		t.Error(err)
	}
	if _, _, err := ParseName("etcd-backup-2023-02-29-00-00-00"); err == nil {
		t.Error("2023-02-29 accepted")
	}
}

func TestNameForAndKeyFor(t *testing.T) {
	tm := time.Date(2024, 5, 1, 12, 20, 30, 999, time.FixedZone("CEST", 2*3600))
	if got := NameFor(tm); got != "etcd-backup-2024-05-01-10-20-30" {
		t.Fatalf("NameFor = %q", got)
	}
	k, err := KeyFor("bare-metal/", "etcd-backup-2024-05-01-10-20-30")
	if err != nil || k != "bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz" {
		t.Fatalf("KeyFor = %q, %v", k, err)
	}
	if _, err := KeyFor("bare-metal/", "nope"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("KeyFor(nope) = %v", err)
	}
}

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	cases := map[string]time.Time{
		"2024-05-01T10:20:30Z":            utc(2024, 5, 1, 10, 20, 30),
		"2024-05-01T12:20:30+02:00":       utc(2024, 5, 1, 10, 20, 30),
		"2024-05-01T10:20:30":             utc(2024, 5, 1, 10, 20, 30),
		"2024-05-01 10:20:30":             utc(2024, 5, 1, 10, 20, 30),
		"2024-05-01T10:20":                utc(2024, 5, 1, 10, 20, 0),
		"2024-05-01 10:20":                utc(2024, 5, 1, 10, 20, 0),
		"2024-05-01":                      utc(2024, 5, 1, 0, 0, 0),
		" 2024-05-01 ":                    utc(2024, 5, 1, 0, 0, 0),
		"2024-05-01-10-20-30":             utc(2024, 5, 1, 10, 20, 30),
		"etcd-backup-2024-05-01-10-20-30": utc(2024, 5, 1, 10, 20, 30),
		"bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz": utc(2024, 5, 1, 10, 20, 30),
	}
	for s, want := range cases {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "yesterday", "2024-13-01", "2024-05-01 25:00", "01/05/2024", "1714558830"} {
		if _, err := ParseTime(s); err == nil || !strings.Contains(err.Error(), "invalid time") {
			t.Errorf("ParseTime(%q) = %v, want an error", s, err)
		}
	}
}

// FuzzParseName: ParseName never panics, and what it accepts round-trips
// through the canonical form.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"etcd-backup-2024-05-01-10-20-30",
		"bare-metal/etcd-backup-2024-05-01-10-20-30.tar.gz",
		"etcd-backup-2024-02-29-23-59-59.tar.gz",
		"etcd-backup-9999-12-31-23-59-59",
		"etcd-backup-0000-01-01-00-00-00",
		"etcd-backup-2024-05-01-10-20-3",
		"/etcd-backup-2024-05-01-10-20-30",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, tm, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error without ErrInvalidName: %v", err)
			}
			return
		}
		if NameFor(tm) != name {
			t.Fatalf("ParseName(%q) = %q, but NameFor(%v) = %q", s, name, tm, NameFor(tm))
		}
		name2, tm2, err := ParseName(name)
		if err != nil || name2 != name || !tm2.Equal(tm) {
			t.Fatalf("canonical %q does not parse back: %q %v %v", name, name2, tm2, err)
		}
		key, err := KeyFor(DefaultPrefix, s)
		if err != nil || key != DefaultPrefix+name+ObjectSuffix {
			t.Fatalf("KeyFor(%q) = %q, %v", s, key, err)
		}
		if !strings.HasSuffix(strings.TrimSuffix(s, ObjectSuffix), name) {
			t.Fatalf("%q accepted as %q", s, name)
		}
	})
}

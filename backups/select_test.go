package backups

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// synthetic makes backups under prefix, one per time given as offsets in
// minutes from base, newest first.
func synthetic(prefix string, base time.Time, minutes ...int) []Backup {
	var bs []Backup
	for _, m := range minutes {
		t := base.Add(time.Duration(m) * time.Minute)
		name := NameFor(t)
		bs = append(bs, Backup{Key: prefix + name + ObjectSuffix, Name: name, Time: t.UTC().Truncate(time.Second)})
	}
	SortNewestFirst(bs)
	return bs
}

var base = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func TestSelect(t *testing.T) {
	bs := synthetic("bare-metal/", base, 0, 10, 20, 30, 40, 50, 60)

	got, err := Select(bs, Selector{Name: "latest"})
	if err != nil || got.Name != "etcd-backup-2024-05-01-11-00-00" {
		t.Fatalf("latest = %v, %v", got.Name, err)
	}
	if got2, _ := Select(bs, Selector{}); got2 != got {
		t.Fatal("empty name is not latest")
	}
	if got2, _ := Select(bs, Selector{Name: "LATEST"}); got2 != got {
		t.Fatal("LATEST is not latest")
	}

	for _, name := range []string{
		"etcd-backup-2024-05-01-10-20-00",
		"etcd-backup-2024-05-01-10-20-00.tar.gz",
		"bare-metal/etcd-backup-2024-05-01-10-20-00.tar.gz",
		"bare-metal/etcd-backup-2024-05-01-10-20-00",
	} {
		got, err := Select(bs, Selector{Name: name})
		if err != nil || got.Key != "bare-metal/etcd-backup-2024-05-01-10-20-00.tar.gz" {
			t.Errorf("Select(%q) = %v, %v", name, got.Key, err)
		}
	}

	// Before: strictly earlier.
	got, err = Select(bs, Selector{Before: base.Add(30 * time.Minute)})
	if err != nil || got.Name != "etcd-backup-2024-05-01-10-20-00" {
		t.Fatalf("before 10:30 = %v, %v", got.Name, err)
	}
	got, err = Select(bs, Selector{Name: "latest", Before: base.Add(35 * time.Minute)})
	if err != nil || got.Name != "etcd-backup-2024-05-01-10-30-00" {
		t.Fatalf("before 10:35 = %v, %v", got.Name, err)
	}
	got, err = Select(bs, Selector{Before: base.Add(24 * time.Hour)})
	if err != nil || got.Name != "etcd-backup-2024-05-01-11-00-00" {
		t.Fatalf("before tomorrow = %v, %v", got.Name, err)
	}
}

func TestSelectErrors(t *testing.T) {
	bs := synthetic("bare-metal/", base, 0, 10, 20, 30, 40, 50, 60)
	cases := []struct {
		name string
		sel  Selector
		want []string // substrings of the message
	}{
		{"missing name", Selector{Name: "etcd-backup-2024-05-01-10-25-00"},
			[]string{"etcd-backup-2024-05-01-10-25-00", "no such backup", "nearest: etcd-backup-2024-05-01-10-10-00, etcd-backup-2024-05-01-10-20-00, etcd-backup-2024-05-01-10-30-00"}},
		{"missing far in the future", Selector{Name: "etcd-backup-2025-01-01-00-00-00"},
			[]string{"nearest: etcd-backup-2024-05-01-10-40-00, etcd-backup-2024-05-01-10-50-00, etcd-backup-2024-05-01-11-00-00"}},
		{"nothing before", Selector{Before: base},
			[]string{"latest before 2024-05-01T10:00:00Z", "none is older", "nearest: etcd-backup-2024-05-01-10-00-00, etcd-backup-2024-05-01-10-10-00, etcd-backup-2024-05-01-10-20-00"}},
		{"other prefix", Selector{Name: "other-cluster/etcd-backup-2024-05-01-10-20-00.tar.gz"},
			[]string{"no such backup", "nearest: etcd-backup-2024-05-01-10-10-00, etcd-backup-2024-05-01-10-20-00, etcd-backup-2024-05-01-10-30-00"}},
		{"invalid name", Selector{Name: "etcd-backup-yesterday"}, []string{"invalid backup name", "no such backup"}},
	}
	for _, c := range cases {
		_, err := Select(bs, c.sel)
		if !errors.Is(err, ErrNoSuchBackup) {
			t.Errorf("%s: Select = %v, want ErrNoSuchBackup", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line message", c.name)
		}
	}
	if _, err := Select(bs, Selector{Name: "etcd-backup-yesterday"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("invalid name: %v lacks ErrInvalidName", err)
	}
	if _, err := Select(nil, Selector{}); !errors.Is(err, ErrNoSuchBackup) || !strings.Contains(err.Error(), "no backups") {
		t.Errorf("empty list: %v", err)
	}
	if _, err := Select(bs, Selector{Name: bs[0].Name, Before: base}); err == nil || errors.Is(err, ErrNoSuchBackup) {
		t.Errorf("name and before: %v", err)
	}
}

func TestSelectAmbiguous(t *testing.T) {
	// The same name under two prefixes (a list that spans prefixes), and two
	// keys sharing the newest time.
	bs := append(synthetic("bare-metal/", base, 0, 10), synthetic("copy/", base, 10)...)
	SortNewestFirst(bs)
	_, err := Select(bs, Selector{Name: "etcd-backup-2024-05-01-10-10-00"})
	if !errors.Is(err, ErrNoSuchBackup) || !strings.Contains(err.Error(), "ambiguous") ||
		!strings.Contains(err.Error(), "copy/etcd-backup-2024-05-01-10-10-00.tar.gz") {
		t.Fatalf("ambiguous name: %v", err)
	}
	_, err = Select(bs, Selector{Name: "latest"})
	if !errors.Is(err, ErrNoSuchBackup) || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous latest: %v", err)
	}
	// With the prefix it is unique.
	got, err := Select(bs, Selector{Name: "copy/etcd-backup-2024-05-01-10-10-00"})
	if err != nil || got.Key != "copy/etcd-backup-2024-05-01-10-10-00.tar.gz" {
		t.Fatalf("with prefix: %v %v", got, err)
	}
}

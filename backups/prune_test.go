package backups

import (
	"slices"
	"testing"
	"time"
)

func names(bs []Backup) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Time.Format("01-02T15:04")
	}
	return out
}

func TestPruneTable(t *testing.T) {
	day := func(d, h, m int) int { return (d*24+h)*60 + m } // minutes from base (2024-05-01 10:00 UTC)
	cases := []struct {
		name    string
		minutes []int
		policy  Policy
		now     time.Time
		keep    []string
	}{
		{
			name:    "keep last only",
			minutes: []int{0, 10, 20, 30, 40},
			policy:  Policy{KeepLast: 2},
			keep:    []string{"05-01T10:40", "05-01T10:30"},
		},
		{
			name:    "zero policy keeps the newest",
			minutes: []int{0, 10, 20},
			policy:  Policy{},
			keep:    []string{"05-01T10:20"},
		},
		{
			name:    "negative counts are off",
			minutes: []int{0, 10, 20},
			policy:  Policy{KeepLast: -5, KeepHourly: -1, KeepDaily: -1},
			keep:    []string{"05-01T10:20"},
		},
		{
			name: "hourly keeps the newest of each recent hour",
			// 10:00 10:30 10:50 | 11:10 11:40 | 12:05
			minutes: []int{0, 30, 50, 70, 100, 125},
			policy:  Policy{KeepLast: 1, KeepHourly: 2},
			keep:    []string{"05-01T12:05", "05-01T11:40"},
		},
		{
			name:    "hourly counts only hours with backups",
			minutes: []int{0, 50, day(0, 5, 0), day(0, 9, 0)}, // 10:00 10:50 15:00 19:00
			policy:  Policy{KeepHourly: 3},
			keep:    []string{"05-01T19:00", "05-01T15:00", "05-01T10:50"},
		},
		{
			name:    "daily keeps the newest of each recent UTC day",
			minutes: []int{0, 600, day(1, 0, 0), day(1, 1, 0), day(2, 3, 0), day(3, 0, 0)},
			policy:  Policy{KeepLast: 1, KeepDaily: 3},
			// days: 05-01 (10:00, 20:00), 05-02 (10:00, 11:00), 05-03 13:00, 05-04 10:00
			keep: []string{"05-04T10:00", "05-03T13:00", "05-02T11:00"},
		},
		{
			name:    "rules overlap",
			minutes: []int{0, 10, 20, 70, 80, day(1, 0, 0)},
			policy:  Policy{KeepLast: 2, KeepHourly: 2, KeepDaily: 2},
			// last 2: 05-02T10:00, 05-01T11:20; hours: 05-02T10 → 10:00, 05-01T11 → 11:20; days: 05-02 → 10:00, 05-01 → 11:20
			keep: []string{"05-02T10:00", "05-01T11:20"},
		},
		{
			name:    "backups from the future are kept",
			minutes: []int{0, 10, 20, day(5, 0, 0)},
			policy:  Policy{KeepLast: 1},
			now:     base.Add(30 * time.Minute),
			keep:    []string{"05-06T10:00"},
		},
		{
			name:    "future backup does not shield older ones from KeepLast",
			minutes: []int{0, 10, day(5, 0, 0)},
			policy:  Policy{KeepLast: 2},
			now:     base.Add(20 * time.Minute),
			keep:    []string{"05-06T10:00", "05-01T10:10"},
		},
		{
			name:    "empty",
			minutes: nil,
			policy:  DefaultPolicy,
			keep:    nil,
		},
	}
	for _, c := range cases {
		now := c.now
		if now.IsZero() {
			now = base.Add(365 * 24 * time.Hour)
		}
		bs := synthetic("bare-metal/", base, c.minutes...)
		// Input order must not matter.
		slices.Reverse(bs)
		keep, drop := Prune(bs, c.policy, now)
		if !slices.Equal(names(keep), c.keep) {
			t.Errorf("%s: keep %v, want %v", c.name, names(keep), c.keep)
		}
		if len(keep)+len(drop) != len(bs) {
			t.Errorf("%s: %d kept + %d dropped != %d", c.name, len(keep), len(drop), len(bs))
		}
		for _, d := range drop {
			if slices.Contains(keep, d) {
				t.Errorf("%s: %s both kept and dropped", c.name, d.Name)
			}
		}
	}
}

// TestPruneCSMSteadyState: backups every 10 minutes for 60 days under the CSM
// policy keep 144 recent + 168 hourly + 30 daily, minus the overlaps.
func TestPruneCSMSteadyState(t *testing.T) {
	var minutes []int
	for m := 0; m < 60*24*60; m += 10 {
		minutes = append(minutes, m)
	}
	bs := synthetic("bare-metal/", base, minutes...)
	now := bs[0].Time.Add(time.Minute)
	keep, drop := Prune(bs, DefaultPolicy, now)
	// The newest backup is 06-30 09:50. 144 recent = the last 24 hours
	// (06-29 10:00 on). Hourly: the :50 backups of 168 hours (06-23 10:00
	// on), the last 24 of them already kept. Daily: the 23:50 backups of 30
	// days; those of 06-23 .. 06-29, and 06-30 09:50, are already kept.
	hourlyOnly := 168 - 24
	dailyOnly := 30 - 8
	want := 144 + hourlyOnly + dailyOnly
	if len(keep) != want {
		t.Fatalf("kept %d, want %d (dropped %d)", len(keep), want, len(drop))
	}
	if keep[0] != bs[0] {
		t.Fatal("newest not kept")
	}
	// Applying the policy again drops nothing more.
	keep2, drop2 := Prune(keep, DefaultPolicy, now)
	if len(drop2) != 0 || len(keep2) != len(keep) {
		t.Fatalf("not idempotent: second pass drops %d", len(drop2))
	}
}

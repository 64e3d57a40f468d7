package backups

import (
	"slices"
	"time"
)

// Policy says which backups [Prune] keeps. Each rule keeps some backups; a
// backup is kept when any rule keeps it. A zero or negative count turns its
// rule off.
type Policy struct {
	// KeepLast keeps the newest KeepLast backups (CSM: 144, one day of
	// 10-minute backups).
	KeepLast int `json:"keepLast"`
	// KeepHourly keeps the newest backup of each of the KeepHourly most recent
	// distinct UTC hours that have backups (CSM: 168, one week).
	KeepHourly int `json:"keepHourly"`
	// KeepDaily keeps the newest backup of each of the KeepDaily most recent
	// distinct UTC days that have backups (CSM: 30).
	KeepDaily int `json:"keepDaily"`
}

// DefaultPolicy is the retention CSM describes: 144 recent, 168 hourly and
// 30 daily backups.
var DefaultPolicy = Policy{KeepLast: 144, KeepHourly: 168, KeepDaily: 30}

// Prune splits backups into those the policy keeps and those it drops, both
// newest first. It is a pure function: it deletes nothing.
//
// Rules, applied to the backups sorted newest first:
//   - the newest KeepLast backups are kept;
//   - the hours (UTC) that hold backups are taken newest first, and in each of
//     the first KeepHourly of them the newest backup is kept;
//   - the same with calendar days (UTC) and KeepDaily.
//
// Hours and days without a backup do not count: after an outage of a week,
// KeepHourly still keeps 168 hourly backups, from before the outage.
//
// Two safety rules override the policy: the newest backup is always kept
// (even with a zero Policy), and so is every backup dated after now (a clock
// ahead of ours made it; it is not ours to judge).
func Prune(backups []Backup, p Policy, now time.Time) (keep, drop []Backup) {
	bs := slices.Clone(backups)
	SortNewestFirst(bs)

	kept := make([]bool, len(bs))
	for i := range min(max(p.KeepLast, 1), len(bs)) {
		kept[i] = true
	}
	bucketRule(bs, kept, p.KeepHourly, func(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) })
	bucketRule(bs, kept, p.KeepDaily, func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	})
	for i, b := range bs {
		if b.Time.After(now) {
			kept[i] = true
		}
	}
	for i, b := range bs {
		if kept[i] {
			keep = append(keep, b)
		} else {
			drop = append(drop, b)
		}
	}
	return keep, drop
}

// bucketRule marks the newest backup of each of the n most recent buckets
// (hours, days). bs is sorted newest first.
func bucketRule(bs []Backup, kept []bool, n int, bucket func(time.Time) time.Time) {
	if n <= 0 {
		return
	}
	var last time.Time
	seen := 0
	for i, b := range bs {
		k := bucket(b.Time)
		if seen > 0 && k.Equal(last) {
			continue
		}
		if seen == n {
			return
		}
		seen++
		last = k
		kept[i] = true
	}
}

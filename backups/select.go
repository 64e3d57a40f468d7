package backups

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Latest is the [Selector] name that picks the newest backup.
const Latest = "latest"

// Selector says which backup [Select] picks.
type Selector struct {
	// Name is "latest" (or empty: the same) for the newest backup, or one
	// backup's name in any form ParseName accepts. A name with a key prefix
	// ("bare-metal/etcd-backup-...") must match the object key exactly; a bare
	// name matches the backup's Name.
	Name string
	// Before, when not zero, restricts "latest" to backups taken strictly
	// before this time. It cannot be combined with a specific Name.
	Before time.Time
}

// String describes the selector for messages.
func (s Selector) String() string {
	name := s.Name
	if name == "" {
		name = Latest
	}
	if s.Before.IsZero() {
		return name
	}
	return fmt.Sprintf("%s before %s", name, s.Before.UTC().Format(time.RFC3339))
}

// Select picks one backup. It never falls back to another backup than the
// one asked for: a name that is not there, "latest" with nothing before
// Before, or a match that is not unique all return an error wrapping
// [ErrNoSuchBackup] that lists the (up to) 3 backups nearest in time. An
// unparsable Name wraps both ErrNoSuchBackup and [ErrInvalidName].
func Select(backups []Backup, sel Selector) (Backup, error) {
	if len(backups) == 0 {
		return Backup{}, fmt.Errorf("select backup %s: %w: there are no backups", sel, ErrNoSuchBackup)
	}
	if sel.Name == "" || strings.EqualFold(sel.Name, Latest) {
		return selectLatest(backups, sel)
	}
	if !sel.Before.IsZero() {
		return Backup{}, fmt.Errorf("select backup %s: a backup name and a time to select before exclude each other", sel)
	}
	name, t, err := ParseName(sel.Name)
	if err != nil {
		return Backup{}, fmt.Errorf("select backup: %w: %w", ErrNoSuchBackup, err)
	}
	var matches []Backup
	withPrefix := strings.Contains(sel.Name, "/")
	for _, b := range backups {
		if withPrefix {
			key := sel.Name
			if !strings.HasSuffix(key, ObjectSuffix) {
				key += ObjectSuffix
			}
			if b.Key == key {
				matches = append(matches, b)
			}
		} else if b.Name == name {
			matches = append(matches, b)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return Backup{}, fmt.Errorf("select backup %s: %w; nearest: %s", sel.Name, ErrNoSuchBackup, nearest(backups, t, 3))
	default:
		return Backup{}, fmt.Errorf("select backup %s: %w: it is ambiguous, matching %s", sel.Name, ErrNoSuchBackup, keys(matches))
	}
}

func selectLatest(backups []Backup, sel Selector) (Backup, error) {
	var best []Backup
	for _, b := range backups {
		if !sel.Before.IsZero() && !b.Time.Before(sel.Before) {
			continue
		}
		switch {
		case len(best) == 0 || b.Time.After(best[0].Time):
			best = []Backup{b}
		case b.Time.Equal(best[0].Time):
			best = append(best, b)
		}
	}
	switch len(best) {
	case 1:
		return best[0], nil
	case 0:
		return Backup{}, fmt.Errorf("select backup %s: %w: none is older; nearest: %s", sel, ErrNoSuchBackup, nearest(backups, sel.Before, 3))
	default:
		return Backup{}, fmt.Errorf("select backup %s: %w: it is ambiguous, %d backups share the time %s: %s",
			sel, ErrNoSuchBackup, len(best), best[0].Time.Format(TimeLayout), keys(best))
	}
}

// nearest lists the names of the n backups nearest to t, oldest first.
func nearest(backups []Backup, t time.Time, n int) string {
	bs := slices.Clone(backups)
	dist := func(b Backup) time.Duration {
		d := b.Time.Sub(t)
		if d < 0 {
			d = -d
		}
		return d
	}
	slices.SortStableFunc(bs, func(a, b Backup) int {
		if c := compareDuration(dist(a), dist(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	bs = bs[:min(n, len(bs))]
	slices.SortFunc(bs, func(a, b Backup) int { return a.Time.Compare(b.Time) })
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Name
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func keys(bs []Backup) string {
	ks := make([]string, len(bs))
	for i, b := range bs {
		ks[i] = b.Key
	}
	return strings.Join(ks, ", ")
}

func compareDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SortNewestFirst sorts backups by time, newest first; equal times by key,
// descending.
func SortNewestFirst(bs []Backup) {
	slices.SortStableFunc(bs, func(a, b Backup) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Key, a.Key)
	})
}

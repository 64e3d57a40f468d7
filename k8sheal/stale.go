package k8sheal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // .spec.timeZone must resolve wherever ncnpush runs

	"github.com/robfig/cron/v3"

	"github.com/ncnpush/ncnpush/output"
)

// DefaultStaleFactor is F: a CronJob is stuck when its last schedule is
// older than F times the interval its schedule implies.
const DefaultStaleFactor = 2.0

// ErrSchedule is matched (errors.Is) when a CronJob's schedule or time zone
// cannot be understood; such a CronJob is reported and never touched.
var ErrSchedule = errors.New("bad schedule")

// parser is the one the Kubernetes CronJob controller uses
// (cron.ParseStandard): five fields, plus descriptors such as @hourly and
// @every 5m, and a TZ= or CRON_TZ= prefix.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule parses a CronJob's schedule as the CronJob controller does: with
// .spec.timeZone, if set, as a TZ= prefix. Without a time zone (and without a
// TZ= prefix in the schedule) the schedule is read in UTC, the zone
// kube-controller-manager runs in on CSM masters.
func Schedule(schedule string, timeZone *string) (cron.Schedule, error) {
	spec := strings.TrimSpace(schedule)
	if timeZone != nil && *timeZone != "" {
		if _, err := time.LoadLocation(*timeZone); err != nil {
			return nil, fmt.Errorf("%w: time zone %q: %w", ErrSchedule, *timeZone, err)
		}
		spec = "TZ=" + *timeZone + " " + spec
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrSchedule, schedule, err)
	}
	if ss, ok := s.(*cron.SpecSchedule); ok && ss.Location == time.Local {
		ss.Location = time.UTC
	}
	return s, nil
}

// Staleness is the decision about one CronJob.
type Staleness struct {
	// Stuck is true when the CronJob is not suspended and its last
	// schedule is older than F × Interval (see [Stale]).
	Stuck bool `json:"stuck"`
	// Last is the last schedule time, or the creation time if the CronJob
	// was never scheduled (then Never is true).
	Last  time.Time `json:"last"`
	Never bool      `json:"never_scheduled,omitempty"`
	// Due is the first activation after Last: when the CronJob should
	// have run next.
	Due time.Time `json:"due"`
	// Interval is the time between Due and the activation after it: the
	// interval the schedule implies at that point.
	Interval time.Duration `json:"-"`
	// Deadline is when the CronJob counts as stuck: Due + (F-1) × Interval,
	// which is Last + F × Interval for a regular schedule.
	Deadline time.Time `json:"deadline"`
	// Age is now - Last.
	Age time.Duration `json:"-"`
}

// Stale decides whether cj is stuck at now with stale factor factor (F,
// at least 1). A CronJob is stuck when it is not suspended and its last
// schedule (its creation, if it was never scheduled) is older than F times
// the interval its schedule implies, the interval being the time between the
// next two activations after the last schedule.
//
// The deadline is measured from the first activation after the last
// schedule: Due + (F-1) × Interval. For a regular schedule (*/10, daily
// 10 23 * * *, weekly 0 0 * * 1) that is exactly Last + F × Interval; for an
// irregular one (0 9,17 * * 1-5) it does not call a CronJob stuck over a
// weekend when its next start is only due on Monday.
//
// A suspended CronJob is never stuck (Stuck false, the other fields filled
// in). A schedule that cannot be parsed, or never fires, is an error
// wrapping ErrSchedule.
func Stale(cj *CronJob, now time.Time, factor float64) (Staleness, error) {
	if factor < 1 {
		return Staleness{}, fmt.Errorf("stale factor %g: it must be at least 1", factor)
	}
	var st Staleness
	if cj.Status.LastScheduleTime != nil && !cj.Status.LastScheduleTime.IsZero() {
		st.Last = *cj.Status.LastScheduleTime
	} else {
		st.Last, st.Never = cj.Metadata.CreationTimestamp, true
	}
	if st.Last.IsZero() {
		return st, fmt.Errorf("%s: neither a last schedule time nor a creation time", cj.Key())
	}
	st.Last = st.Last.UTC()
	st.Age = now.Sub(st.Last)
	sched, err := Schedule(cj.Spec.Schedule, cj.Spec.TimeZone)
	if err != nil {
		return st, err
	}
	st.Due = sched.Next(st.Last)
	next := sched.Next(st.Due)
	if st.Due.IsZero() || next.IsZero() {
		return st, fmt.Errorf("%w: %q never fires", ErrSchedule, cj.Spec.Schedule)
	}
	st.Interval = next.Sub(st.Due)
	st.Deadline = st.Due.Add(time.Duration((factor - 1) * float64(st.Interval)))
	st.Stuck = !cj.Suspended() && now.After(st.Deadline)
	return st, nil
}

// MarshalJSON encodes s with Interval and Age in seconds (interval_s,
// age_s), like the durations of the run's report.
func (s Staleness) MarshalJSON() ([]byte, error) {
	type plain Staleness
	return json.Marshal(struct {
		plain
		IntervalS output.Duration `json:"interval_s"`
		AgeS      output.Duration `json:"age_s"`
	}{plain(s), output.Duration(s.Interval), output.Duration(s.Age)})
}

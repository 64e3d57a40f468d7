package k8sheal

import (
	"errors"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func cronJob(schedule string, last, created string) *CronJob {
	cj := &CronJob{Spec: CronJobSpec{Schedule: schedule}}
	cj.Metadata.Namespace, cj.Metadata.Name = "ns", "cj"
	cj.Metadata.CreationTimestamp = ts(created)
	if last != "" {
		cj.Status.LastScheduleTime = ptr(ts(last))
	}
	return cj
}

func TestStale(t *testing.T) {
	const created = "2026-01-01T00:00:00Z"
	tests := []struct {
		name     string
		schedule string
		tz       string
		suspend  bool
		last     string // "" never scheduled
		created  string // default created
		now      string
		factor   float64
		stuck    bool
		interval time.Duration
		due      string
	}{
		// Every minute: stuck once two starts are missed.
		{name: "*/1 just ran", schedule: "*/1 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:00:30Z", stuck: false, interval: time.Minute, due: "2026-12-01T10:01:00Z"},
		{name: "*/1 one start late", schedule: "*/1 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:01:59Z", stuck: false, interval: time.Minute},
		{name: "*/1 at the deadline", schedule: "*/1 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:02:00Z", stuck: false, interval: time.Minute},
		{name: "*/1 past the deadline", schedule: "*/1 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:02:01Z", stuck: true, interval: time.Minute},
		{name: "*/1 18m (runbook sonar-sync)", schedule: "*/1 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:18:00Z", stuck: true, interval: time.Minute},
		// Every 10 minutes (kube-etcdbackup).
		{name: "*/10 18m (runbook kube-etcdbackup, F=2)", schedule: "*/10 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:18:00Z", stuck: false, interval: 10 * time.Minute, due: "2026-12-01T10:10:00Z"},
		{name: "*/10 18m with F=1.5", schedule: "*/10 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:18:00Z", factor: 1.5, stuck: true, interval: 10 * time.Minute},
		{name: "*/10 21m", schedule: "*/10 * * * *", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:21:00Z", stuck: true, interval: 10 * time.Minute},
		// Daily at 23:10 (cray-sls-postgresql-db-backup): 24h interval.
		{name: "10 23 * * * ran yesterday", schedule: "10 23 * * *", last: "2026-11-30T23:10:00Z", now: "2026-12-01T23:15:00Z", stuck: false, interval: 24 * time.Hour, due: "2026-12-01T23:10:00Z"},
		{name: "10 23 * * * 21h ago (runbook)", schedule: "10 23 * * *", last: "2026-11-30T23:10:00Z", now: "2026-12-01T20:10:00Z", stuck: false, interval: 24 * time.Hour},
		{name: "10 23 * * * two days missed", schedule: "10 23 * * *", last: "2026-11-30T23:10:00Z", now: "2026-12-02T23:10:01Z", stuck: true, interval: 24 * time.Hour},
		// Weekly on Monday (spire-intermediate): 7 days, not 1.
		{name: "0 0 * * 1 six days", schedule: "0 0 * * 1", last: "2026-11-30T00:00:00Z", now: "2026-12-06T00:00:00Z", stuck: false, interval: 7 * 24 * time.Hour, due: "2026-12-07T00:00:00Z"},
		{name: "0 0 * * 1 thirteen days", schedule: "0 0 * * 1", last: "2026-11-30T00:00:00Z", now: "2026-12-13T23:59:59Z", stuck: false, interval: 7 * 24 * time.Hour},
		{name: "0 0 * * 1 two weeks missed", schedule: "0 0 * * 1", last: "2026-11-30T00:00:00Z", now: "2026-12-14T00:00:01Z", stuck: true, interval: 7 * 24 * time.Hour},
		// Never scheduled: judged from the creation time, from the first
		// start due after it.
		{name: "0 0 * * 1 never, created 23h ago (runbook spire-intermediate)", schedule: "0 0 * * 1", created: "2026-12-01T10:00:00Z", now: "2026-12-02T09:00:00Z", stuck: false, interval: 7 * 24 * time.Hour, due: "2026-12-07T00:00:00Z"},
		{name: "*/1 never, created 90s ago", schedule: "*/1 * * * *", created: "2026-12-01T10:00:30Z", now: "2026-12-01T10:02:00Z", stuck: false, interval: time.Minute, due: "2026-12-01T10:01:00Z"},
		{name: "*/1 never, created 10m ago", schedule: "*/1 * * * *", created: "2026-12-01T10:00:30Z", now: "2026-12-01T10:10:30Z", stuck: true, interval: time.Minute},
		// Suspended: never stuck.
		{name: "*/1 suspended long ago", schedule: "*/1 * * * *", suspend: true, last: "2026-11-01T10:00:00Z", now: "2026-12-01T10:00:00Z", stuck: false, interval: time.Minute},
		// Descriptors.
		{name: "@hourly", schedule: "@hourly", last: "2026-12-01T10:00:00Z", now: "2026-12-01T12:00:01Z", stuck: true, interval: time.Hour},
		{name: "@every 5m", schedule: "@every 5m", last: "2026-12-01T10:00:00Z", now: "2026-12-01T10:09:00Z", stuck: false, interval: 5 * time.Minute},
		// Irregular: weekdays at 9 and 17; not stuck over the weekend.
		{name: "weekdays Friday night to Saturday", schedule: "0 9,17 * * 1-5", last: "2026-11-27T17:00:00Z", now: "2026-11-28T12:00:00Z", stuck: false, interval: 8 * time.Hour, due: "2026-11-30T09:00:00Z"},
		{name: "weekdays Monday after both", schedule: "0 9,17 * * 1-5", last: "2026-11-27T17:00:00Z", now: "2026-11-30T17:00:01Z", stuck: true, interval: 8 * time.Hour},
		// A time zone: 02:30 in New York is 07:30 UTC in winter.
		{name: "timeZone America/New_York", schedule: "30 2 * * *", tz: "America/New_York", last: "2026-11-30T07:30:00Z", now: "2026-12-01T08:00:00Z", stuck: false, interval: 24 * time.Hour, due: "2026-12-01T07:30:00Z"},
		{name: "CRON_TZ in the schedule", schedule: "CRON_TZ=Asia/Tokyo 0 9 * * *", last: "2026-12-01T00:00:00Z", now: "2026-12-03T00:00:01Z", stuck: true, interval: 24 * time.Hour, due: "2026-12-02T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.created
			if c == "" {
				c = created
			}
			cj := cronJob(tc.schedule, tc.last, c)
			if tc.tz != "" {
				cj.Spec.TimeZone = ptr(tc.tz)
			}
			if tc.suspend {
				cj.Spec.Suspend = ptr(true)
			}
			f := tc.factor
			if f == 0 {
				f = DefaultStaleFactor
			}
			st, err := Stale(cj, ts(tc.now), f)
			if err != nil {
				t.Fatal(err)
			}
			if st.Stuck != tc.stuck {
				t.Errorf("stuck = %v, want %v (due %s, interval %s, deadline %s)", st.Stuck, tc.stuck, st.Due, st.Interval, st.Deadline)
			}
			if st.Interval != tc.interval {
				t.Errorf("interval = %s, want %s", st.Interval, tc.interval)
			}
			if tc.due != "" && !st.Due.Equal(ts(tc.due)) {
				t.Errorf("due = %s, want %s", st.Due, tc.due)
			}
			if st.Never != (tc.last == "") {
				t.Errorf("never = %v", st.Never)
			}
		})
	}
}

func TestStaleErrors(t *testing.T) {
	now := ts("2026-12-01T10:00:00Z")
	for _, tc := range []struct{ schedule, tz string }{
		{"not a schedule", ""},
		{"61 * * * *", ""},
		{"0 0 30 2 *", ""}, // February 30th never comes
		{"0 0 * * *", "Mars/Olympus_Mons"},
	} {
		cj := cronJob(tc.schedule, "2026-12-01T09:00:00Z", "2026-01-01T00:00:00Z")
		if tc.tz != "" {
			cj.Spec.TimeZone = ptr(tc.tz)
		}
		if _, err := Stale(cj, now, 2); !errors.Is(err, ErrSchedule) {
			t.Errorf("%q tz %q: err = %v, want ErrSchedule", tc.schedule, tc.tz, err)
		}
	}
	if _, err := Stale(cronJob("*/1 * * * *", "", "2026-01-01T00:00:00Z"), now, 0.5); err == nil {
		t.Error("factor 0.5 accepted")
	}
}

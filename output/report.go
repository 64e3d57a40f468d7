package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of a phase, or of a phase on one host.
type Status string

const (
	// StatusOK means it ran and succeeded.
	StatusOK Status = "ok"
	// StatusFailed means it ran and failed (or could not start).
	StatusFailed Status = "failed"
	// StatusSkipped means it did not run: ShouldRun said no, the host was not
	// selected by a "once" or a stopped "serial"/"batch" strategy, or an
	// earlier phase failed.
	StatusSkipped Status = "skipped"
	// StatusDryRun means it was only rendered and shown, under --dry-run.
	StatusDryRun Status = "dry-run"
)

// Duration is a time.Duration that encodes in JSON as a number of seconds,
// rounded to the millisecond.
type Duration time.Duration

// MarshalJSON encodes d as seconds, e.g. 1.25.
func (d Duration) MarshalJSON() ([]byte, error) {
	ms := time.Duration(d).Round(time.Millisecond).Milliseconds()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON decodes a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// String formats d like time.Duration, rounded for a person to read.
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t >= time.Minute:
		return t.Round(time.Second).String()
	case t >= time.Second:
		return t.Round(10 * time.Millisecond).String()
	default:
		return t.Round(time.Millisecond).String()
	}
}

// Report is the record of one run of an action: every phase and, within it,
// every host. It is what the summary table shows and what -o json prints.
type Report struct {
	// Action names what ran (a task name).
	Action string `json:"action"`
	// DryRun is true for a --dry-run.
	DryRun bool `json:"dry_run"`
	// Status is ok when every phase that had to run succeeded.
	Status Status `json:"status"`
	// Error is the error that stopped the run, if any.
	Error string `json:"error,omitempty"`
	// Started is when the run began.
	Started time.Time `json:"started"`
	// Duration is how long the whole run took.
	Duration Duration `json:"duration_s"`
	// Hosts are the hosts of the run, in inventory order.
	Hosts []string `json:"hosts"`
	// Phases are the phases of the action, in order, including those that
	// did not run.
	Phases []PhaseResult `json:"phases"`
}

// PhaseResult is one phase of a [Report].
type PhaseResult struct {
	// Index is the 1-based position of the phase in its action.
	Index int `json:"index"`
	// Title is the phase title.
	Title string `json:"title"`
	// Detail says how it ran, e.g. "parallel, 3 hosts".
	Detail string `json:"detail,omitempty"`
	// Status is the phase outcome.
	Status Status `json:"status"`
	// Duration is how long the phase took.
	Duration Duration `json:"duration_s"`
	// Error is why the phase failed.
	Error string `json:"error,omitempty"`
	// Note explains a skip or a dry-run.
	Note string `json:"note,omitempty"`
	// Hosts holds one result per host the phase concerned (empty for phases
	// that are not per host, or that did not run).
	Hosts []HostResult `json:"hosts"`
}

// HostResult is one host within one phase of a [Report].
type HostResult struct {
	// Host is the inventory name of the host.
	Host string `json:"host"`
	// Status is the outcome on this host.
	Status Status `json:"status"`
	// Started is when the script started on this host (zero when it did
	// not run).
	Started time.Time `json:"started,omitzero"`
	// Ended is when it ended (zero when it did not run).
	Ended time.Time `json:"ended,omitzero"`
	// Duration is Ended-Started.
	Duration Duration `json:"duration_s"`
	// ExitCode is the exit status of the script, nil when no script ran to
	// completion (dry-run, skipped, connection lost).
	ExitCode *int `json:"exit_code,omitempty"`
	// Error is why it failed on this host.
	Error string `json:"error,omitempty"`
	// Note explains a skip, a dry-run or an ignored error.
	Note string `json:"note,omitempty"`
	// Output holds the last lines the script wrote to stdout (at most
	// [MaxOutputLines]), for -o json consumers; under a dry-run, the
	// rendered script.
	Output []string `json:"output,omitempty"`
	// Stderr holds the last lines the script wrote to stderr (at most
	// [MaxOutputLines]).
	Stderr []string `json:"stderr,omitempty"`
}

// MaxOutputLines bounds HostResult.Output and HostResult.Stderr.
const MaxOutputLines = 1000

// Failed reports whether any phase of r failed.
func (r *Report) Failed() bool {
	for _, p := range r.Phases {
		if p.Status == StatusFailed {
			return true
		}
	}
	return r.Status == StatusFailed
}

// Redacted returns a deep copy of r with every free-text field passed
// through red.
func (r *Report) Redacted(red *Redactor) *Report {
	c := *r
	c.Error = red.Redact(r.Error)
	c.Hosts = append([]string(nil), r.Hosts...)
	c.Phases = make([]PhaseResult, len(r.Phases))
	for i, p := range r.Phases {
		p.Title = red.Redact(p.Title)
		p.Detail = red.Redact(p.Detail)
		p.Error = red.Redact(p.Error)
		p.Note = red.Redact(p.Note)
		hs := make([]HostResult, len(p.Hosts))
		for j, h := range p.Hosts {
			h.Error = red.Redact(h.Error)
			h.Note = red.Redact(h.Note)
			if h.Output != nil {
				h.Output = red.RedactAll(append([]string(nil), h.Output...))
			}
			if h.Stderr != nil {
				h.Stderr = red.RedactAll(append([]string(nil), h.Stderr...))
			}
			if h.ExitCode != nil {
				code := *h.ExitCode
				h.ExitCode = &code
			}
			hs[j] = h
		}
		p.Hosts = hs
		c.Phases[i] = p
	}
	return &c
}

// WriteJSON writes r as exactly one indented JSON document followed by a
// newline, redacted with red (which may be nil).
func WriteJSON(w io.Writer, r *Report, red *Redactor) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.Redacted(red)); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// TableOptions configures [WriteTable].
type TableOptions struct {
	// Color colours statuses (green ok, red failed).
	Color bool
	// Redactor masks secrets in errors and notes.
	Redactor *Redactor
}

// WriteTable writes the summary of r as an aligned table with one row per
// phase × host (and one row for a phase that has no host results), then a
// closing line with the overall status.
func WriteTable(w io.Writer, r *Report, o TableOptions) error {
	r = r.Redacted(o.Redactor)
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tHOST\tSTATUS\tEXIT\tDURATION\tDETAIL")
	n := len(r.Phases)
	for _, p := range r.Phases {
		title := fmt.Sprintf("[%d/%d] %s", p.Index, n, oneLine(p.Title))
		if len(p.Hosts) == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\t-\t%s\t%s\n", title, colorStatus(p.Status, o.Color),
				durationCell(p.Duration, p.Status), oneLine(firstNonEmpty(p.Error, p.Note)))
			continue
		}
		for _, h := range p.Hosts {
			exit := "-"
			if h.ExitCode != nil {
				exit = strconv.Itoa(*h.ExitCode)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", title, h.Host, colorStatus(h.Status, o.Color), exit,
				durationCell(h.Duration, h.Status), oneLine(firstNonEmpty(h.Error, h.Note)))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary table: %w", err)
	}
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(l, " \n")+"\n"); err != nil {
			return fmt.Errorf("write summary table: %w", err)
		}
	}
	status := string(r.Status)
	if r.DryRun {
		status += " (dry-run)"
	}
	_, err := fmt.Fprintf(w, "%s: %s in %s\n", r.Action, status, r.Duration)
	if err != nil {
		return fmt.Errorf("write summary table: %w", err)
	}
	return nil
}

func durationCell(d Duration, s Status) string {
	if d == 0 && (s == StatusSkipped || s == StatusDryRun) {
		return "-"
	}
	return d.String()
}

func colorStatus(s Status, color bool) string {
	if !color {
		return string(s)
	}
	// tabwriter counts escape bytes as width; pad every status with escapes of
	// equal length so that columns stay aligned.
	c := "\x1b[39m"
	switch s {
	case StatusOK:
		c = "\x1b[32m"
	case StatusFailed:
		c = "\x1b[31m"
	case StatusSkipped, StatusDryRun:
		c = "\x1b[33m"
	}
	return c + string(s) + colorReset
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " ; ")), " ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

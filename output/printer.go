package output

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// ColorMode says when a [Printer] colours host names.
type ColorMode int

const (
	// ColorAuto colours when the writer is a terminal and NO_COLOR is unset
	// or empty (https://no-color.org).
	ColorAuto ColorMode = iota
	// ColorAlways always colours.
	ColorAlways
	// ColorNever never colours.
	ColorNever
)

// PrinterOptions configures a [Printer].
type PrinterOptions struct {
	// Color says when to colour host names; the default is ColorAuto.
	Color ColorMode
	// Redactor masks secrets in every line; nil redacts nothing.
	Redactor *Redactor
	// Log, if set, receives every line too, never coloured: a run log. When
	// the writer is a [Tee] with a log, its terminal and its log are used
	// apart and Log need not be set.
	Log io.Writer
}

// ANSI colours given to hosts in turn, then the reset sequence.
var (
	hostColors = []string{"\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[95m", "\x1b[92m", "\x1b[94m"}
	colorBold  = "\x1b[1m"
	colorRed   = "\x1b[31m"
	colorReset = "\x1b[0m"
)

// Printer writes the live, human output of a run: "host | line" lines and
// phase headers. Every write is one whole line (or several), made under one
// mutex, so it is safe for hosts writing concurrently. All methods of a nil
// *Printer do nothing, which callers may use to mean "quiet".
type Printer struct {
	mu       sync.Mutex
	w        io.Writer
	log      io.Writer // nil: no log
	color    bool
	redactor *Redactor
	width    int            // host column width
	colors   map[string]int // host -> index into hostColors
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer, o PrinterOptions) *Printer {
	log := o.Log
	if log == nil {
		w, log = splitTee(w)
	}
	return &Printer{
		w:        w,
		log:      log,
		color:    UseColor(w, o.Color),
		redactor: o.Redactor,
		colors:   map[string]int{},
	}
}

// UseColor reports whether output to w should be coloured under mode m: for
// ColorAuto, w must be a terminal and NO_COLOR unset or empty.
func UseColor(w io.Writer, m ColorMode) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is an *os.File open on a terminal (or wraps
// one and says so with an Fd method).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// SetHosts declares the hosts of a run, in order: host names are padded to
// the longest one and coloured in this order. Hosts not declared still print,
// with a colour chosen from their name.
func (p *Printer) SetHosts(names []string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range names {
		p.colors[n] = i % len(hostColors)
		p.width = max(p.width, len(n))
	}
}

// SetOutput replaces the writer (for example with a progress-bar container
// that prints lines above its bars) and returns the previous one. The log,
// if any, stays.
func (p *Printer) SetOutput(w io.Writer) io.Writer {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.w
	p.w = w
	return old
}

// Color reports whether this Printer colours its output.
func (p *Printer) Color() bool { return p != nil && p.color }

// Redactor returns the Printer's redactor (possibly nil).
func (p *Printer) Redactor() *Redactor {
	if p == nil {
		return nil
	}
	return p.redactor
}

// Line writes one line of a host's output as "host | line". A line holding
// newlines is written as several prefixed lines; a trailing newline or
// carriage return is dropped.
func (p *Printer) Line(host, line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeLocked(p.lines(host, line, p.color), p.lines(host, line, false))
}

// LogLine writes host's line to the log alone (see PrinterOptions.Log):
// what the terminal shows some other way, such as a progress bar's end.
func (p *Printer) LogLine(host, line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil {
		_, _ = io.WriteString(p.log, p.lines(host, line, false))
	}
}

// lines formats line as host's lines, coloured or not. p.mu must be held.
func (p *Printer) lines(host, line string, color bool) string {
	line = strings.TrimRight(line, "\r\n")
	var b strings.Builder
	prefix := p.prefixLocked(host, color)
	for _, l := range strings.Split(p.redactor.Redact(line), "\n") {
		b.WriteString(prefix)
		b.WriteString(strings.TrimRight(l, "\r"))
		b.WriteByte('\n')
	}
	return b.String()
}

// writeLocked writes s to the terminal and plain to the log. p.mu must be
// held. Write errors are ignored: a terminal that went away must not stop a
// run.
func (p *Printer) writeLocked(s, plain string) {
	_, _ = io.WriteString(p.w, s)
	if p.log != nil {
		_, _ = io.WriteString(p.log, plain)
	}
}

// HostLines returns a function that writes each line it is given as host's
// output; it fits transport.RunOptions.Stdout and Stderr.
func (p *Printer) HostLines(host string) func(line string) {
	return func(line string) { p.Line(host, line) }
}

// prefixLocked returns "host | " padded (and coloured if color). p.mu must
// be held.
func (p *Printer) prefixLocked(host string, color bool) string {
	name := host + strings.Repeat(" ", max(0, p.width-len(host)))
	if !color {
		return name + " | "
	}
	i, ok := p.colors[host]
	if !ok {
		h := fnv.New32a()
		_, _ = h.Write([]byte(host))
		i = int(h.Sum32() % uint32(len(hostColors)))
	}
	return hostColors[i] + name + colorReset + " | "
}

// Header describes a phase about to run, for [Printer.Header].
type Header struct {
	Index  int    // 1-based position of the phase
	Total  int    // number of phases in the action
	Title  string // the phase title
	Detail string // e.g. "parallel, 3 hosts"; may be empty
	Note   string // e.g. "dry-run: render only"; may be empty
}

// String formats h as "==> [2/5] Title (detail) [note]".
func (h Header) String() string {
	s := fmt.Sprintf("==> [%d/%d] %s", h.Index, h.Total, h.Title)
	if h.Detail != "" {
		s += " (" + h.Detail + ")"
	}
	if h.Note != "" {
		s += " [" + h.Note + "]"
	}
	return s
}

// Header writes a phase header line, bold on a colour terminal.
func (p *Printer) Header(h Header) {
	if p == nil {
		return
	}
	s := p.redactor.Redact(h.String())
	p.mu.Lock()
	defer p.mu.Unlock()
	c := s
	if p.color {
		c = colorBold + s + colorReset
	}
	p.writeLocked(c+"\n", s+"\n")
}

// Printf writes a free-standing message (not tied to a host) as one or more
// whole lines; a newline is added if missing.
func (p *Printer) Printf(format string, args ...any) {
	if p == nil {
		return
	}
	s := p.redactor.Redact(fmt.Sprintf(format, args...))
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeLocked(s, s)
}

// Errorf is Printf in red on a colour terminal.
func (p *Printer) Errorf(format string, args ...any) {
	if p == nil {
		return
	}
	s := strings.TrimRight(p.redactor.Redact(fmt.Sprintf(format, args...)), "\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	c := s
	if p.color {
		c = colorRed + s + colorReset
	}
	p.writeLocked(c+"\n", s+"\n")
}

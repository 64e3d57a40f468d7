package output

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// ProgressMode says how a [Progress] shows transfers.
type ProgressMode int

const (
	// ProgressAuto draws bars on a terminal and writes periodic lines
	// otherwise.
	ProgressAuto ProgressMode = iota
	// ProgressBars always draws bars.
	ProgressBars
	// ProgressLines always writes periodic "host | ..." lines.
	ProgressLines
)

// DefaultProgressInterval is how often a transfer is logged in lines mode.
const DefaultProgressInterval = 5 * time.Second

// ProgressOptions configures [NewProgress].
type ProgressOptions struct {
	// Mode selects bars or lines; the default, ProgressAuto, draws bars
	// only when the writer is a terminal.
	Mode ProgressMode
	// Interval is the least time between two lines about one transfer in
	// lines mode; 0 means DefaultProgressInterval, negative means every
	// update.
	Interval time.Duration
	// Printer receives the lines in lines mode. In bars mode, while the bars
	// are drawn, its output is routed above the bars so that host lines do not
	// tear them. Nil means lines go to the Progress writer unprefixed by a
	// Printer (bars mode) or nowhere (lines mode).
	Printer *Printer
}

// Progress shows byte transfers (uploads of a snapshot to every host): one
// bar per host with bytes, rate and ETA on a terminal; otherwise a line per
// host every Interval and one when the transfer ends. It is safe for
// concurrent use. Call Wait once every bar is Done or Aborted.
type Progress struct {
	bars     *mpb.Progress // nil in lines mode
	printer  *Printer
	interval time.Duration
	restore  func()
	now      func() time.Time
}

// NewProgress returns a Progress drawing to w (normally os.Stderr). When w
// is a [Tee] with a run log, bars are drawn on its terminal alone, and the
// log gets a line per transfer when it ends (in lines mode it gets every
// line, through the Printer).
func NewProgress(w io.Writer, o ProgressOptions) *Progress {
	p := &Progress{printer: o.Printer, interval: o.Interval, now: time.Now, restore: func() {}}
	if p.interval == 0 {
		p.interval = DefaultProgressInterval
	}
	w, _ = splitTee(w)
	bars := o.Mode == ProgressBars || (o.Mode == ProgressAuto && IsTerminal(w))
	if !bars {
		return p
	}
	opts := []mpb.ContainerOption{mpb.WithOutput(w), mpb.WithWidth(40)}
	if _, isFile := w.(*os.File); !isFile && IsTerminal(w) {
		// mpb finds the terminal only behind an *os.File.
		opts = append(opts, mpb.WithConsoleWriter(newConsoleWriter(w)), mpb.WithAutoRefresh())
	}
	if o.Mode == ProgressBars {
		opts = append(opts, mpb.WithAutoRefresh())
	}
	p.bars = mpb.New(opts...)
	if o.Printer != nil {
		old := o.Printer.SetOutput(p.bars)
		p.restore = func() { o.Printer.SetOutput(old) }
	}
	return p
}

// Bars reports whether p draws bars (as opposed to writing lines).
func (p *Progress) Bars() bool { return p.bars != nil }

// Bar starts showing a transfer of total bytes (0 or less if unknown) to or
// from host; name says what is transferred (e.g. "etcd-dump.bin").
func (p *Progress) Bar(host, name string, total int64) *Bar {
	b := &Bar{p: p, host: host, name: name, total: total, start: p.now()}
	b.last = b.start
	if p.bars != nil {
		label := host
		if name != "" {
			label += " " + name
		}
		b.bar = p.bars.AddBar(max(total, 0),
			mpb.PrependDecorators(
				decor.Name(label, decor.WCSyncSpaceR),
				decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
			),
			mpb.AppendDecorators(
				decor.OnComplete(decor.Percentage(decor.WCSyncSpace), "done"),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), ""),
			),
		)
	}
	return b
}

// Wait waits for every bar to be Done or Aborted, stops drawing and gives the
// Printer its writer back.
func (p *Progress) Wait() {
	if p.bars != nil {
		p.bars.Wait()
	}
	p.restore()
}

// Bar is one transfer of a [Progress].
type Bar struct {
	p     *Progress
	bar   *mpb.Bar // nil in lines mode
	host  string
	name  string
	total int64
	start time.Time

	mu       sync.Mutex
	current  int64
	last     time.Time // last line written (lines mode)
	finished bool
}

// SetCurrent records that n bytes have been transferred so far.
func (b *Bar) SetCurrent(n int64) {
	b.mu.Lock()
	b.current = n
	b.mu.Unlock()
	b.update()
}

// Add records n more bytes transferred.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	b.current += n
	b.mu.Unlock()
	b.update()
}

// Func returns a callback taking the number of bytes transferred so far; it
// fits an upload's Progress option.
func (b *Bar) Func() func(int64) { return b.SetCurrent }

func (b *Bar) update() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if b.bar != nil {
		b.bar.SetCurrent(b.current)
		return
	}
	now := b.p.now()
	if b.p.interval > 0 && now.Sub(b.last) < b.p.interval {
		return
	}
	b.last = now
	b.p.printer.Line(b.host, b.lineLocked(now, false))
}

// Done marks the transfer complete.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.bar != nil {
		b.bar.SetTotal(-1, true)
		b.p.printer.LogLine(b.host, b.lineLocked(b.p.now(), true))
		return
	}
	b.p.printer.Line(b.host, b.lineLocked(b.p.now(), true))
}

// Abort marks the transfer failed; the bar stays on screen.
func (b *Bar) Abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	line := fmt.Sprintf("%s: aborted after %s", b.label(), FormatBytes(b.current))
	if b.bar != nil {
		b.bar.Abort(false)
		b.p.printer.LogLine(b.host, line)
		return
	}
	b.p.printer.Line(b.host, line)
}

func (b *Bar) label() string {
	if b.name == "" {
		return "transfer"
	}
	return b.name
}

// lineLocked formats a progress line, e.g.
// "etcd-dump.bin: 4.0 MiB / 17.5 MiB (23%), 2.0 MiB/s, ETA 7s".
func (b *Bar) lineLocked(now time.Time, done bool) string {
	elapsed := now.Sub(b.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.current) / elapsed.Seconds()
	}
	if done {
		return fmt.Sprintf("%s: %s done in %s (%s/s)", b.label(), FormatBytes(b.current),
			Duration(elapsed), FormatBytes(int64(rate)))
	}
	s := fmt.Sprintf("%s: %s", b.label(), FormatBytes(b.current))
	if b.total > 0 {
		s += fmt.Sprintf(" / %s (%d%%)", FormatBytes(b.total), b.current*100/b.total)
	}
	s += fmt.Sprintf(", %s/s", FormatBytes(int64(rate)))
	if b.total > 0 && rate > 0 {
		eta := time.Duration(float64(b.total-b.current) / rate * float64(time.Second))
		s += ", ETA " + Duration(eta).String()
	}
	return s
}

// FormatBytes formats n with binary units: "512 B", "17.5 MiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// consoleWriter is mpb's ConsoleWriter for a terminal behind a writer that
// is not an *os.File (it has an Fd method): a frame is buffered, written in
// one write, and the next one moves the cursor up over it. The terminal's
// size is read from the Fd; when it cannot be (the terminal went away), the
// last size read, or 80x24, serves.
type consoleWriter struct {
	bytes.Buffer
	out           io.Writer
	fd            int
	width, height int
}

func newConsoleWriter(out io.Writer) *consoleWriter {
	return &consoleWriter{out: out, fd: int(fdOf(out)), width: 80, height: 24}
}

func (c *consoleWriter) IsTerminal() bool { return true }

func (c *consoleWriter) GetTermSize() (int, int, error) {
	if w, h, err := term.GetSize(c.fd); err == nil && w > 0 && h > 0 {
		c.width, c.height = w, h
	}
	return c.width, c.height, nil
}

// Flush writes the frame and starts the next one with moving the cursor up
// over its lines and clearing below (as mpb's own cupwriter does: lines
// printed above the bars come after that, then the next frame).
func (c *consoleWriter) Flush(lines int) error {
	_, err := c.out.Write(c.Bytes())
	c.Reset()
	if lines > 0 {
		c.WriteString("\x1b[" + strconv.Itoa(lines) + "A\x1b[J")
	}
	return err
}

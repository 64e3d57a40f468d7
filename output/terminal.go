package output

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultTerminalBuffer is how many bytes a [Terminal] holds while the
// terminal does not read them; beyond it, output is dropped (the run log has
// it).
const DefaultTerminalBuffer = 16 << 20

// termPiece is the most written to the terminal in one write: a large write
// (a JSON document) goes out in pieces, each of them progress for Close.
const termPiece = 64 << 10

// Terminal writes a run's stdout and stderr so that the terminal can never
// fail or stall the run: a write is queued and returns at once, having
// succeeded; one goroutine writes the queue out, stdout and stderr in the
// order they were written. When a write to one of them fails (the terminal
// was closed: EIO; the reader of a pipe went away: EPIPE), that stream is
// switched off for good and what is written to it later is dropped. When the
// terminal stops reading (a stalled SSH session), the queue grows up to its
// limit and what does not fit is dropped, with a note once the terminal
// reads again. The run log is where everything is kept: see [RunLog].
type Terminal struct {
	mu      sync.Mutex
	cond    *sync.Cond
	outs    [2]io.Writer
	names   [2]string
	off     [2]bool
	queue   []termChunk
	size    int
	limit   int
	dropped int64
	closing bool
	onOff   func(stream string, err error)

	done     chan struct{}
	progress chan struct{}
}

type termChunk struct {
	stream int
	b      []byte
}

// TerminalOptions configures [NewTerminal].
type TerminalOptions struct {
	// Buffer is the most bytes queued; 0 means DefaultTerminalBuffer.
	Buffer int
	// OnOff is called once for each stream switched off by a failed write,
	// with "stdout" or "stderr" and the error, from the writing goroutine.
	OnOff func(stream string, err error)
}

// NewTerminal starts writing to stdout and stderr. Close it.
func NewTerminal(stdout, stderr io.Writer, o TerminalOptions) *Terminal {
	t := &Terminal{
		outs:     [2]io.Writer{stdout, stderr},
		names:    [2]string{"stdout", "stderr"},
		limit:    o.Buffer,
		onOff:    o.OnOff,
		done:     make(chan struct{}),
		progress: make(chan struct{}, 1),
	}
	if t.limit <= 0 {
		t.limit = DefaultTerminalBuffer
	}
	t.cond = sync.NewCond(&t.mu)
	go t.run()
	return t
}

// Stdout returns the writer of stdout. It has the Fd of the stdout it was
// given, so that colours and bars still see a terminal.
func (t *Terminal) Stdout() io.Writer { return &termStream{t: t, i: 0} }

// Stderr returns the writer of stderr.
func (t *Terminal) Stderr() io.Writer { return &termStream{t: t, i: 1} }

// Off reports whether stream (0 stdout, 1 stderr) was switched off.
func (t *Terminal) Off(stream int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.off[stream]
}

// Close writes out what is queued and stops. It gives up when no write has
// completed for stall (the terminal is not reading) and reports whether
// everything was written or dropped as it should be.
func (t *Terminal) Close(stall time.Duration) bool {
	t.mu.Lock()
	t.closing = true
	t.cond.Signal()
	t.mu.Unlock()
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for {
		select {
		case <-t.done:
			return true
		case <-t.progress:
			timer.Reset(stall)
		case <-timer.C:
			return false
		}
	}
}

// write queues p for stream i. It never blocks on the terminal and never
// fails.
func (t *Terminal) write(i int, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.off[i] || t.closing || len(p) == 0 {
		return
	}
	// A write is queued unless the queue is full already: one larger than
	// the whole buffer still goes to a terminal that keeps up.
	if t.size > 0 && t.size+len(p) > t.limit {
		t.dropped += int64(len(p))
		return
	}
	t.queue = append(t.queue, termChunk{stream: i, b: append([]byte(nil), p...)})
	t.size += len(p)
	t.cond.Signal()
}

func (t *Terminal) run() {
	defer close(t.done)
	for {
		t.mu.Lock()
		for len(t.queue) == 0 && t.dropped == 0 && !t.closing {
			t.cond.Wait()
		}
		var c termChunk
		switch {
		case len(t.queue) > 0:
			c = t.queue[0]
			t.queue[0] = termChunk{}
			t.queue = t.queue[1:]
			t.size -= len(c.b)
		case t.dropped > 0:
			// The terminal read everything queued after it had fallen
			// behind: say what it missed.
			c = termChunk{stream: 1, b: fmt.Appendf(nil,
				"ncnpush: %d bytes of output were not shown here (the terminal did not read them in time); the run log has them\n", t.dropped)}
			t.dropped = 0
		default: // closing, and nothing left
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		for b := c.b; len(b) > 0 && !t.Off(c.stream); {
			n := min(len(b), termPiece)
			if _, err := t.outs[c.stream].Write(b[:n]); err != nil {
				t.switchOff(c.stream, err)
			}
			b = b[n:]
			select {
			case t.progress <- struct{}{}:
			default:
			}
		}
	}
}

func (t *Terminal) switchOff(i int, err error) {
	t.mu.Lock()
	if t.off[i] {
		t.mu.Unlock()
		return
	}
	t.off[i] = true
	// Drop what is queued for it.
	kept := t.queue[:0]
	for _, c := range t.queue {
		if c.stream == i {
			t.size -= len(c.b)
			continue
		}
		kept = append(kept, c)
	}
	t.queue = kept
	t.mu.Unlock()
	if t.onOff != nil {
		t.onOff(t.names[i], err)
	}
}

// termStream is one stream of a Terminal.
type termStream struct {
	t *Terminal
	i int
}

func (s *termStream) Write(p []byte) (int, error) {
	s.t.write(s.i, p)
	return len(p), nil
}

// Fd is the file descriptor of the stream's writer, or ^0 if it has none.
func (s *termStream) Fd() uintptr { return fdOf(s.t.outs[s.i]) }

// fdOf returns w's file descriptor, or ^0.
func fdOf(w io.Writer) uintptr {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// Tee is a writer that copies what it is given to a run log besides its
// terminal (cmd's console is one). A [Printer] or a [Progress] given a Tee
// writes the terminal and the log apart: coloured lines and bars to the
// terminal, plain lines to the log.
type Tee interface {
	io.Writer
	// TermWriter is the terminal alone.
	TermWriter() io.Writer
	// LogWriter is the log alone; nil when there is no log.
	LogWriter() io.Writer
}

// splitTee returns w's terminal and log if w is a Tee with a log, else w and
// nil.
func splitTee(w io.Writer) (io.Writer, io.Writer) {
	if t, ok := w.(Tee); ok {
		if l := t.LogWriter(); l != nil {
			return t.TermWriter(), l
		}
	}
	return w, nil
}

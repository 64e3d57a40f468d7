package output

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRunLogName(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 20, 30, 0, time.FixedZone("CEST", 2*3600))
	if got, want := RunLogName(at, "etcd restore", 4242), "20240501T102030Z-etcd-restore-4242"; got != want {
		t.Errorf("RunLogName = %q, want %q", got, want)
	}
	if got := RunLogName(at, "x/../y", 1); strings.Contains(got, "/") {
		t.Errorf("RunLogName = %q", got)
	}
}

// The log is created 0600 (whatever the umask) in a directory made 0700;
// a link planted at its name is neither followed nor replaced; a directory
// that is a link, or that others can write, is refused.
func TestOpenRunLogSafety(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "a", "runs")
	l, err := OpenRunLog(dir, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(tmp, "a"): 0o700, l.Path(): 0o600} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %04o", p, fi.Mode(), err, want)
		}
	}

	target := filepath.Join(tmp, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "r2.log")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRunLog(dir, "r2", nil); !errors.Is(err, ErrRunLog) || !errors.Is(err, os.ErrExist) {
		t.Errorf("a link at the log's name: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "r2.log")); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link was replaced")
	}

	link := filepath.Join(tmp, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRunLog(link, "r3", nil); !errors.Is(err, ErrRunLog) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a directory that is a link: %v", err)
	}
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRunLog(open, "r4", nil); !errors.Is(err, ErrRunLog) || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("a directory others can write: %v", err)
	}
	for _, bad := range []string{"", "a/b", ".."} {
		if _, err := OpenRunLog(dir, bad, nil); !errors.Is(err, ErrRunLog) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
}

// The report appears whole under NAME.json, replacing (not following) a
// link planted there.
func TestRunLogReport(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenRunLog(dir, "r", NewRedactor("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, l.ReportPath()); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteReport(func(w io.Writer) error { _, err := io.WriteString(w, `{"pw":"hunter2"}`+"\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("\x1b[1m==> [1/2] phase\x1b[0m hunter2\n")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target %q", b)
	}
	fi, err := os.Lstat(l.ReportPath())
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("report %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(l.ReportPath()); string(b) != `{"pw":"***"}`+"\n" {
		t.Errorf("report %q", b)
	}
	if b, _ := os.ReadFile(l.Path()); string(b) != "==> [1/2] phase ***\n" {
		t.Errorf("log %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files %v", entries)
	}
}

// blockingWriter blocks every Write until released.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, syscall.EIO
}

// A terminal that fails is switched off after its first failure, and the
// writer never sees the error; one that does not read never blocks the
// writer: what does not fit is dropped, and said once it reads again;
// Close gives up on a terminal that takes nothing.
func TestTerminalNeverFailsNorBlocks(t *testing.T) {
	var offs []string
	var mu sync.Mutex
	fail := &failingWriter{}
	var errBuf bytes.Buffer
	term := NewTerminal(fail, &errBuf, TerminalOptions{OnOff: func(s string, err error) {
		mu.Lock()
		defer mu.Unlock()
		offs = append(offs, s+": "+err.Error())
	}})
	for range 100 {
		if n, err := term.Stdout().Write([]byte("line\n")); n != 5 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	_, _ = term.Stderr().Write([]byte("to stderr\n"))
	if !term.Close(time.Second) {
		t.Fatal("Close gave up")
	}
	if fail.n < 1 || fail.n > 100 || !term.Off(0) || term.Off(1) || errBuf.String() != "to stderr\n" {
		t.Errorf("%d writes to the failing stdout, stderr %q", fail.n, errBuf.String())
	}
	if len(offs) != 1 || offs[0] != "stdout: "+syscall.EIO.Error() {
		t.Errorf("OnOff calls %q", offs)
	}

	stuck := &blockingWriter{release: make(chan struct{})}
	term = NewTerminal(stuck, stuck, TerminalOptions{Buffer: 100})
	start := time.Now()
	for range 1000 {
		_, _ = term.Stdout().Write([]byte("0123456789"))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("writes to a terminal that does not read took %s", d)
	}
	close(stuck.release)
	if !term.Close(time.Second) {
		t.Fatal("Close gave up on a terminal that reads again")
	}
	got := stuck.buf.String()
	if !strings.Contains(got, "bytes of output were not shown here") || !strings.HasPrefix(got, "0123456789") {
		t.Errorf("terminal got %q", got)
	}

	// One write larger than the whole buffer (a JSON document) still goes
	// to a terminal that keeps up.
	var big, small bytes.Buffer
	term = NewTerminal(&big, &small, TerminalOptions{Buffer: 100})
	doc := bytes.Repeat([]byte("x"), 1<<20)
	_, _ = term.Stdout().Write(doc)
	if !term.Close(time.Second) || !bytes.Equal(big.Bytes(), doc) || small.Len() != 0 {
		t.Errorf("a large write: %d bytes on stdout, stderr %q", big.Len(), small.String())
	}

	stuck = &blockingWriter{release: make(chan struct{})}
	defer close(stuck.release)
	term = NewTerminal(stuck, stuck, TerminalOptions{})
	_, _ = term.Stderr().Write([]byte("never read\n"))
	start = time.Now()
	if term.Close(200 * time.Millisecond) {
		t.Error("Close did not give up on a terminal that takes nothing")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
}

// teeWriter is an output.Tee for tests.
type teeWriter struct{ term, log *bytes.Buffer }

func (w teeWriter) Write(p []byte) (int, error) {
	w.term.Write(p)
	return w.log.Write(p)
}
func (w teeWriter) TermWriter() io.Writer { return w.term }
func (w teeWriter) LogWriter() io.Writer  { return w.log }

// A Printer given a Tee colours the terminal and keeps the log plain; a
// Progress in lines mode logs through it, and LogLine writes the log alone.
func TestPrinterTee(t *testing.T) {
	var term, log bytes.Buffer
	p := NewPrinter(teeWriter{&term, &log}, PrinterOptions{Color: ColorAlways, Redactor: NewRedactor("pw1")})
	p.SetHosts([]string{"ncn-m001", "m2"})
	p.Line("m2", "hello pw1")
	p.Header(Header{Index: 1, Total: 2, Title: "Stop"})
	p.Errorf("bad")
	p.Printf("plain")
	p.LogLine("m2", "only in the log")
	want := "m2       | hello ***\n==> [1/2] Stop\nbad\nplain\nm2       | only in the log\n"
	if log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	if !strings.Contains(term.String(), "\x1b[") || strings.Contains(term.String(), "only in the log") || strings.Contains(term.String(), "pw1") {
		t.Errorf("terminal %q", term.String())
	}

	term.Reset()
	log.Reset()
	prog := NewProgress(teeWriter{&term, &log}, ProgressOptions{Mode: ProgressBars, Printer: p})
	bar := prog.Bar("m2", "snapshot", 100)
	bar.SetCurrent(100)
	bar.Done()
	prog.Wait()
	if !strings.Contains(log.String(), "m2       | snapshot: 100 B done in ") || strings.Contains(log.String(), "\x1b[") {
		t.Errorf("log after a bar %q", log.String())
	}
}

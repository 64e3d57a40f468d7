package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestPrinterPrefixesAndPads(t *testing.T) {
	var b bytes.Buffer
	p := NewPrinter(&b, PrinterOptions{Color: ColorNever})
	p.SetHosts([]string{"ncn-m001", "m2"})
	p.Line("m2", "hello\r\n")
	p.Line("ncn-m001", "two\nlines")
	p.Header(Header{Index: 2, Total: 5, Title: "Restore to staging", Detail: "parallel, 3 hosts"})
	want := "m2       | hello\n" +
		"ncn-m001 | two\n" +
		"ncn-m001 | lines\n" +
		"==> [2/5] Restore to staging (parallel, 3 hosts)\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestPrinterColor(t *testing.T) {
	var b bytes.Buffer
	p := NewPrinter(&b, PrinterOptions{Color: ColorAlways})
	p.SetHosts([]string{"a", "b"})
	p.Line("a", "x")
	p.Line("b", "y")
	out := b.String()
	if !strings.Contains(out, hostColors[0]+"a"+colorReset+" | x\n") || !strings.Contains(out, hostColors[1]+"b"+colorReset+" | y\n") {
		t.Fatalf("no colours: %q", out)
	}
	// A buffer is not a terminal: auto means no colour.
	if UseColor(&b, ColorAuto) {
		t.Error("UseColor(buffer, auto) = true")
	}
	t.Setenv("NO_COLOR", "1")
	if UseColor(os.Stdout, ColorAuto) {
		t.Error("UseColor with NO_COLOR = true")
	}
}

// TestPrinterConcurrentWholeLines writes from many goroutines and checks
// that every line arrives whole (run with -race to check the locking too).
func TestPrinterConcurrentWholeLines(t *testing.T) {
	var b bytes.Buffer
	p := NewPrinter(&b, PrinterOptions{Color: ColorNever})
	p.SetHosts([]string{"h0", "h1", "h2", "h3"})
	var wg sync.WaitGroup
	for h := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p.Line(fmt.Sprintf("h%d", h), strings.Repeat(fmt.Sprint(h), 50)+fmt.Sprint(i))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		host, rest, ok := strings.Cut(l, " | ")
		if !ok || !strings.HasPrefix(rest, strings.Repeat(host[1:], 50)) {
			t.Fatalf("torn line %q", l)
		}
	}
}

func TestNilPrinterIsQuiet(t *testing.T) {
	var p *Printer
	p.Line("h", "x")
	p.Header(Header{})
	p.Printf("x")
	p.Errorf("x")
	p.SetHosts(nil)
}

func TestRedactor(t *testing.T) {
	r := NewRedactor("s3cr3t", "", "s3cr3t-longer", `qu"ote'd<`)
	cases := map[string]string{
		"key=s3cr3t end":           "key=*** end",
		"s3cr3t-longer":            "***",
		"nothing here":             "nothing here",
		`json "qu\"ote'd\u003c"`:   `json "***"`,
		`shell 'qu"ote'"'"'d<'`:    `shell '***'`,
		`shell2 'qu"ote'\''d<'`:    `shell2 '***'`,
		"twice s3cr3t and s3cr3t.": "twice *** and ***.",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	var nilR *Redactor
	if nilR.Redact("s3cr3t") != "s3cr3t" {
		t.Error("nil redactor changed text")
	}
}

func TestPrinterRedacts(t *testing.T) {
	var b bytes.Buffer
	p := NewPrinter(&b, PrinterOptions{Color: ColorNever, Redactor: NewRedactor("hunter2")})
	p.Line("h", "password is hunter2")
	p.Printf("again: %s", "hunter2")
	p.Errorf("error: hunter2")
	p.Header(Header{Index: 1, Total: 1, Title: "use hunter2"})
	if strings.Contains(b.String(), "hunter2") {
		t.Fatalf("secret leaked:\n%s", b.String())
	}
	if strings.Count(b.String(), Mask) != 4 {
		t.Fatalf("want 4 masks:\n%s", b.String())
	}
}

func TestLoggerHostAndRedaction(t *testing.T) {
	var b bytes.Buffer
	red := NewRedactor("hunter2")
	l := slog.New(NewHandler(&b, HandlerOptions{Level: slog.LevelDebug, Redactor: red}))
	l.Info("no host here")
	WithHost(l, "ncn-m001").Info("with host", "secret", "hunter2", "err", errors.New("bad hunter2"))
	l.Info("inline host", "host", "ncn-m002")
	l.WithGroup("g").Info("grouped", "k", "v")
	l.Debug("password hunter2 in message")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	wantHost := []string{"host=-", "host=ncn-m001", "host=ncn-m002", "host=-", "host=-"}
	for i, l := range lines {
		if strings.Count(l, " host=") != 1 || !strings.Contains(l, wantHost[i]) {
			t.Errorf("line %d %q: want exactly one %s", i, l, wantHost[i])
		}
	}
	if strings.Contains(b.String(), "hunter2") {
		t.Errorf("secret leaked:\n%s", b.String())
	}
	var plain bytes.Buffer
	Logger(slog.LevelInfo, &plain).Info("x")
	if !strings.Contains(plain.String(), "host=-") {
		t.Errorf("Logger line lacks host: %q", plain.String())
	}
}

// sampleReport is a report with every kind of entry.
func sampleReport() *Report {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	code0, code3 := 0, 3
	return &Report{
		Action:   "hello",
		Status:   StatusFailed,
		Error:    `phase [2/3] "Say hello": host m2: hello.sh.tmpl exited with status 3: password hunter2 rejected`,
		Started:  t0,
		Duration: Duration(2500 * time.Millisecond),
		Hosts:    []string{"m1", "m2"},
		Phases: []PhaseResult{
			{Index: 1, Title: "Gather facts", Detail: "parallel, 2 hosts", Status: StatusOK, Duration: Duration(time.Second),
				Hosts: []HostResult{
					{Host: "m1", Status: StatusOK, Started: t0, Ended: t0.Add(time.Second), Duration: Duration(time.Second), ExitCode: &code0, Output: []string{"kernel=6.1"}},
					{Host: "m2", Status: StatusOK, Started: t0, Ended: t0.Add(900 * time.Millisecond), Duration: Duration(900 * time.Millisecond), ExitCode: &code0},
				}},
			{Index: 2, Title: "Say hello", Detail: "serial, 2 hosts", Status: StatusFailed, Duration: Duration(1500 * time.Millisecond),
				Error: "host m2: hello.sh.tmpl exited with status 3: password hunter2 rejected",
				Hosts: []HostResult{
					{Host: "m1", Status: StatusOK, Duration: Duration(700 * time.Millisecond), ExitCode: &code0},
					{Host: "m2", Status: StatusFailed, Duration: Duration(800 * time.Millisecond), ExitCode: &code3, Error: "hello.sh.tmpl exited with status 3: password hunter2 rejected"},
				}},
			{Index: 3, Title: "Clean up", Status: StatusSkipped, Note: "not run: an earlier phase failed", Hosts: []HostResult{}},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./output -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestJSONReportGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport(), NewRedactor("hunter2")); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	// Exactly one JSON document.
	dec := json.NewDecoder(&b)
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("more than one JSON document")
	}
}

func TestTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleReport(), TableOptions{Redactor: NewRedactor("hunter2")}); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", b.Bytes())
}

func TestRedactedDoesNotChangeOriginal(t *testing.T) {
	r := sampleReport()
	c := r.Redacted(NewRedactor("hunter2"))
	if !strings.Contains(r.Phases[1].Hosts[1].Error, "hunter2") || strings.Contains(c.Phases[1].Hosts[1].Error, "hunter2") {
		t.Fatal("Redacted must copy")
	}
	*c.Phases[0].Hosts[0].ExitCode = 99
	if *r.Phases[0].Hosts[0].ExitCode != 0 {
		t.Fatal("Redacted shares exit codes")
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	pr := NewPrinter(&b, PrinterOptions{Color: ColorNever})
	p := NewProgress(&b, ProgressOptions{Mode: ProgressLines, Interval: 5 * time.Second, Printer: pr})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	bar := p.Bar("m1", "etcd-dump.bin", 20<<20)
	now = now.Add(time.Second)
	bar.SetCurrent(1 << 20) // within the interval: no line
	now = now.Add(5 * time.Second)
	bar.Func()(6 << 20)
	now = now.Add(4 * time.Second)
	bar.Add(14 << 20)
	bar.Done()
	bar.Done() // idempotent
	p.Wait()
	want := "m1 | etcd-dump.bin: 6.0 MiB / 20.0 MiB (30%), 1.0 MiB/s, ETA 14s\n" +
		"m1 | etcd-dump.bin: 20.0 MiB done in 10s (2.0 MiB/s)\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestProgressBars(t *testing.T) {
	var b bytes.Buffer
	pr := NewPrinter(&b, PrinterOptions{Color: ColorNever})
	p := NewProgress(&b, ProgressOptions{Mode: ProgressBars, Printer: pr})
	if !p.Bars() {
		t.Fatal("bars mode not selected")
	}
	b1 := p.Bar("m1", "etcd-dump.bin", 1000)
	b2 := p.Bar("m2", "etcd-dump.bin", 1000)
	b1.SetCurrent(500)
	pr.Line("m1", "a line while bars are drawn")
	b1.SetCurrent(1000)
	b1.Done()
	b2.SetCurrent(10)
	b2.Abort()
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
	}
	out := b.String()
	for _, want := range []string{"m1 etcd-dump.bin", "m2 etcd-dump.bin", "m1 | a line while bars are drawn"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	// The printer has its writer back.
	b.Reset()
	pr.Line("m1", "after")
	if b.String() != "m1 | after\n" {
		t.Errorf("after Wait: %q", b.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 17_500_000: "16.7 MiB", 8 << 30: "8.0 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

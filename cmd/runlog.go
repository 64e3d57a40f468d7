package cmd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
)

// loggedCommands are the commands that change nodes (by their full names).
// Each of them runs to its end whatever happens to the terminal, and keeps a
// run log and a report (see runLogHelp): NewApp gives them --log-dir, the
// help paragraph and the hook that arms it.
var loggedCommands = []string{
	"run",
	"exec",
	"etcd restore",
	"etcd cleanup",
	"etcd recover",
	"backups create",
	"backups push",
	"k8s heal",
}

// runLogHelp ends the description of every command in loggedCommands.
const runLogHelp = `

Run log: every run writes everything it prints (host lines, logs, the plan,
the prompt and the answer typed, the summary) also to a run log, and its
report (the document -o json prints, whatever -o says) beside it at the end:
$XDG_STATE_HOME/ncnpush/runs (default ~/.local/state/ncnpush/runs; --log-dir
or ` + envLogDir + ` moves it) holds <UTC start>-<command>-<pid>.log and .json,
directory 0700, files 0600. Its path is the first line on stderr
("ncnpush: run log: PATH"); the .json appears, whole, when the run ends.
SIGHUP (the terminal or the SSH session closed) does not stop the run: it
goes on to its end, or to its rollback, exactly as with the terminal there;
the terminal's output is dropped once it cannot be written, the log keeps
everything. SIGINT and SIGTERM interrupt it alike: remote commands end,
rollback and clean-up still run, and it exits 130. At a confirmation prompt
a closed terminal reads as "not confirmed": nothing is changed.`

// runLogFlags is --log-dir, given to every command of loggedCommands.
func runLogFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagLogDir, EnvVars: []string{envLogDir},
			Usage: "`DIR` of run logs and reports (default $" + envXDGStateHome + "/ncnpush/runs, or ~/.local/state/ncnpush/runs)"},
	}
}

// armRunLogs gives every command of loggedCommands under cmds (named
// below prefix) --log-dir, runLogHelp and a Before hook that tells the
// console a logged run is to start (newSession starts it).
func armRunLogs(cmds []*cli.Command, prefix string) {
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		armRunLogs(c.Subcommands, name)
		if !isLoggedCommand(name) {
			continue
		}
		c.Flags = append(c.Flags, runLogFlags()...)
		c.Description += runLogHelp
		before := c.Before
		c.Before = func(ctx *cli.Context) error {
			if con := consoleOf(ctx); con != nil {
				con.arm(name)
			}
			if before != nil {
				return before(ctx)
			}
			return nil
		}
	}
}

func isLoggedCommand(name string) bool {
	for _, n := range loggedCommands {
		if n == name {
			return true
		}
	}
	return false
}

// Hooks for tests: how hosts are reached (nil: SSH) and how a run log is
// named.
var (
	dialHook   hosts.DialFunc
	runLogName = output.RunLogName
)

// Time given to the terminal to take what is still queued at the end; a
// terminal that takes nothing for this long is left behind.
const terminalStall = 5 * time.Second

// console is what one mainTo writes to (app.Writer and app.ErrWriter) and
// reads from (app.Reader). Until a logged run starts, it passes everything
// straight through, as for any command. Once it starts (startRun), a write
// goes to the run log and to an output.Terminal: the terminal can then
// neither fail nor stall the run (a stream it cannot write is switched off),
// and SIGHUP and SIGPIPE are caught until the run ends (end).
type console struct {
	rawOut, rawErr io.Writer
	rawIn          io.Reader
	out, err       *consoleWriter
	in             *consoleReader
	red            *output.Redactor

	mu      sync.Mutex
	armed   string // the logged command about to run ("" if none)
	term    *output.Terminal
	terms   [2]io.Writer // term's stdout and stderr
	log     *output.RunLog
	report  func(io.Writer) error
	started time.Time
	stop    func() // stops catching signals

	logFailed atomic.Bool
}

func newConsole(stdout, stderr io.Writer, stdin io.Reader) *console {
	c := &console{rawOut: stdout, rawErr: stderr, rawIn: stdin, red: output.NewRedactor()}
	c.out = &consoleWriter{c: c, stream: 0}
	c.err = &consoleWriter{c: c, stream: 1}
	c.in = &consoleReader{c: c}
	return c
}

// consoleOf returns the console the app writes to, nil if it has none (the
// app was not started by mainTo).
func consoleOf(c *cli.Context) *console {
	if c == nil || c.App == nil {
		return nil
	}
	if w, ok := c.App.ErrWriter.(*consoleWriter); ok {
		return w.c
	}
	return nil
}

func (c *console) arm(command string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = command
}

// isArmed reports whether a logged command is about to start its run.
func (c *console) isArmed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.armed != "" && c.log == nil
}

// sinks returns the terminal stream and the log of stream i; a nil log
// means no run has started (or it ended): write the raw stream.
func (c *console) sinks(i int) (io.Writer, *output.RunLog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		return nil, nil
	}
	return c.terms[i], c.log
}

// toLog writes p to the run log. The first failure (a full disk) is said
// once on the terminal; the run goes on.
func (c *console) toLog(log *output.RunLog, p []byte) {
	if _, err := log.Write(p); err != nil && c.logFailed.CompareAndSwap(false, true) {
		c.mu.Lock()
		term := c.term
		c.mu.Unlock()
		if term != nil {
			fmt.Fprintf(term.Stderr(), "ncnpush: %v: the run log misses what follows\n", err)
		}
	}
}

// logOnly writes a line to the run log alone.
func (c *console) logOnly(format string, args ...any) {
	c.mu.Lock()
	log := c.log
	c.mu.Unlock()
	if log != nil {
		c.toLog(log, fmt.Appendf(nil, format, args...))
	}
}

// startRun opens the run log of the armed command in the directory of
// --log-dir, says where it is, makes the terminal tolerant and starts
// catching SIGHUP (which never cancels the run) and SIGPIPE (a closed
// stdout or stderr pipe must not kill it: Go dies of a broken fd 1 or 2
// unless SIGPIPE is notified).
func (c *console) startRun(ctx *cli.Context) error {
	c.mu.Lock()
	command := c.armed
	c.mu.Unlock()
	dir, err := runLogDir(ctx)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	now := time.Now()
	log, err := output.OpenRunLog(dir, runLogName(now, command, os.Getpid()), c.red)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%w (--%s or %s picks another directory)", err, flagLogDir, envLogDir)}
	}
	term := output.NewTerminal(c.rawOut, c.rawErr, output.TerminalOptions{OnOff: func(stream string, err error) {
		c.logOnly("ncnpush: %s: %v: the terminal gets no more output; this log goes on\n", stream, err)
	}})
	c.mu.Lock()
	c.term, c.terms, c.log, c.started = term, [2]io.Writer{term.Stdout(), term.Stderr()}, log, now
	c.mu.Unlock()
	c.catchSignals(log.Path())
	c.logOnly("ncnpush %s: %s, pid %d, started %s\n", Version, command, os.Getpid(), now.UTC().Format(time.RFC3339))
	fmt.Fprintf(c.err, "ncnpush: run log: %s\n", log.Path())
	return nil
}

// catchSignals catches SIGHUP and SIGPIPE until end. The first SIGHUP is
// logged (while the run log is open); SIGPIPE is only caught: the write
// that raised it fails, and the terminal stream is switched off.
func (c *console) catchSignals(path string) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGPIPE)
	logger := slog.New(output.NewHandler(c.err, output.HandlerOptions{Level: slog.LevelInfo, Redactor: c.red}))
	go func() {
		hup := false
		for sig := range ch {
			if sig != syscall.SIGHUP || hup {
				continue
			}
			hup = true
			c.mu.Lock()
			open := c.log != nil
			c.mu.Unlock()
			if open {
				logger.Warn("terminal closed (SIGHUP): the run goes on; its log is "+path, output.HostKey, output.NoHost)
			}
		}
	}()
	c.mu.Lock()
	c.stop = func() {
		// No signal is sent on ch once Stop returns.
		signal.Stop(ch)
		close(ch)
	}
	c.mu.Unlock()
}

// setReport records how to write the run's report: the document -o json
// prints.
func (c *console) setReport(write func(io.Writer) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.report = write
}

// writeReport writes the report beside the run log (if a run started): the
// one recorded, else the document mainTo prints under -o json for runErr.
// A failure to write it is said on stderr.
func (c *console) writeReport(runErr error) {
	c.mu.Lock()
	log, write := c.log, c.report
	c.mu.Unlock()
	if log == nil {
		return
	}
	if write == nil {
		doc := failedOutput{Status: output.StatusOK}
		if runErr != nil {
			doc = failedOutput{Status: output.StatusFailed, Error: runErr.Error()}
		}
		write = func(w io.Writer) error { return writeJSON(w, doc) }
	}
	if err := log.WriteReport(write); err != nil {
		fmt.Fprintf(c.err, "ncnpush: %v\n", err)
	}
}

// end closes the run log with its last line, writes out what the terminal
// still has queued (at most terminalStall without progress) and stops
// catching signals. The console passes writes straight through again.
func (c *console) end(code int) {
	c.mu.Lock()
	log, term, stop, started := c.log, c.term, c.stop, c.started
	c.mu.Unlock()
	if log == nil {
		return
	}
	c.logOnly("ncnpush: exit code %d after %s\n", code, output.Duration(time.Since(started)))
	if err := log.Close(); err != nil {
		fmt.Fprintf(term.Stderr(), "ncnpush: %v\n", err)
	}
	c.mu.Lock()
	c.log, c.term, c.stop, c.armed = nil, nil, nil, ""
	c.mu.Unlock()
	term.Close(terminalStall)
	if stop != nil {
		stop()
	}
}

// consoleWriter is stdout (stream 0) or stderr (1) of a console. It is an
// output.Tee while a run is logged.
type consoleWriter struct {
	c      *console
	stream int
	n      atomic.Int64 // bytes written
}

func (w *consoleWriter) raw() io.Writer {
	if w.stream == 0 {
		return w.c.rawOut
	}
	return w.c.rawErr
}

func (w *consoleWriter) Write(p []byte) (int, error) {
	term, log := w.c.sinks(w.stream)
	if log == nil {
		n, err := w.raw().Write(p)
		w.n.Add(int64(n))
		return n, err
	}
	w.c.toLog(log, p)
	_, _ = term.Write(p)
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// Fd is the raw stream's file descriptor, so that terminal detection
// (colours, progress bars) sees through the console; ^0 if it has none.
func (w *consoleWriter) Fd() uintptr {
	if f, ok := w.raw().(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// TermWriter is the terminal alone (output.Tee).
func (w *consoleWriter) TermWriter() io.Writer {
	if term, log := w.c.sinks(w.stream); log != nil {
		return term
	}
	return w.raw()
}

// LogWriter is the run log alone, nil if no run is logged (output.Tee).
func (w *consoleWriter) LogWriter() io.Writer {
	if _, log := w.c.sinks(w.stream); log != nil {
		return logWriter{w.c, log}
	}
	return nil
}

// logWriter writes a console's run log.
type logWriter struct {
	c   *console
	log *output.RunLog
}

func (l logWriter) Write(p []byte) (int, error) {
	l.c.toLog(l.log, p)
	return len(p), nil
}

// consoleReader is stdin; while a run is logged, what is read (a typed
// confirmation) is copied to the run log.
type consoleReader struct{ c *console }

func (r *consoleReader) Read(p []byte) (int, error) {
	n, err := r.c.rawIn.Read(p)
	if n > 0 {
		if _, log := r.c.sinks(1); log != nil {
			r.c.toLog(log, p[:n])
		}
	}
	return n, err
}

// runLogDir is --log-dir, else $XDG_STATE_HOME/ncnpush/runs, else
// ~/.local/state/ncnpush/runs; made absolute, so that the path printed
// serves from anywhere.
func runLogDir(c *cli.Context) (string, error) {
	dir := c.String(flagLogDir)
	if dir == "" {
		// The XDG base directory spec: a relative XDG_STATE_HOME is
		// ignored.
		if x := os.Getenv(envXDGStateHome); filepath.IsAbs(x) {
			dir = filepath.Join(x, "ncnpush", "runs")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("%w: no directory for run logs: %w: pass --%s", output.ErrRunLog, err, flagLogDir)
			}
			dir = filepath.Join(home, ".local", "state", "ncnpush", "runs")
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%w: --%s %q: %w", output.ErrRunLog, flagLogDir, dir, err)
	}
	return abs, nil
}

package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/templates"
)

// ErrUsage marks a command-line mistake (exit code 2).
var ErrUsage = errors.New("usage")

// exitError carries an exit code for Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// Exit codes.
const (
	exitFailed    = 1 // the action failed
	exitUsage     = 2 // bad flags or input
	exitCancelled = 130
)

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)}
}

// signalContext is cancelled by SIGINT or SIGTERM, alike: remote commands
// end, clean-up (rollback, unlock) still runs on a context without the
// cancellation, and the error wraps context.Canceled (exit code 130; its
// cause names the signal). Until the action returns, a second SIGINT or
// SIGTERM is caught too (it does not kill ncnpush mid clean-up). SIGHUP is
// not here: it never cancels a run (console.startRun catches it).
func signalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// session is what every command that works on hosts sets up from its flags:
// the inventory, the selected hosts, the output and the logger.
type session struct {
	action   string
	inv      *inventory.Inventory
	hosts    hosts.Hosts
	out      *output.Printer
	log      *slog.Logger
	redactor *output.Redactor
	json     bool
	stdout   io.Writer
	connect  hosts.ConnectOptions
	tmpl     *templates.Set
	forks    int
	con      *console // nil when the app was not started by mainTo
}

// newSession reads the common flags. pattern is the default host pattern
// when --limit is not given (e.g. "masters"). For a command that changes
// nodes (loggedCommands), it starts the run log once the flags, templates
// and inventory are read, before anything is printed or any host reached.
func newSession(c *cli.Context, pattern string) (*session, error) {
	s := &session{action: c.Command.FullName(), redactor: output.NewRedactor(), stdout: c.App.Writer, con: consoleOf(c)}
	switch f := c.String(flagOutput); f {
	case outputText, "":
	case outputJSON:
		s.json = true
	default:
		return nil, usageErrorf("--%s %q: want %s or %s", flagOutput, f, outputText, outputJSON)
	}
	level, err := parseLevel(c.String(flagLogLevel))
	if err != nil {
		return nil, err
	}
	s.forks = c.Int(flagForks)
	if s.forks < 1 {
		return nil, usageErrorf("--%s must be at least 1", flagForks)
	}
	if s.tmpl, err = templates.New(c.String(flagTemplates)); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("templates: %w", err)}
	}
	if s.inv, s.hosts, err = selectHosts(c, pattern); err != nil {
		return nil, err
	}
	if s.con != nil && s.con.isArmed() {
		if err := s.con.startRun(c); err != nil {
			return nil, err
		}
		// One redactor for the terminal, the log and the report.
		s.redactor = s.con.red
	}
	s.log = slog.New(output.NewHandler(c.App.ErrWriter, output.HandlerOptions{Level: level, Redactor: s.redactor}))
	// Under -o json stdout holds exactly one JSON document: the live output
	// goes to stderr.
	live := c.App.Writer
	if s.json {
		live = c.App.ErrWriter
	}
	color := output.ColorAuto
	if c.Bool(flagNoColor) {
		color = output.ColorNever
	}
	s.out = output.NewPrinter(live, output.PrinterOptions{Color: color, Redactor: s.redactor})
	s.out.SetHosts(s.hosts.Names())
	s.connect = connectOptions(c, s.log, s.forks)
	return s, nil
}

// selectHosts loads the inventory of -i and selects the hosts of --limit, or
// of pattern when --limit is not given.
func selectHosts(c *cli.Context, pattern string) (*inventory.Inventory, hosts.Hosts, error) {
	path := c.String(flagInventory)
	if path == "" {
		return nil, nil, usageErrorf("no inventory: pass -i FILE (or set %s)", envInventory)
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	if l := c.String(flagLimit); l != "" {
		pattern = l
	}
	sel, err := inv.Select(pattern)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("--%s: %w", flagLimit, err)}
	}
	return inv, hosts.FromInventory(sel), nil
}

// connectOptions reads the ssh flags.
func connectOptions(c *cli.Context, log *slog.Logger, forks int) hosts.ConnectOptions {
	o := hosts.ConnectOptions{
		KnownHostsFiles:       c.StringSlice(flagKnownHosts),
		AcceptNewHostKeys:     c.Bool(flagAcceptNewHostKeys),
		InsecureIgnoreHostKey: c.Bool(flagInsecureIgnoreHost),
		Jump:                  c.String(flagJump),
		SSHConfigFile:         c.String(flagSSHConfig),
		ConnectTimeout:        c.Duration(flagConnectTimeout),
		Logger:                log,
		Forks:                 forks,
		Dial:                  dialHook,
	}
	if o.InsecureIgnoreHostKey {
		log.Warn("host keys are not checked (--"+flagInsecureIgnoreHost+")", output.HostKey, output.NoHost)
	}
	return o
}

// dial connects to every selected host; it is all or nothing.
func (s *session) dial(ctx context.Context) error {
	return hosts.Connect(ctx, s.hosts, s.connect)
}

// env is the phases' shared environment for this session.
func (s *session) env(vars, extra map[string]any, dryRun bool) *phases.Env {
	return &phases.Env{
		Hosts:     s.hosts,
		Selector:  s.inv,
		Templates: s.tmpl,
		Vars:      vars,
		ExtraVars: extra,
		Forks:     s.forks,
		DryRun:    dryRun,
		Out:       s.out,
		Logger:    s.log,
	}
}

// finish prints the report (summary table, or JSON on stdout) and turns the
// run's error into the exit code.
func (s *session) finish(rep *output.Report, runErr error) error {
	if rep == nil && runErr != nil {
		// -o json always prints one document, also when nothing could run;
		// so does the report beside the run log.
		doc := &output.Report{Action: s.action, Status: output.StatusFailed, Error: runErr.Error(),
			Hosts: s.hosts.Names(), Phases: []output.PhaseResult{}}
		if err := s.emit(func(w io.Writer) error { return output.WriteJSON(w, doc, s.redactor) }, nil); err != nil {
			return err
		}
	}
	if rep != nil {
		err := s.emit(func(w io.Writer) error { return output.WriteJSON(w, rep, s.redactor) },
			func() error { return s.writeTable(rep) })
		if err != nil {
			return err
		}
	}
	return s.exitError(runErr)
}

// emit prints the run's outcome: with doc under -o json, else with text
// (nil: nothing). doc, the JSON document, is also recorded as the report
// that lands beside the run log, whatever -o says.
func (s *session) emit(doc func(io.Writer) error, text func() error) error {
	if s.con != nil {
		s.con.setReport(doc)
	}
	if s.json {
		return doc(s.stdout)
	}
	if text != nil {
		return text()
	}
	return nil
}

// exitError turns a run's error into the command's: its exit code, and its
// message with the session's secrets masked.
func (s *session) exitError(runErr error) error {
	if runErr == nil {
		return nil
	}
	code := exitFailed
	var ec ExitCoder
	switch {
	case errors.Is(runErr, context.Canceled):
		code = exitCancelled
	case errors.As(runErr, &ec) && ec.ExitCode() != 0:
		code = ec.ExitCode()
	}
	return &exitError{code: code, err: &redactedError{err: runErr, red: s.redactor}}
}

// redactedError masks secrets in an error's message; errors.Is and errors.As
// still see the whole chain.
type redactedError struct {
	err error
	red *output.Redactor
}

func (e *redactedError) Error() string { return e.red.Redact(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

func (s *session) close() { _ = s.hosts.Close() }

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, usageErrorf("--%s %q: want debug, info, warn or error", flagLogLevel, s)
	}
	return l, nil
}

// extraVars parses repeated -e key=value flags.
func extraVars(c *cli.Context) (map[string]any, error) {
	ev, err := phases.ParseExtraVars(c.StringSlice(flagExtraVars))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return ev, nil
}

// snapshotBars draws one "snapshot" progress bar per host on prog (the
// Progress option of the restore, backups create and backups push).
func snapshotBars(prog *output.Progress) func(host string, total int64) (func(int64), func(error)) {
	return func(host string, total int64) (func(int64), func(error)) {
		bar := prog.Bar(host, "snapshot", total)
		return bar.SetCurrent, func(err error) {
			if err != nil {
				bar.Abort()
			} else {
				bar.Done()
			}
		}
	}
}

// writeTable prints the summary table of rep after a blank line: coloured
// on a colour terminal, and then plain in the run log (colour escapes would
// misalign its columns there).
func (s *session) writeTable(rep *output.Report) error {
	o := output.TableOptions{Color: s.out.Color(), Redactor: s.redactor}
	if t, ok := s.stdout.(output.Tee); ok && o.Color && t.LogWriter() != nil {
		plain := o
		plain.Color = false
		fmt.Fprintln(t.LogWriter())
		if err := output.WriteTable(t.LogWriter(), rep, plain); err != nil {
			return err
		}
		fmt.Fprintln(t.TermWriter())
		return output.WriteTable(t.TermWriter(), rep, o)
	}
	fmt.Fprintln(s.stdout)
	return output.WriteTable(s.stdout, rep, o)
}

// Package cmd is ncnpush's command line: one file per command, flag names as
// constants in flags.go. It only parses and wires; the work lives in the
// library packages (inventory, facts, templates, tasks, phases, transport, backups).
package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/output"
)

// Version is set at build time with -ldflags "-X github.com/ncnpush/ncnpush/cmd.Version=...".
var Version = "dev"

// ExitCoder lets an error pick the process exit code.
type ExitCoder interface{ ExitCode() int }

// NewApp builds the command tree.
func NewApp() *cli.App {
	app := &cli.App{
		Name:                 "ncnpush",
		Usage:                "restore bare-metal etcd on CSM master NCNs from S3, and push other NCN tasks over SSH",
		Version:              Version,
		EnableBashCompletion: true,
		HideHelpCommand:      false,
		Description: `ncnpush is a push executor for HPE Cray EX (CSM) non-compute nodes. It renders
embedded shell templates with facts read from each node and runs them over SSH,
in parallel or serial phases, with strict host-key checking.`,
		Commands: []*cli.Command{
			execCommand(),
			runCommand(),
			tasksCommand(),
			templatesCommand(),
			etcdCommand(),
			backupsCommand(),
			k8sCommand(),
		},
		// Errors are printed once, by Main, as one line.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	armRunLogs(app.Commands, "")
	return app
}

// Main runs the app and returns the process exit code. It is the only place
// that decides how ncnpush exits.
func Main(args []string) int { return mainTo(args, os.Stdout, os.Stderr) }

// mainTo is Main writing to stdout and stderr. A command that was asked for
// -o json and fails before it has written anything (a bad inventory, a bad
// flag) still prints one JSON document, so that a script always has one to
// read. A command that changes nodes writes through a console that keeps a
// run log and ends with its report (see runLogHelp).
func mainTo(args []string, stdout, stderr io.Writer) int {
	app := NewApp()
	con := newConsole(stdout, stderr, os.Stdin)
	app.Writer, app.ErrWriter, app.Reader = con.out, con.err, con.in
	wantJSON := false
	app.ExitErrHandler = func(c *cli.Context, err error) {
		if err != nil && c != nil && c.String(flagOutput) == outputJSON {
			wantJSON = true
		}
	}
	err := app.Run(interspersed(app, args))
	code := exitCode(err)
	if err != nil && wantJSON && con.out.n.Load() == 0 {
		_ = writeJSON(con.out, failedOutput{Status: output.StatusFailed, Error: err.Error()})
	}
	// The report before the error line: that stays the last line on stderr.
	con.writeReport(err)
	if err != nil {
		fmt.Fprintf(con.err, "ncnpush: %v\n", err)
	}
	con.end(code)
	return code
}

// exitCode is the process exit code for a command's error.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

// failedOutput is the JSON document of a command that failed before it
// could write its own.
type failedOutput struct {
	Status output.Status `json:"status"`
	Error  string        `json:"error,omitempty"`
}

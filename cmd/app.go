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
	return &cli.App{
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
}

// Main runs the app and returns the process exit code. It is the only place
// that decides how ncnpush exits.
func Main(args []string) int { return mainTo(args, os.Stdout, os.Stderr) }

// mainTo is Main writing to stdout and stderr. A command that was asked for
// -o json and fails before it has written anything (a bad inventory, a bad
// flag) still prints one JSON document, so that a script always has one to
// read.
func mainTo(args []string, stdout, stderr io.Writer) int {
	app := NewApp()
	out := &countingWriter{w: stdout}
	app.Writer, app.ErrWriter = out, stderr
	wantJSON := false
	app.ExitErrHandler = func(c *cli.Context, err error) {
		if err != nil && c != nil && c.String(flagOutput) == outputJSON {
			wantJSON = true
		}
	}
	err := app.Run(interspersed(app, args))
	if err == nil {
		return 0
	}
	if wantJSON && out.n == 0 {
		_ = writeJSON(out, failedOutput{Status: output.StatusFailed, Error: err.Error()})
	}
	fmt.Fprintf(stderr, "ncnpush: %v\n", err)
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
	Error  string        `json:"error"`
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Fd is the wrapped writer's file descriptor, so that terminal detection
// (colours, progress bars) sees through the count; ^0 if it has none.
func (c *countingWriter) Fd() uintptr {
	if f, ok := c.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// Package cmd is ncnpush's command line: one file per command, flag names as
// constants in flags.go. It only parses and wires; the work lives in the
// library packages (inventory, facts, templates, tasks, phases, transport, backups).
package cmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
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
func Main(args []string) int {
	app := NewApp()
	err := app.Run(interspersed(app, args))
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "ncnpush: %v\n", err)
	var ec ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

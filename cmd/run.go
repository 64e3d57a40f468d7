package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// runCommand runs a task: a built-in one by name, or a task file by path.
func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a task (a built-in name, or a task file) on the selected hosts",
		ArgsUsage: "TASK|TASK.yaml",
		Description: `A task is a YAML file of ordered phases; each phase renders a template per host
and runs it with its strategy (parallel, serial, once, batch). A failed phase
stops the run; hosts already running in it finish.

Examples:
   ncnpush run -i inventory.yaml hostinfo
   ncnpush run -i inventory.yaml ./rotate-logs.yaml --templates ./site-templates -e keep=7
   ncnpush run -i inventory.yaml ./rotate-logs.yaml --dry-run`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"}, Usage: "set a task variable `key=value` (repeatable)"},
			&cli.BoolFlag{Name: flagDryRun, Usage: "render and print every script; run only read-only phases"},
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("run takes one task: ncnpush run -i INV TASK")
			}
			task, err := tasks.Load(c.Args().First())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			s, err := newSession(c, "all")
			if err != nil {
				return err
			}
			defer s.close()
			if err := task.Validate(s.tmpl); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			extra, err := extraVars(c)
			if err != nil {
				return err
			}
			if extra, err = task.CheckVars(extra); err != nil {
				return s.finish(nil, &exitError{code: exitUsage, err: fmt.Errorf("-e: %w", err)})
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			rep, err := phases.RunTask(ctx, s.env(nil, extra, c.Bool(flagDryRun)), task)
			return s.finish(rep, err)
		},
	}
}

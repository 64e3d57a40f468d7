package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/ncnpush/ncnpush/tasks"
)

// tasksCommand lists and shows tasks.
func tasksCommand() *cli.Command {
	return &cli.Command{
		Name:  "tasks",
		Usage: "list the built-in tasks, or show one",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the built-in tasks",
				Action: func(c *cli.Context) error {
					all, err := tasks.List()
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
					fmt.Fprintln(w, "NAME\tPHASES\tDESCRIPTION")
					for _, t := range all {
						fmt.Fprintf(w, "%s\t%d\t%s\n", t.Name, len(t.Phases), t.Description)
					}
					return w.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "show a task (built-in name or file) as ncnpush reads it",
				ArgsUsage: "TASK",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageErrorf("tasks show takes one task name or file")
					}
					t, err := tasks.Load(c.Args().First())
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					b, err := yaml.Marshal(t)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "# %s (%s)\n%s", t.Name, t.Origin, b)
					return nil
				},
			},
		},
	}
}

package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/templates"
)

// templatesCommand lists and shows templates, the built-in ones and those a
// --templates directory overrides or adds.
func templatesCommand() *cli.Command {
	dirFlag := &cli.StringFlag{Name: flagTemplates, EnvVars: []string{envTemplates},
		Usage: "`DIR` of *.sh.tmpl that override or add to the built-in templates"}
	return &cli.Command{
		Name:  "templates",
		Usage: "list the shell templates, or show one",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the templates and where each comes from",
				Flags: []cli.Flag{dirFlag},
				Action: func(c *cli.Context) error {
					set, err := templates.New(c.String(flagTemplates))
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
					fmt.Fprintln(w, "NAME\tORIGIN")
					for _, name := range set.List() {
						src, err := set.Source(name)
						if err != nil {
							return err
						}
						fmt.Fprintf(w, "%s\t%s\n", name, src.Origin)
					}
					return w.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "print a template's source",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{dirFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageErrorf("templates show takes one template name")
					}
					set, err := templates.New(c.String(flagTemplates))
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					src, err := set.Source(c.Args().First())
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					fmt.Fprint(c.App.Writer, src.Text)
					return nil
				},
			},
		},
	}
}

package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// execCommand runs an ad-hoc command line on hosts, like `ansible -m shell`.
func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run an ad-hoc command on the selected hosts, in parallel",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: `The command line is joined with spaces and run by bash on every host, as typed
into a shell there. Output lines are prefixed with the host.

Examples:
   ncnpush exec -i inventory.yaml -- uname -r
   ncnpush exec -i hosts.ini --limit 'ncn-m00[1:2]' --forks 2 -- systemctl is-active etcd
   ncnpush exec -i inventory.yaml -o json -- 'df -h /var/lib/etcd'`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErrorf("exec needs a command: ncnpush exec -i INV -- COMMAND")
			}
			s, err := newSession(c, "all")
			if err != nil {
				return err
			}
			defer s.close()
			task, err := tasks.LoadBuiltin("exec")
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			env := s.env(nil, map[string]any{"command": strings.Join(c.Args().Slice(), " ")}, false)
			rep, err := phases.RunTask(ctx, env, task)
			return s.finish(rep, err)
		},
	}
}

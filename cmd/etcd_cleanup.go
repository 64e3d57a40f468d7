package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// etcdCleanupCommand is `ncnpush etcd cleanup`.
func etcdCleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "list the member directories earlier restores kept; remove them with --yes",
		Description: `A restore never deletes a member directory: it keeps member.pre-restore-<run>
(and, after a rollback, member.failed-restore-<run>) in the data directory.
Once the restored cluster is known good, remove them here.

Examples:
   ncnpush etcd cleanup -i inventory.yaml          # list
   ncnpush etcd cleanup -i inventory.yaml --yes    # remove`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "remove them (without it, only list)"},
		}),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, "masters")
			if err != nil {
				return err
			}
			defer s.close()
			task, err := tasks.LoadBuiltin("etcd-cleanup")
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			rep, err := phases.RunTask(ctx, s.env(nil, map[string]any{"remove": c.Bool(flagYes)}, false), task)
			return s.finish(rep, err)
		},
	}
}

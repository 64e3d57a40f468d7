package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
)

// etcdCleanupCommand is `ncnpush etcd cleanup`.
func etcdCleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "list the member directories earlier restores kept; remove the ones --run or --older-than selects with --yes",
		Description: `A restore never deletes a member directory: it keeps member.pre-restore-<run>
(and, after a rollback, member.failed-restore-<run>) in the data directory.
Once the restored cluster is known good, remove them here.

Without --yes it only lists (and marks what --run or --older-than selects).
With --yes it removes exactly what they select, and nothing while a restore
is interrupted on any master (ncnpush etcd recover ends it), etcd is held
stopped, a member is unhealthy, or another ncnpush run holds a lock; it holds
the restore lock while it removes.

Examples:
   ncnpush etcd cleanup -i inventory.yaml                                   # list
   ncnpush etcd cleanup -i inventory.yaml --run 20260212T101500Z-3fa9c2d1 --yes
   ncnpush etcd cleanup -i inventory.yaml --older-than 168h --yes`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.StringFlag{Name: flagRun, Usage: "select the directories kept by run `ID` (as the restore printed it)"},
			&cli.DurationFlag{Name: flagOlderThan, Usage: "select the directories of runs older than `DURATION` (e.g. 168h)"},
			&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "remove what is selected (without it, only list)"},
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a restore variable `key=value` (data_dir, state_dir, ...)"},
		}),
		Action: func(c *cli.Context) error {
			if c.Bool(flagYes) && c.String(flagRun) == "" && c.Duration(flagOlderThan) == 0 {
				return usageErrorf("--%s removes only what --%s ID or --%s DURATION selects", flagYes, flagRun, flagOlderThan)
			}
			s, extra, err := etcdSession(c)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			rep, err := etcdrestore.Cleanup(ctx, etcdrestore.MaintOptions{
				Env: s.env(nil, nil, false), Vars: extra, Yes: c.Bool(flagYes),
				Run: c.String(flagRun), OlderThan: c.Duration(flagOlderThan), Prompt: c.App.ErrWriter,
			})
			return s.finish(rep, err)
		},
	}
}

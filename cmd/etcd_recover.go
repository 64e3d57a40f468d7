package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
)

// etcdRecoverCommand is `ncnpush etcd recover`.
func etcdRecoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "end a restore that was interrupted (workstation died, run killed): roll back, or --complete it",
		Description: `Every master keeps a journal of each restore (in state_dir, root 0700): the run,
its paths and every step it reached. A restore that ends without closing it
(ncnpush killed, the workstation powered off, the link lost) shows up in
ncnpush etcd status as "restore RUN interrupted", and the next restore refuses
to start. This command ends it, under the restore lock:

  default     every master gets back the member it had before that restore
              (the rollback the restore would have done): etcd held and
              stopped, member/ moved to member.failed-restore-RUN, the
              member.pre-restore-RUN directory put back, every member started
              together and verified.
  --complete  when every master finished the swap: the restored members are
              started together and verified instead.

A run that passed its verification (its journal says "verified") is never
rolled back: only its clean-up was left, and that is what recover does.
Either way the staged snapshot is removed and the journals are closed. A run
that never stopped etcd only has its staged snapshot removed. Run it again,
or after it was itself interrupted: it does what is left, and the members end
with the original data or the backup's, never a mix. Nothing to recover is
not an error (exit 0).

Examples:
   ncnpush etcd status  -i inventory.yaml
   ncnpush etcd recover -i inventory.yaml --dry-run
   ncnpush etcd recover -i inventory.yaml --yes
   ncnpush etcd recover -i inventory.yaml --complete`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.BoolFlag{Name: flagComplete, Usage: "finish the interrupted restore (start and verify) instead of rolling it back"},
			&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "do not ask for the typed confirmation"},
			&cli.BoolFlag{Name: flagDryRun, Usage: "show what it would do, change nothing"},
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a restore variable `key=value` (state_dir, start_timeout, ...)"},
		}),
		Action: func(c *cli.Context) error {
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
			rep, res, err := etcdrestore.Recover(ctx, etcdrestore.MaintOptions{
				Env: s.env(nil, nil, c.Bool(flagDryRun)), Vars: extra, Yes: c.Bool(flagYes), DryRun: c.Bool(flagDryRun),
				Complete: c.Bool(flagComplete), Stdin: c.App.Reader, Prompt: c.App.ErrWriter,
			})
			if err == nil && res.Run != "" && !c.Bool(flagDryRun) {
				s.out.Printf("recovered restore %s (%s)", res.Run, res.Mode)
			}
			if err != nil {
				err = fmt.Errorf("etcd recover: %w", err)
			}
			return s.finish(rep, err)
		},
	}
}

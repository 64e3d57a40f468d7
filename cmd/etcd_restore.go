package cmd

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
	"github.com/ncnpush/ncnpush/k8sheal"
	"github.com/ncnpush/ncnpush/output"
)

// etcdRestoreCommand is `ncnpush etcd restore`.
func etcdRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "restore the bare-metal etcd cluster on every master from an S3 backup",
		Description: `Automates CSM's "Restore Bare-Metal etcd Clusters from an S3 Snapshot" on every
master at once: preflight (read-only checks and locks), stream the snapshot
from S3 to every master (0600, private staging directory, no local file),
restore into staging, confirm, stop etcd everywhere, move member/ aside to
member.pre-restore-<run> (never deleted), copy the restored member in, start
every member together, verify; roll back automatically if the new cluster
does not come up. The staged snapshot is removed on every path.

After a successful restore (not under --dry-run, not rolled back) it runs
` + "`ncnpush k8s heal`" + ` as its last step: the CronJobs that stopped being scheduled
are recreated and their stuck pods deleted (--skip-k8s-heal turns it off;
-e kubeconfig=..., -e api_timeout=... reach it too). If the heal fails, or no
API server is reachable, the restore is still reported as succeeded (status
ok, k8s_heal.status failed under -o json) and the exit code is 3.

Examples:
   ncnpush etcd restore -i inventory.yaml --backup latest
   ncnpush etcd restore -i hosts.ini --backup etcd-backup-2024-05-01-10-20-30 --yes -o json
   ncnpush etcd restore -i inventory.yaml --backup latest --before '2024-05-01 10:00' --dry-run`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), s3Flags(), []cli.Flag{
			&cli.StringFlag{Name: flagBackup, Aliases: []string{"b"}, Required: true,
				Usage: "`latest`, or a backup name (with or without bare-metal/ and .tar.gz)"},
			&cli.StringFlag{Name: flagBefore, Usage: "with --backup latest: the newest backup taken before `TIME`"},
			&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "do not ask for the typed confirmation"},
			&cli.BoolFlag{Name: flagDryRun, Usage: "check and render everything, change nothing"},
			&cli.BoolFlag{Name: flagBumpRevision, Usage: "restore with --bump-revision/--mark-compacted (etcdutl 3.5.10+)"},
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a task variable `key=value` (staging_dir, data_dir, start_timeout, ...)"},
			&cli.Int64Flag{Name: flagMaxDumpSize, Value: 16 << 30, Usage: "largest snapshot accepted, in bytes"},
			&cli.BoolFlag{Name: flagSkipK8sHeal, Usage: "do not run ncnpush k8s heal after a successful restore"},
			staleFactorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if f := c.Float64(flagStaleFactor); f < 1 {
				return usageErrorf("--%s %g: it must be at least 1", flagStaleFactor, f)
			}
			// The restore passes -e on to the heal that follows: its vars are
			// checked too.
			s, extra, err := etcdSession(c, k8sheal.Task)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := signalContext(c)
			defer cancel()
			// Under -o json, a failure before any phase still prints its
			// one JSON document (s.finish).
			cl, err := newBackupsClient(ctx, c, s)
			if err != nil {
				return s.finish(nil, err)
			}
			b, err := selectBackup(ctx, cl, c.String(flagBackup), c.String(flagBefore))
			if err != nil {
				return s.finish(nil, err)
			}
			s.out.Printf("backup %s (%s, %d bytes) from s3://%s/%s", b.Name, b.Time.Format(time.RFC3339), b.Size, cl.Bucket(), b.Key)
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			prog := output.NewProgress(c.App.ErrWriter, output.ProgressOptions{Printer: s.out})
			defer prog.Wait()
			rep, res, err := etcdrestore.Run(ctx, etcdrestore.Options{
				Env:          s.env(nil, nil, c.Bool(flagDryRun)),
				Backups:      cl,
				Backup:       b,
				Vars:         extra,
				BumpRevision: c.Bool(flagBumpRevision),
				Yes:          c.Bool(flagYes),
				DryRun:       c.Bool(flagDryRun),
				Stdin:        c.App.Reader,
				Prompt:       c.App.ErrWriter,
				AfterVerify:  afterVerify(c),
				MaxDumpSize:  c.Int64(flagMaxDumpSize),
				Progress:     snapshotBars(prog),
			})
			for host, dir := range res.Kept {
				s.out.Line(host, fmt.Sprintf("kept the pre-restore member: %s (ncnpush etcd cleanup removes it)", dir))
			}
			if err != nil || rep == nil || c.Bool(flagDryRun) || res.RolledBack {
				return s.finish(rep, err)
			}
			// The restore succeeded: Kubernetes is next. Its outcome never
			// turns the restore into a failure (see exitHealFailed).
			prog.Wait()
			heal, healErr := s.healAfterRestore(ctx, c, rep, extra)
			return s.finishRestore(rep, heal, healErr)
		},
	}
}

// afterVerify is the plan's last step: the heal that follows a verified
// restore, unless --skip-k8s-heal.
func afterVerify(c *cli.Context) string {
	if c.Bool(flagSkipK8sHeal) {
		return ""
	}
	return "heal Kubernetes: recreate the CronJobs the restore leaves stuck and delete their stuck pods (ncnpush k8s heal; --" + flagSkipK8sHeal + " skips it)"
}

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/backups"
)

// backupsCommand groups the S3 catalogue commands.
func backupsCommand() *cli.Command {
	return &cli.Command{
		Name:  "backups",
		Usage: "list, verify, prune and create the bare-metal etcd backups in S3",
		Subcommands: []*cli.Command{
			backupsListCommand(),
			backupsVerifyCommand(),
			backupsPruneCommand(),
			backupsCreateCommand(),
			backupsPushCommand(),
		},
	}
}

// secretFlags are the flags of the S3 commands that work without hosts, for
// --s3-credentials-from-secret: the master to run kubectl on and how to
// reach it.
func secretFlags() []cli.Flag {
	return concat(inventoryFlags(), sshFlags())
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, EnvVars: []string{envOutput}, Value: outputText,
		Usage: "text, or json"}
}

func wantJSON(c *cli.Context) (bool, error) {
	switch f := c.String(flagOutput); f {
	case outputText, "":
		return false, nil
	case outputJSON:
		return true, nil
	default:
		return false, usageErrorf("--%s %q: want %s or %s", flagOutput, f, outputText, outputJSON)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func backupsListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "every bare-metal/etcd-backup-* object, newest first",
		Description: `Examples:
   ncnpush backups list --s3-endpoint http://rgw-vip
   ncnpush backups list -o json`,
		Flags: concat(s3Flags(), secretFlags(), logFlags(), []cli.Flag{outputFlag()}),
		Action: withBackupsClient(func(ctx context.Context, c *cli.Context, cl *backups.Client, asJSON bool) error {
			all, err := cl.List(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.App.Writer, all)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTAKEN (UTC)\tAGE\tSIZE")
			now := time.Now()
			for _, b := range all {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", b.Name, b.Time.Format("2006-01-02 15:04:05"), now.Sub(b.Time).Round(time.Second), b.Size)
			}
			fmt.Fprintf(w, "%d backups in s3://%s/%s\n", len(all), cl.Bucket(), cl.Prefix())
			return w.Flush()
		}),
	}
}

func backupsVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "stream a backup and check its layout, sha256 and etcd snapshot, keeping nothing on disk",
		ArgsUsage: "NAME|latest",
		Flags: concat(s3Flags(), secretFlags(), logFlags(), []cli.Flag{outputFlag(),
			&cli.StringFlag{Name: flagBefore, Usage: "with latest: the newest backup taken before `TIME`"}}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("backups verify takes one backup name (or latest)")
			}
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			cl, err := newBackupsClient(ctx, c, nil)
			if err != nil {
				return err
			}
			b, err := selectBackup(ctx, cl, c.Args().First(), c.String(flagBefore))
			if err != nil {
				return err
			}
			res, err := cl.Verify(ctx, b)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "%s: ok\n  dump size  %d bytes\n  sha256     %s\n  revision   %d\n  keys       %d (live %d)\n",
				b.Name, res.DumpSize, res.SHA256, res.Snapshot.Revision, res.Snapshot.TotalKey, res.Snapshot.LiveKeys)
			return nil
		},
	}
}

func backupsPruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "delete the backups the retention policy does not keep (only with --yes)",
		Flags: concat(s3Flags(), secretFlags(), logFlags(), []cli.Flag{outputFlag(),
			&cli.IntFlag{Name: flagKeepLast, Value: backups.DefaultPolicy.KeepLast, Usage: "keep the newest N"},
			&cli.IntFlag{Name: flagKeepHourly, Value: backups.DefaultPolicy.KeepHourly, Usage: "keep the newest of each of the last N hours"},
			&cli.IntFlag{Name: flagKeepDaily, Value: backups.DefaultPolicy.KeepDaily, Usage: "keep the newest of each of the last N days"},
			&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "delete (without it, only show what would go)"},
		}),
		Action: withBackupsClient(func(ctx context.Context, c *cli.Context, cl *backups.Client, asJSON bool) error {
			all, err := cl.List(ctx)
			if err != nil {
				return err
			}
			keep, drop := backups.Prune(all, backups.Policy{KeepLast: c.Int(flagKeepLast),
				KeepHourly: c.Int(flagKeepHourly), KeepDaily: c.Int(flagKeepDaily)}, time.Now())
			deleted := false
			if c.Bool(flagYes) && len(drop) > 0 {
				keys := make([]string, len(drop))
				for i, b := range drop {
					keys[i] = b.Key
				}
				if err := cl.Delete(ctx, keys); err != nil {
					return err
				}
				deleted = true
			}
			if asJSON {
				return writeJSON(c.App.Writer, map[string]any{"keep": keep, "drop": drop, "deleted": deleted})
			}
			verb := "would delete"
			if deleted {
				verb = "deleted"
			}
			for _, b := range drop {
				fmt.Fprintf(c.App.Writer, "%s %s\n", verb, b.Key)
			}
			fmt.Fprintf(c.App.Writer, "keep %d, %s %d", len(keep), verb, len(drop))
			if !deleted && len(drop) > 0 {
				fmt.Fprint(c.App.Writer, " (pass --yes to delete)")
			}
			fmt.Fprintln(c.App.Writer)
			return nil
		}),
	}
}

// withBackupsClient is the common start of the backups subcommands: the
// output format, a signal-aware context and the S3 client.
func withBackupsClient(run func(ctx context.Context, c *cli.Context, cl *backups.Client, asJSON bool) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		asJSON, err := wantJSON(c)
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(c)
		defer cancel()
		cl, err := newBackupsClient(ctx, c, nil)
		if err != nil {
			return err
		}
		return run(ctx, c, cl, asJSON)
	}
}

package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/staging"
	"github.com/ncnpush/ncnpush/tasks"
)

// backupsPushCommand is `ncnpush backups push`.
func backupsPushCommand() *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "stage a backup's etcd snapshot on every master (private directory, checked), changing nothing else",
		Description: `Pre-stages a backup before an incident, or ahead of a manual restore: makes a
private directory (0700) on every selected host, streams the backup from S3
through gzip and tar to every host at once (no file on this machine), as
<dest>/<backup name>-etcd-dump.bin, mode 0600. The stream checks the sha256
etcd appended to the snapshot, SSH authenticates every byte, and every host's
copy is checked for mode, owner and exact size, with its sha256 recorded beside
it as <file>.sha256 for sha256sum -c. --verify also reads every copy back on
its host and compares the sums (this reads the whole snapshot again on every
host). etcd is not touched. A copy is written to a temporary name and renamed
only when whole; an earlier copy of the same backup is replaced.

Examples:
   ncnpush backups push -i inventory.yaml --backup latest
   ncnpush backups push -i inventory.yaml --backup etcd-backup-2024-05-01-10-20-30 --dest /root/etcd-staged
   ncnpush backups push -i hosts.ini --limit ncn-m001 --backup latest --dry-run`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), s3Flags(), []cli.Flag{
			&cli.StringFlag{Name: flagBackup, Aliases: []string{"b"}, Required: true,
				Usage: "`latest`, or a backup name (with or without bare-metal/ and .tar.gz)"},
			&cli.StringFlag{Name: flagBefore, Usage: "with --backup latest: the newest backup taken before `TIME`"},
			&cli.StringFlag{Name: flagDest,
				Usage: "private `DIR` on every host the snapshot is staged in (made 0700; default: the task's dest_dir, /var/lib/ncnpush-backups, or each host's inventory var)"},
			&cli.BoolFlag{Name: flagVerify, Usage: "also read every staged copy back on its host and compare its sha256"},
			&cli.BoolFlag{Name: flagDryRun, Usage: "check and render everything, change nothing"},
			&cli.Int64Flag{Name: flagMaxDumpSize, Value: 16 << 30, Usage: "largest snapshot accepted, in bytes"},
		}),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, "masters")
			if err != nil {
				return err
			}
			defer s.close()
			dest := c.String(flagDest)
			if dest != "" {
				if _, err := tasks.CheckBuiltinVars(map[string]any{"dest_dir": dest}, staging.TaskPush); err != nil {
					return usageErrorf("--%s: %v", flagDest, err)
				}
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			cl, err := newBackupsClient(ctx, c, s)
			if err != nil {
				return err
			}
			b, err := selectBackup(ctx, cl, c.String(flagBackup), c.String(flagBefore))
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			s.out.Printf("backup %s (%d bytes) from s3://%s/%s", b.Name, b.Size, cl.Bucket(), b.Key)
			if err := s.dial(ctx); err != nil {
				return s.finishPush(nil, staging.Result{}, err)
			}
			prog := output.NewProgress(c.App.ErrWriter, output.ProgressOptions{Printer: s.out})
			rep, res, err := staging.Run(ctx, staging.Options{
				Env:         s.env(nil, nil, c.Bool(flagDryRun)),
				Backups:     cl,
				Backup:      b,
				Dest:        dest,
				MaxDumpSize: c.Int64(flagMaxDumpSize),
				DryRun:      c.Bool(flagDryRun),
				Verify:      c.Bool(flagVerify),
				Prompt:      c.App.ErrWriter,
				Progress:    snapshotBars(prog),
			})
			prog.Wait()
			return s.finishPush(rep, res, err)
		},
	}
}

// pushOutput is the one JSON document `backups push -o json` prints.
type pushOutput struct {
	Status output.Status `json:"status"`
	Error  string        `json:"error,omitempty"`
	// Staged is where the snapshot is on every host; empty unless every
	// host holds a checked copy.
	Staged *staging.Result `json:"staged,omitempty"`
	// Report is every phase on every host.
	Report *output.Report `json:"report"`
}

// finishPush prints the report and where the snapshot is staged (a table
// and a summary, or one JSON document) and turns err into the exit code.
func (s *session) finishPush(rep *output.Report, res staging.Result, err error) error {
	if rep == nil {
		rep = &output.Report{Action: staging.TaskPush, Status: output.StatusFailed,
			Hosts: s.hosts.Names(), Phases: []output.PhaseResult{}}
		if err != nil {
			rep.Error = err.Error()
		}
	}
	ok := err == nil && res.SHA256 != ""
	doc := pushOutput{Status: output.StatusOK, Report: rep.Redacted(s.redactor)}
	if err != nil {
		doc.Status, doc.Error = output.StatusFailed, s.redactor.Redact(err.Error())
	}
	if ok {
		doc.Staged = &res
	}
	text := func() error {
		if len(rep.Phases) > 0 {
			return s.writeTable(rep)
		}
		return nil
	}
	if werr := s.emit(func(w io.Writer) error { return writeJSON(w, doc) }, text); werr != nil {
		return werr
	}
	if s.json {
		return s.exitError(err)
	}
	if ok {
		fmt.Fprintf(s.stdout, "\nsnapshot staged and checked on %d hosts (%s)\n", len(res.Hosts), strings.Join(res.Hosts, ", "))
		fmt.Fprintf(s.stdout, "  path       %s (0600, directory 0700)\n", res.Path)
		fmt.Fprintf(s.stdout, "  size       %d bytes\n", res.Bytes)
		fmt.Fprintf(s.stdout, "  sha256     %s (also in %s.sha256)\n", res.SHA256, res.Path)
	}
	return s.exitError(err)
}

package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdbackup"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/output"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// backupsCreateCommand is `ncnpush backups create`.
func backupsCreateCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "take a snapshot on a healthy master and store it in S3, as CSM's kube-etcdbackup does",
		Description: `Checks the S3 bucket, then every master's etcd member with etcdctl endpoint
health on 127.0.0.1, picks the first healthy one (in inventory order), runs
etcdctl snapshot save there into a private directory (mktemp -d), streams the
snapshot over SCP straight into S3 as <prefix>etcd-backup-<UTC time>.tar.gz
(CSM's layout; no file on this machine), downloads and verifies the stored
object, and always removes the snapshot from the master. A master that cannot
be reached is reported and skipped.

Examples:
   ncnpush backups create -i inventory.yaml
   ncnpush backups create -i inventory.yaml --limit ncn-m002 -o json
   ncnpush backups create -i inventory.yaml --s3-credentials-from-secret default/etcd-backup-s3-credentials`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), s3Flags(), []cli.Flag{
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a task variable `key=value` (tmp_dir, pki_dir, snapshot_timeout)"},
		}),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, "masters")
			if err != nil {
				return err
			}
			defer s.close()
			extra, err := extraVars(c)
			if err != nil {
				return err
			}
			if extra, err = tasks.CheckBuiltinVars(extra, etcdbackup.TaskCreate, etcdbackup.TaskFinish); err != nil {
				return s.finishCreate(nil, etcdbackup.Result{}, "", &exitError{code: exitUsage, err: fmt.Errorf("-e: %w", err)})
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dialAny(ctx); err != nil {
				return s.finishCreate(nil, etcdbackup.Result{}, "", err)
			}
			cl, err := newBackupsClient(ctx, c, s)
			if err != nil {
				return s.finishCreate(nil, etcdbackup.Result{}, "", err)
			}
			prog := output.NewProgress(c.App.ErrWriter, output.ProgressOptions{Printer: s.out})
			rep, res, err := etcdbackup.Run(ctx, etcdbackup.Options{
				Env:      s.env(nil, nil, false),
				Backups:  cl,
				Vars:     extra,
				Progress: snapshotBars(prog),
			})
			prog.Wait()
			return s.finishCreate(rep, res, cl.Bucket(), err)
		},
	}
}

// createOutput is the one JSON document `backups create -o json` prints.
type createOutput struct {
	Status output.Status `json:"status"`
	Error  string        `json:"error,omitempty"`
	// Name is the backup's name; Key, Bucket and Size locate the stored
	// object (empty unless it was stored and verified).
	Name   string `json:"name,omitempty"`
	Key    string `json:"key,omitempty"`
	Bucket string `json:"bucket,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// DumpSize, SHA256, Revision and Keys describe etcd-dump.bin as the
	// verification of the stored object found it.
	DumpSize int64  `json:"dumpSize,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	Keys     int    `json:"keys,omitempty"`
	LiveKeys int    `json:"liveKeys,omitempty"`
	// Host is the master the snapshot was taken on.
	Host string `json:"host,omitempty"`
	// Report is every phase on every host.
	Report *output.Report `json:"report"`
}

// finishCreate prints the report and the backup (a table and a summary, or
// one JSON document) and turns err into the exit code.
func (s *session) finishCreate(rep *output.Report, res etcdbackup.Result, bucket string, err error) error {
	if rep == nil {
		rep = &output.Report{Action: etcdbackup.TaskCreate, Status: output.StatusFailed,
			Hosts: s.hosts.Names(), Phases: []output.PhaseResult{}}
		if err != nil {
			rep.Error = err.Error()
		}
	}
	ok := err == nil && res.Backup != nil && res.Verify != nil
	doc := createOutput{Status: output.StatusOK, Name: res.Name, Host: res.Host, Report: rep.Redacted(s.redactor)}
	if err != nil {
		doc.Status, doc.Error = output.StatusFailed, s.redactor.Redact(err.Error())
	}
	if ok {
		v := res.Verify
		doc.Key, doc.Bucket, doc.Size = res.Backup.Key, bucket, res.Backup.Size
		doc.DumpSize, doc.SHA256, doc.Revision = v.DumpSize, v.SHA256, v.Snapshot.Revision
		doc.Keys, doc.LiveKeys = v.Snapshot.TotalKey, v.Snapshot.LiveKeys
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
		v := res.Verify
		fmt.Fprintf(s.stdout, "\nbackup %s stored and verified\n", res.Name)
		fmt.Fprintf(s.stdout, "  key        s3://%s/%s\n", bucket, res.Backup.Key)
		fmt.Fprintf(s.stdout, "  size       %d bytes (etcd-dump.bin %d bytes)\n", res.Backup.Size, v.DumpSize)
		fmt.Fprintf(s.stdout, "  sha256     %s (etcd-dump.bin, the same on %s)\n", v.SHA256, res.Host)
		fmt.Fprintf(s.stdout, "  revision   %d\n", v.Snapshot.Revision)
		fmt.Fprintf(s.stdout, "  keys       %d (live %d)\n", v.Snapshot.TotalKey, v.Snapshot.LiveKeys)
		fmt.Fprintf(s.stdout, "  taken on   %s\n", res.Host)
	}
	return s.exitError(err)
}

// dialAny connects to every selected host it can reach. A host that cannot
// be reached is reported and left without a connection (its phases then
// fail for it alone); dialAny fails only when no host can be reached.
func (s *session) dialAny(ctx context.Context) error {
	errs := make([]error, len(s.hosts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.forks)
	for i, h := range s.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = connectOne(ctx, h, s.connect)
		}()
	}
	wg.Wait()
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == len(s.hosts) {
		return fmt.Errorf("%w: no host could be reached: %s", hosts.ErrConnect, strings.Join(msgs, "; "))
	}
	for _, m := range msgs {
		s.out.Errorf("%s (continuing without it)", m)
	}
	return nil
}

// connectOne connects h unless it is connected already. Its error is the
// transport's: one line naming the host.
func connectOne(ctx context.Context, h *hosts.Host, o hosts.ConnectOptions) error {
	if h.Conn != nil {
		return nil
	}
	if o.Dial != nil {
		c, err := o.Dial(ctx, h)
		if err != nil {
			return err
		}
		h.Conn = c
		return nil
	}
	c, err := transport.Dial(ctx, o.TransportConfig(h))
	if err != nil {
		return err
	}
	h.Conn = c
	return nil
}

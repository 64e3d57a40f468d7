package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
)

// etcdStatusCommand is `ncnpush etcd status`.
func etcdStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show every member's health, leader, revision, DB size and version",
		Description: `Examples:
   ncnpush etcd status -i inventory.yaml
   ncnpush etcd status -i inventory.yaml -o json`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, "masters")
			if err != nil {
				return err
			}
			defer s.close()
			task, err := tasks.LoadBuiltin(etcdrestore.TaskStatus)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(c)
			defer cancel()
			if err := s.dial(ctx); err != nil {
				return s.finish(nil, err)
			}
			s.out = nil // the table says it all
			if _, err := phases.RunTask(ctx, s.env(nil, nil, false), task); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			rows := etcdrestore.Statuses(s.hosts)
			unhealthy := 0
			for _, r := range rows {
				if !r.Healthy {
					unhealthy++
				}
			}
			if s.json {
				enc := json.NewEncoder(s.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "HOST\tMEMBER\tHEALTH\tLEADER\tREVISION\tKEYS\tDB SIZE\tVERSION\tMEMBERS")
				for _, r := range rows {
					if !r.Healthy {
						fmt.Fprintf(w, "%s\t-\tunhealthy: %s\t\t\t\t\t\t\n", r.Host, r.Error)
						continue
					}
					leader := ""
					if r.Leader {
						leader = "leader"
					}
					fmt.Fprintf(w, "%s\t%s\thealthy\t%s\t%d\t%d\t%d\t%s\t%d\n", r.Host, r.Member, leader, r.Revision, r.Keys, r.DBSize, r.Version, r.Members)
				}
				w.Flush()
			}
			if unhealthy > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d members unhealthy", unhealthy, len(rows))}
			}
			return nil
		},
	}
}

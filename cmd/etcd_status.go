package cmd

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
	"github.com/ncnpush/ncnpush/hosts"
)

// etcdStatusCommand is `ncnpush etcd status`.
func etcdStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show every member's health, leader, revision, DB size and version, and what restores left on each master",
		Description: `Answers for every master it can reach (an unreachable one gets a row that says
so). Per master it also shows what ncnpush's restores left there: the hold
drop-in (etcd held stopped), the lock and its holder, the member directories
kept (with sizes), staging directories left behind, and a restore that was
interrupted ("restore RUN interrupted at STEP": ncnpush etcd recover ends it).
It exits 1 when a member is unhealthy or unreachable, or a restore is
interrupted.

Examples:
   ncnpush etcd status -i inventory.yaml
   ncnpush etcd status -i inventory.yaml -o json`,
		Flags: concat(inventoryFlags(), sshFlags(), runFlags(), logFlags(), []cli.Flag{
			&cli.StringSliceFlag{Name: flagExtraVars, Aliases: []string{"e"},
				Usage: "override a restore variable `key=value` (data_dir, state_dir, ...)"},
		}),
		Action: func(c *cli.Context) error {
			s, extra, err := etcdSession(c)
			if err != nil {
				return err
			}
			defer s.close()
			ctx, cancel := signalContext(c)
			defer cancel()
			failed := hosts.ConnectAny(ctx, s.hosts, s.connect)
			s.out = nil // the table says it all
			rows, err := etcdrestore.Status(ctx, etcdrestore.MaintOptions{Env: s.env(nil, nil, false), Vars: extra})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			for i := range rows {
				if e, ok := failed[rows[i].Host]; ok {
					rows[i].Error = "unreachable: " + firstLine(e.Error())
				}
			}
			interrupted := etcdrestore.Interrupted(rows)
			if s.json {
				enc := json.NewEncoder(s.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				writeStatus(s, rows, interrupted)
			}
			unhealthy := 0
			for _, r := range rows {
				if !r.Healthy {
					unhealthy++
				}
			}
			var problems []string
			if unhealthy > 0 {
				problems = append(problems, fmt.Sprintf("%d of %d members unhealthy or unreachable", unhealthy, len(rows)))
			}
			problems = append(problems, interrupted...)
			if len(problems) > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%s", strings.Join(problems, "; "))}
			}
			return nil
		},
	}
}

// writeStatus prints the member table, then what restores left on each
// master.
func writeStatus(s *session, rows []etcdrestore.NodeStatus, interrupted []string) {
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
	fmt.Fprintln(s.stdout)
	for _, r := range rows {
		switch {
		case !r.Reachable:
			fmt.Fprintf(s.stdout, "%s: not reachable: nothing known of what restores left there\n", r.Host)
			continue
		case r.State == nil:
			fmt.Fprintf(s.stdout, "%s: could not read what restores left: %s\n", r.Host, r.StateError)
			continue
		}
		st := r.State
		var parts []string
		parts = append(parts, "etcd "+orDash(st.Etcd))
		if st.Hold {
			parts = append(parts, "HOLD in place (etcd cannot start)")
		}
		if st.Lock != "" {
			parts = append(parts, "locked by "+st.Lock)
		}
		for _, j := range st.Journals {
			state := "INTERRUPTED"
			if strings.HasPrefix(st.Lock, "run "+j.Run+" ") {
				state = "running"
			}
			parts = append(parts, fmt.Sprintf("restore %s %s at %s", j.Run, state, orDash(j.Last())))
		}
		for _, d := range st.Kept {
			parts = append(parts, fmt.Sprintf("kept %s (%s)", path.Base(d.Path), mib(d.Bytes)))
		}
		for _, d := range st.Leftovers {
			parts = append(parts, fmt.Sprintf("staging left behind %s (%s)", d.Path, mib(d.Bytes)))
		}
		fmt.Fprintf(s.stdout, "%s: %s\n", r.Host, strings.Join(parts, "; "))
	}
	for _, l := range interrupted {
		fmt.Fprintf(s.stdout, "\n%s: run `ncnpush etcd recover` (a run that was verified is only cleaned up; any other is rolled back to the members from before it, or with --complete started and verified when every master swapped)\n", l)
	}
}

func mib(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

package e2e

// Cells of the fault suite (faults_test.go) about what a run leaves on the
// masters and what ends it: path variables refused before any connection,
// another user's files where the staging directory used to be, etcd
// cleanup while a restore is in its swap, and ncnpush killed with SIGKILL
// (the workstation dies) at a point where etcd is stopped or the members are
// swapped, then `ncnpush etcd status` and `ncnpush etcd recover`.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runNcnpushNoNet runs the binary as runNcnpush does, but in a network
// namespace of its own with no interface up (not even loopback): nothing,
// the lab's nodes and S3 included, can be reached from it.
func runNcnpushNoNet(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--net", "--", ncnpush(t)}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range lab.S3Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("unshare --net ncnpush: %v", err)
	}
	return r
}

// noConnectCell is a restore with one -e override that ncnpush must refuse
// before it connects anywhere (exit 2): fast, and the same refusal when
// nothing at all can be reached.
func noConnectCell(name, fault, override string, errHas []string, lineHas string) faultCell {
	return faultCell{
		name: name, fault: fault, phase: "arguments (before any connection)",
		code: 2, errHas: errHas, data: dataOriginal,
		run: func(t *testing.T, s *faultSuite) cellRun {
			args := s.restoreJSON("-e", override)
			start := time.Now()
			r := runNcnpush(t, "", args...)
			took := time.Since(start)
			if took > 5*time.Second {
				t.Errorf("the refusal took %s: it must come before any connection (instant)", took.Round(time.Millisecond))
			}
			msg := errorText(r.stderr)
			// One line per host, each a refusal of its own.
			for _, l := range strings.Split(msg, "\n") {
				if !strings.Contains(l, lineHas) {
					t.Errorf("error line %q lacks %q:\n%s", l, lineHas, msg)
				}
			}
			// The same run where no node and no S3 endpoint can be reached:
			// the same refusal, so it came before any connection.
			nn := runNcnpushNoNet(t, args...)
			first := func(r result) string { l, _, _ := strings.Cut(errorText(r.stderr), "\n"); return l }
			if nn.code != r.code || first(nn) != first(r) {
				t.Errorf("without any network: exit %d, %q; with it: exit %d, %q: the check is not before every connection",
					nn.code, first(nn), r.code, first(r))
			}
			return cellRun{r: r, note: fmt.Sprintf("refused in %.1f s, and the same without any network (unshare --net)", took.Seconds())}
		},
	}
}

// pauseLine is a line for overrideTemplate: it records the script's PID in
// mark (so that the test knows the point is reached, and can see the
// script's process end) and waits until goFile exists (2 minutes at most).
func pauseLine(mark, goFile string) string {
	return fmt.Sprintf(`echo "$BASHPID" >%[1]s.tmp && mv -f %[1]s.tmp %[1]s; for _i in $(seq 1200); do [ -e %[2]s ] && break; sleep 0.1; done`,
		mark, goFile)
}

// waitNodeSideEnded waits until, on every node, the script that wrote its
// PID into mark has ended and the restore lock is free: what a killed
// ncnpush leaves must end by itself once its SSH connections close.
func waitNodeSideEnded(t *testing.T, mark string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for {
		var busy []string
		for _, n := range lab.Nodes {
			out, _ := lab.SSH(t, n, "p=$(cat "+mark+" 2>/dev/null); if [ -n \"$p\" ] && kill -0 \"$p\" 2>/dev/null; then echo script-alive; fi; "+
				"if [ -e "+lockFile+" ] && ! flock -n "+lockFile+" true; then echo lock-held; fi; true")
			if out = strings.TrimSpace(out); out != "" {
				busy = append(busy, n+": "+strings.ReplaceAll(out, "\n", ", "))
			}
		}
		if len(busy) == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("45 s after ncnpush was killed, its node side still runs: %s", strings.Join(busy, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// killSpec is where a killCell kills ncnpush.
type killSpec struct {
	name, phase string
	phaseTitle  string // the phase whose template pauses
	tmpl        string // that template, paused before the line that starts with anchor
	anchor      string
	step        string // the last step every master's journal then records
	// complete: recover with --complete (every master swapped), and expect
	// the backup's data; otherwise the rollback and the original data.
	complete bool
	// tryRestore: before recovering, a restore must refuse to run over the
	// interrupted run.
	tryRestore bool
	// refuseComplete: before recovering, recover --complete must refuse
	// (exit 1, changing nothing).
	refuseComplete bool
	// setup overrides more templates in dir (say, to make the start fail).
	setup func(t *testing.T, dir string)
}

// killCell kills ncnpush with SIGKILL once the overridden template reached
// its point on every master, then checks what an operator sees and does:
// `etcd status` names the interrupted run and where it stopped (exit 1),
// `etcd recover --yes` (--complete) ends it (exit 0), and a second recover
// has nothing left to do. runCell then checks the data, the staging and
// the journals.
func killCell(k killSpec) faultCell {
	name, phaseTitle, tmpl, anchor, step, complete, tryRestore := k.name, k.phaseTitle, k.tmpl, k.anchor, k.step, k.complete, k.tryRestore
	data, how := dataOriginal, "rolled back"
	if complete {
		data, how = dataBackup, "completed"
	}
	return faultCell{
		name: name, fault: "12 ncnpush killed (SIGKILL: the workstation dies)", phase: k.phase,
		code: 137, data: data, killed: true,
		run: func(t *testing.T, s *faultSuite) cellRun {
			dir := t.TempDir()
			mark := reachedMark(t)
			overrideTemplate(t, dir, tmpl, anchor, pauseLine(mark, mark+".go"))
			if k.setup != nil {
				k.setup(t, dir)
			}
			l := startNcnpush(t, nil, s.restoreJSON("--templates", dir)...)
			if !l.waitFor(header(phaseTitle), 3*time.Minute) {
				t.Fatalf("never reached %q:\n%s", phaseTitle, l.err.String())
			}
			for _, n := range lab.Nodes {
				waitReached(t, l, n, mark)
			}
			m := runIDRe.FindStringSubmatch(l.err.String())
			if m == nil {
				t.Fatalf("the plan names no run (member.pre-restore-<run>):\n%s", l.err.String())
			}
			run := m[1]
			l.cmd.Process.Kill()
			r := l.wait(t, time.Minute)
			ended := waitNodeSideEnded(t, mark)
			t.Logf("node side ended %s after the kill", ended.Round(100*time.Millisecond))

			st := runNcnpush(t, "", etcdArgs("status")...)
			t.Logf("etcd status: exit %d\n%s%s", st.code, st.stdout, st.stderr)
			want := "restore " + run + " INTERRUPTED at " + step
			if st.code != 1 || strings.Count(st.stdout, want) != len(lab.Nodes) {
				t.Errorf("etcd status: exit %d, %d lines with %q (want exit 1, one per master):\n%s%s",
					st.code, strings.Count(st.stdout, want), want, st.stdout, st.stderr)
			}
			if tryRestore {
				// A restore refuses to run over it, and says what to do.
				before := memberStates(t)
				rr := runNcnpush(t, "", s.restoreJSON()...)
				msg := errorText(rr.stderr)
				if rr.code != 1 || !strings.Contains(msg, "ncnpush etcd recover") || !strings.Contains(msg, run) {
					t.Errorf("a restore over the interrupted %s: exit %d (want 1 naming the run and ncnpush etcd recover):\n%s", run, rr.code, rr.stderr)
				}
				if after := memberStates(t); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("the refused restore changed the members:\nbefore %v\nafter  %v", before, after)
				}
			}
			if k.refuseComplete {
				before := memberStates(t)
				rc := runNcnpush(t, "", etcdArgs("recover", "--complete", "--yes")...)
				if msg := errorText(rc.stderr); rc.code != 1 || !strings.Contains(msg, "refused") {
					t.Errorf("etcd recover --complete over the interrupted rollback of %s: exit %d, want 1, refused:\n%s", run, rc.code, rc.stderr)
				}
				if after := memberStates(t); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("the refused recover --complete changed the members:\nbefore %v\nafter  %v", before, after)
				}
			}
			args := etcdArgs("recover", "--yes")
			if complete {
				args = append(args, "--complete")
			}
			rc := runNcnpush(t, "", args...)
			t.Logf("etcd recover: exit %d\n%s%s", rc.code, rc.stdout, rc.stderr)
			if rc.code != 0 {
				t.Errorf("%s: exit %d\n%s", strings.Join(args[:2], " "), rc.code, rc.stderr)
			}
			if !strings.Contains(rc.stdout+rc.stderr, "recovered restore "+run) {
				t.Errorf("etcd recover does not say it recovered %s:\n%s%s", run, rc.stdout, rc.stderr)
			}
			again := runNcnpush(t, "", etcdArgs("recover", "--yes")...)
			if again.code != 0 || !strings.Contains(again.stdout+again.stderr, "nothing to recover") {
				t.Errorf("etcd recover run again: exit %d, want 0 and \"nothing to recover\":\n%s%s", again.code, again.stdout, again.stderr)
			}
			mode := "etcd recover --yes"
			if complete {
				mode = "etcd recover --complete --yes"
			}
			return cellRun{r: r, swap: "killed at " + step + "; " + mode + " " + how,
				note: fmt.Sprintf("node side ended by itself in %.0f s; etcd status exit %d (INTERRUPTED at %s); %s exit %d; again: exit %d, nothing to recover",
					ended.Seconds(), st.code, step, mode, rc.code, again.code)}
		},
	}
}

// plantedCell plants, as an unprivileged user (nobody), what the fixed
// paths of older ncnpush versions were: /var/tmp/ncnpush-etcd-restore
// (mode 0777) holding dangling symbolic links under the staged file names,
// and /run/lock/ncnpush-etcd-restore.lock as a dangling link. Only root can
// write in /var/lib, so nothing is planted there. The restore must succeed
// without writing through any link or touching the planted files.
func plantedCell() faultCell {
	return faultCell{
		name: "planted-staging-and-lock", fault: "9 another user's files at the old staging and lock paths", phase: "every phase",
		code: 0, data: dataBackup,
		run: func(t *testing.T, s *faultSuite) cellRun {
			const old = "/var/tmp/ncnpush-etcd-restore"
			const oldLock = "/run/lock/ncnpush-etcd-restore.lock"
			target := "/etc/ncnpush-pwned-" + randHex(6)
			plant := "rm -rf -- " + old + " " + oldLock + " && runuser -u nobody -- /bin/sh -c '" +
				"mkdir " + old + " && chmod 0777 " + old + " && " +
				"for f in etcd-dump.bin restore.log restore count.log; do ln -s " + target + "-$f " + old + "/$f || exit 1; done && " +
				"ln -s " + target + "-lock " + oldLock + "'"
			look := "stat -c '%i %U %a %F' " + old + "; cd " + old + " && for f in etcd-dump.bin restore.log restore count.log; do " +
				"stat -c '%i %U %F %N' $f; done; stat -c '%i %U %F %N' " + oldLock + "; ls -d " + target + "-* 2>/dev/null; true"
			unplant := func() {
				for _, n := range lab.Nodes {
					lab.SSH(t, n, "rm -rf -- "+old+" "+oldLock+" "+target+"-*")
				}
			}
			t.Cleanup(unplant)
			before := map[string]string{}
			for _, n := range lab.Nodes {
				lab.MustSSH(t, n, plant)
				before[n] = lab.MustSSH(t, n, look)
				if !strings.Contains(before[n], " nobody 777 directory") || strings.Count(before[n], "symbolic link") != 5 {
					t.Fatalf("%s: the plant is not what the cell means:\n%s", n, before[n])
				}
			}
			r := runNcnpush(t, "", s.restoreJSON()...)
			for _, n := range lab.Nodes {
				if after := lab.MustSSH(t, n, look); after != before[n] {
					t.Errorf("%s: the planted files changed, or something was written through the links:\nbefore:\n%safter:\n%s", n, before[n], after)
				}
			}
			unplant()
			return cellRun{r: r, note: "the planted directory and links untouched (same inodes, owner nobody), nothing created at their targets"}
		},
	}
}

// cleanupDuringRestoreCell runs `etcd cleanup --yes` twice, and `etcd
// recover --yes` once, while a restore is paused in its swap, every member
// moved aside: all must refuse, and the restore then goes on and succeeds
// with the members from before kept.
func cleanupDuringRestoreCell(phSwap string) faultCell {
	return faultCell{
		name: "cleanup-during-restore", fault: "13 etcd cleanup --yes while a restore swaps", phase: phSwap + " (members moved aside)",
		code: 0, data: dataBackup,
		run: func(t *testing.T, s *faultSuite) cellRun {
			dir := t.TempDir()
			mark := reachedMark(t)
			goFile := mark + ".go"
			overrideTemplate(t, dir, "etcd-swap.sh.tmpl", `rm -rf -- "$incoming"`, pauseLine(mark, goFile))
			l := startNcnpush(t, nil, s.restoreJSON("--templates", dir)...)
			if !l.waitFor(header(phSwap), 3*time.Minute) {
				t.Fatalf("no swap phase:\n%s", l.err.String())
			}
			for _, n := range lab.Nodes {
				waitReached(t, l, n, mark)
			}
			m := runIDRe.FindStringSubmatch(l.err.String())
			if m == nil {
				t.Fatalf("the plan names no run:\n%s", l.err.String())
			}
			run := m[1]
			var notes []string
			for _, sel := range [][]string{{"--older-than", "1s"}, {"--run", run}} {
				c := runNcnpush(t, "", etcdArgs("cleanup", append(sel, "--yes")...)...)
				msg := errorText(c.stderr)
				t.Logf("etcd cleanup %s --yes: exit %d\n%s%s", strings.Join(sel, " "), c.code, c.stdout, c.stderr)
				if c.code != 1 || !strings.Contains(msg, "refused") || !strings.Contains(msg, run) {
					t.Errorf("etcd cleanup %s --yes during the swap: exit %d, want 1, refused, naming the running %s:\n%s",
						strings.Join(sel, " "), c.code, run, c.stderr)
				}
				first, _, _ := strings.Cut(msg, "\n")
				notes = append(notes, fmt.Sprintf("cleanup %s --yes: exit %d, %s", sel[0], c.code, normalize(first)))
			}
			// etcd status calls the running restore's open journal
			// interrupted: an operator may well run etcd recover now. It
			// must refuse while the restore holds its locks.
			rc := runNcnpush(t, "", etcdArgs("recover", "--yes")...)
			t.Logf("etcd recover --yes: exit %d\n%s%s", rc.code, rc.stdout, rc.stderr)
			if msg := errorText(rc.stderr); rc.code != 1 || !strings.Contains(msg, "lock") || !strings.Contains(msg, run) {
				t.Errorf("etcd recover --yes during the swap: exit %d, want 1, naming the lock the running %s holds:\n%s", rc.code, run, rc.stderr)
			}
			notes = append(notes, fmt.Sprintf("recover --yes: exit %d", rc.code))
			for _, n := range lab.Nodes {
				if out, err := lab.SSH(t, n, "test -d /var/lib/etcd/member.pre-restore-"+run+" && test ! -e /var/lib/etcd/member"); err != nil {
					t.Errorf("%s: the run's member.pre-restore-%s is gone, or a member is back, after the refused clean-ups and recover: %s", n, run, out)
				}
				lab.MustSSH(t, n, "touch "+goFile+" && rm -f "+mark)
			}
			t.Cleanup(func() {
				for _, n := range lab.Nodes {
					lab.SSH(t, n, "rm -f "+goFile)
				}
			})
			return cellRun{r: l.wait(t, 5*time.Minute), note: strings.Join(notes, "; ")}
		},
	}
}

package etcdrestore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/facts"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// ---------------------------------------------------------------- preflight

// preflightPhase parses every node's preflight report, cross-checks them all
// and takes every node's lock. It reports every failure at once and changes
// nothing on a node (a lock is released when ncnpush ends).
type preflightPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) preflightCheckPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &preflightPhase{GoPhase: gp, r: r}, nil
}

func (p *preflightPhase) ReadOnly() bool { return true }

// DryRun checks the facts but takes no lock.
func (p *preflightPhase) DryRun(ctx context.Context) error {
	if err := p.readDumpSize(ctx); err != nil {
		return err
	}
	return p.check()
}

func (p *preflightPhase) Run(ctx context.Context) error {
	if err := p.readDumpSize(ctx); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	if p.r.recovering {
		return nil // etcd recover locks once it knows what to do
	}
	return p.lock(ctx)
}

// readDumpSize reads the uncompressed size of the backup's snapshot from
// the tar header at the start of its stream (the object's own size is the
// gzip's: real etcd data compresses 10-50 times), for the free-space check.
// The stream is closed at once; the push opens it again.
func (p *preflightPhase) readDumpSize(ctx context.Context) error {
	r := p.r
	if r.recovering || r.opts.Backups == nil {
		return nil
	}
	dump, err := r.opts.Backups.Open(ctx, r.opts.Backup, backups.OpenOptions{MaxDumpSize: r.opts.MaxDumpSize})
	if err != nil {
		return fmt.Errorf("%w: read the snapshot's size from the backup: %w: nothing was changed on any node", ErrPreflight, err)
	}
	size := dump.Size()
	_ = dump.Close()
	r.mu.Lock()
	r.dumpSize = size
	r.mu.Unlock()
	return nil
}

func (p *preflightPhase) check() error {
	var nodes []facts.Node
	var errs []error
	for _, h := range p.Hosts {
		start := time.Now()
		v, ok := h.Fact("preflight")
		text, _ := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no preflight report", h.Name))
			continue
		}
		n, err := facts.ParseNodeReport(h.Name, text)
		if err != nil {
			err = fmt.Errorf("%s: %w", h.Name, err)
			errs = append(errs, err)
			p.Record(h.Name, start, err, "")
			continue
		}
		nodes = append(nodes, n)
		p.Record(h.Name, start, nil, fmt.Sprintf("member %s, etcd %s, %s", n.Member.Name, n.Version, n.RestoreTool))
	}
	var inv []string
	for _, h := range p.r.env.Hosts {
		inv = append(inv, h.Name)
	}
	if !p.r.recovering {
		errs = append(errs, p.checkNodeState()...)
	}
	// data_dir (a generic name an inventory may well define for something
	// else) must be the directory kubeadmcfg.yaml gives etcd, when it says.
	for _, n := range nodes {
		want := n.Member.DataDir
		if want == "" {
			continue
		}
		if got := p.r.pathsOf(n.Host).Data; path.Clean(want) != got {
			errs = append(errs, fmt.Errorf("%s: data_dir is %s but %s gives etcd %s: refusing to swap members there", n.Host, got, "kubeadmcfg.yaml", want))
		}
	}
	if len(errs) == 0 {
		for _, err := range facts.Check(nodes, inv, p.r.dumpSize) {
			// etcd recover stages nothing: no room is needed.
			if !p.r.recovering || !errors.Is(err, facts.ErrNoSpace) {
				errs = append(errs, err)
			}
		}
	}
	if p.r.opts.BumpRevision && !facts.AllSupportBumpRevision(nodes) {
		errs = append(errs, errors.New("--bump-revision needs etcdutl 3.5.10 or later on every master"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: nothing was changed on any node:\n  %w", ErrPreflight, joinLines(errs))
	}
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	for _, n := range nodes {
		peers := map[string]string{}
		for _, pe := range n.Member.InitialCluster {
			peers[pe.Name] = pe.URL
		}
		m := member{Name: n.Member.Name, PeerURL: n.Member.InitialAdvertisePeerURLs, InitialCluster: n.Member.InitialClusterRaw,
			Tool: string(n.RestoreTool), Version: n.Version.String(), Peers: peers}
		p.r.members[n.Host] = m
		h := p.r.env.Hosts.Find(n.Host)
		h.SetFact("etcd", map[string]any{"name": m.Name, "initial_cluster": m.InitialCluster,
			"peer_url": m.PeerURL, "tool": m.Tool})
	}
	return nil
}

// checkNodeState resolves every host's paths for this run (registered as
// the fact "paths" for the templates) and refuses what earlier runs left
// that a restore must not run over: a run interrupted after it stopped etcd
// (etcd recover ends it), or a hold drop-in without one.
func (p *preflightPhase) checkNodeState() []error {
	var errs []error
	interrupted := map[string][]string{} // run -> "host (at step)"
	for _, h := range p.Hosts {
		vars := p.r.env.VarsFor(h, p.r.task)
		if err := CheckPaths(h.Name, vars); err != nil {
			errs = append(errs, err)
			continue
		}
		paths := pathsFor(vars, p.r.runID)
		p.r.mu.Lock()
		p.r.paths[h.Name] = paths
		p.r.mu.Unlock()
		h.SetFact("paths", paths.fact())
		st, err := nodeStateOf(h.Fact("node_state"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.Name, err))
			continue
		}
		open := false
		for _, j := range st.Journals {
			if j.Stopped() && !st.lockedBy(j.Run) {
				open = true
				interrupted[j.Run] = append(interrupted[j.Run], fmt.Sprintf("%s (at %s)", h.Name, j.Last()))
			}
		}
		if st.Hold && !open {
			errs = append(errs, fmt.Errorf("%s: the restore hold %s is in place, but no interrupted run is recorded: "+
				"check the node, then remove it and run systemctl daemon-reload", h.Name, paths.Hold))
		}
	}
	for _, run := range slices.Sorted(maps.Keys(interrupted)) {
		errs = append(errs, fmt.Errorf("%w: restore %s was interrupted on %s: run `ncnpush etcd recover` first (it finishes a verified run, else puts back the members from before it, or --complete starts the restored ones)",
			ErrInterrupted, run, strings.Join(interrupted[run], ", ")))
	}
	return errs
}

// joinLines joins errors one per line, indented. The result still wraps
// each of them, for errors.Is (an interrupted run is context.Canceled).
func joinLines(errs []error) error {
	return lineErrors(errs)
}

// interrupted is why ctx ended: ctx.Err() (context.Canceled, which the CLI
// turns into exit 130), with the cause (say, the signal) when there is one.
func interrupted(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("%w (%v)", ctx.Err(), cause)
	}
	return ctx.Err()
}

// lineErrors are errors shown one per line.
type lineErrors []error

func (e lineErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n  ")
}

func (e lineErrors) Unwrap() []error { return e }

// lock is one node's restore lock: a command holding an flock, ended to
// release it.
type lock struct {
	cancel context.CancelFunc
	done   chan error
	ended  atomic.Bool // the lock command ended (released, or lost)
}

// lostLocks names the hosts whose lock command ended although ncnpush did
// not release it (the heartbeat timed out: the workstation was paused, say).
// Another run may have taken the lock since.
func (r *run) lostLocks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lost []string
	for h, l := range r.locks {
		if l.ended.Load() {
			lost = append(lost, h)
		}
	}
	sort.Strings(lost)
	return lost
}

// lock takes every node's lock, all or none.
func (p *preflightPhase) lock(ctx context.Context) error {
	scripts := map[string]string{}
	for _, h := range p.Hosts {
		s, err := p.r.render("etcd-lock.sh.tmpl", h)
		if err != nil {
			return err
		}
		scripts[h.Name] = s
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range p.Hosts {
		wg.Add(1)
		go func(h *hosts.Host) {
			defer wg.Done()
			l, err := takeLock(ctx, h, scripts[h.Name])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			p.r.mu.Lock()
			p.r.locks[h.Name] = l
			p.r.mu.Unlock()
		}(h)
	}
	wg.Wait()
	if len(errs) > 0 && ctx.Err() != nil {
		// Interrupted while taking them: no other restore is to blame.
		p.r.releaseLocks()
		return fmt.Errorf("take the locks: %w: nothing was changed on any node", interrupted(ctx))
	}
	if len(errs) > 0 {
		p.r.releaseLocks()
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return fmt.Errorf("%w: nothing was changed on any node:\n  %w", ErrLocked, joinLines(errs))
	}
	return nil
}

func takeLock(ctx context.Context, h *hosts.Host, script string) (*lock, error) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &lock{cancel: cancel, done: make(chan error, 1)}
	locked := make(chan struct{})
	var once sync.Once
	var stderr []string
	var smu sync.Mutex
	go func() {
		_, err := h.Conn.Run(lctx, phases.WrapScript(script), transport.RunOptions{
			Stdout: func(line string) {
				if line == "locked" {
					once.Do(func() { close(locked) })
				}
			},
			Stderr: func(line string) { smu.Lock(); stderr = append(stderr, line); smu.Unlock() },
		})
		l.ended.Store(true)
		l.done <- err
	}()
	select {
	case <-locked:
		return l, nil
	case err := <-l.done:
		cancel()
		smu.Lock()
		defer smu.Unlock()
		msg := strings.Join(stderr, "; ")
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s: lock: %s", h.Name, msg)
	case <-ctx.Done():
		cancel()
		<-l.done
		return nil, fmt.Errorf("%s: lock: %w", h.Name, ctx.Err())
	}
}

// releaseLocks ends every lock command and waits for it.
func (r *run) releaseLocks() {
	r.mu.Lock()
	locks := r.locks
	r.locks = map[string]*lock{}
	r.mu.Unlock()
	for _, l := range locks {
		l.cancel()
	}
	for _, l := range locks {
		select {
		case <-l.done:
		case <-time.After(15 * time.Second):
		}
	}
}

// unlockPhase is the last phase of the finish task.
type unlockPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) unlockPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &unlockPhase{GoPhase: gp, r: r}, nil
}

func (p *unlockPhase) Run(context.Context) error {
	start := time.Now()
	p.r.releaseLocks()
	for _, h := range p.Hosts {
		p.Record(h.Name, start, nil, "")
	}
	return nil
}

// ---------------------------------------------------------------- confirm

type confirmPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) confirmPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &confirmPhase{GoPhase: gp, r: r}, nil
}

// DryRun prints the plan; --dry-run goes no further than rendering.
func (p *confirmPhase) DryRun(context.Context) error {
	if err := p.plan(true); err != nil {
		return err
	}
	fmt.Fprintln(p.r.opts.Prompt, "dry-run: nothing was changed; the remaining scripts are rendered below.")
	return nil
}

func (p *confirmPhase) Run(ctx context.Context) error {
	if err := p.plan(false); err != nil {
		return err
	}
	if !p.r.opts.Yes {
		fmt.Fprintf(p.r.opts.Prompt, "Type %q to stop etcd on %d masters and swap in the backup: ", ConfirmWord, len(p.Hosts))
		answer, err := readLine(ctx, p.r.opts.Stdin)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("%w: %w: nothing was changed on any node (staged copies are removed)", ErrNotConfirmed, interrupted(ctx))
		}
		if err != nil || strings.TrimSpace(answer) != ConfirmWord {
			return fmt.Errorf("%w: nothing was changed on any node (staged copies are removed)", ErrNotConfirmed)
		}
	}
	if lost := p.r.lostLocks(); len(lost) > 0 {
		return fmt.Errorf("%w: the restore lock ended on %s while ncnpush waited (no heartbeat reached it: was the workstation paused?): "+
			"nothing was changed on any node; run the restore again", ErrLocked, strings.Join(lost, ", "))
	}
	p.r.mu.Lock()
	p.r.stopped = true
	p.r.mu.Unlock()
	return nil
}

// plan reads what the staged snapshot holds (its revision by snapshot
// status and as the throw-away etcd serves it, and its live keys), checks the
// two revisions agree, and prints the plan. Outside a dry run the key count must be known:
// the verification compares every restored member against it.
func (p *confirmPhase) plan(dryRun bool) error {
	r := p.r
	count, counted, err := snapshotKeys(p.Hosts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrVerify, err)
	}
	r.mu.Lock()
	if counted {
		r.snapKeys = count.Keys
		r.snapRev = count.StatusRevision
	}
	r.mu.Unlock()
	switch {
	case counted && count.Revision != count.StatusRevision:
		return fmt.Errorf("%w: the staged snapshot's revision is %d by snapshot status but %d served by etcd: nothing was changed on any node",
			ErrVerify, r.snapRev, count.Revision)
	case !counted && !dryRun:
		return fmt.Errorf("%w: the snapshot's keys were not counted: nothing was changed on any node", ErrVerify)
	}
	w := r.opts.Prompt
	b := r.opts.Backup
	fmt.Fprintf(w, "\nPlan: restore %s (taken %s, %d bytes compressed, a %d-byte snapshot)", b.Name, b.Time.Format(time.RFC3339), b.Size, r.dumpSize)
	if r.snapRev > 0 {
		fmt.Fprintf(w, ", snapshot revision %d", r.snapRev)
	}
	if counted {
		fmt.Fprintf(w, ", %d keys", count.Keys)
	}
	fmt.Fprintln(w)
	for _, h := range p.Hosts {
		m := r.members[h.Name]
		fmt.Fprintf(w, "  %-10s member %s  peer %s  etcd %s (%s)\n", h.Name, m.Name, m.PeerURL, m.Version, m.Tool)
	}
	fmt.Fprintf(w, "  run %s: each master's journal is %s (ncnpush etcd status shows it; etcd recover ends an interrupted run)\n",
		r.runID, r.pathsOf(p.Hosts[0].Name).Journal)
	fmt.Fprintf(w, "  1. stop etcd on every master\n")
	fmt.Fprintf(w, "  2. move member/ aside (kept, never deleted):\n")
	for _, h := range p.Hosts {
		pa := r.pathsOf(h.Name)
		fmt.Fprintf(w, "       %-10s %s/member -> %s\n", h.Name, pa.Data, pa.Aside)
	}
	fmt.Fprintf(w, "  3. copy the restored member (from %s) into member/\n", r.pathsOf(p.Hosts[0].Name).Staging)
	fmt.Fprintf(w, "  4. start etcd on every master together; verify; roll back automatically on failure\n")
	if r.opts.AfterVerify != "" {
		fmt.Fprintf(w, "  5. then %s\n", r.opts.AfterVerify)
	}
	fmt.Fprintln(w)
	return nil
}

// readLine reads one line, or fails when ctx ends.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no input")
	}
	ch := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && line == "" {
			errc <- err
			return
		}
		ch <- line
	}()
	select {
	case l := <-ch:
		return l, nil
	case err := <-errc:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// ---------------------------------------------------------------- verify

// health is what etcd-health.sh.tmpl prints.
type health struct {
	Members struct {
		Members []struct {
			ID         uint64   `json:"ID"`
			Name       string   `json:"name"`
			PeerURLs   []string `json:"peerURLs"`
			ClientURLs []string `json:"clientURLs"`
		} `json:"members"`
	} `json:"members"`
	Status []struct {
		Endpoint string `json:"Endpoint"`
		Status   struct {
			Header struct {
				MemberID uint64 `json:"member_id"`
				Revision int64  `json:"revision"`
			} `json:"header"`
			Version string `json:"version"`
			DBSize  int64  `json:"dbSize"`
			Leader  uint64 `json:"leader"`
		} `json:"Status"`
	} `json:"status"`
	Keys struct {
		Count int64 `json:"count"`
	} `json:"keys"`
}

type verifyPhase struct {
	*phases.GoPhase
	r        *run
	rollback bool
}

func (r *run) verifyPhase(rollback bool) phases.ActionFunc {
	return func(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
		gp, err := phases.NewGoPhase(r.env, spec)
		if err != nil {
			return nil, err
		}
		return &verifyPhase{GoPhase: gp, r: r, rollback: rollback}, nil
	}
}

func (p *verifyPhase) DryRun(context.Context) error {
	fmt.Fprintln(p.r.opts.Prompt, "dry-run: would verify: every member started with its name and peer URL, "+
		"endpoint health, one leader, the same revision (at least the snapshot's) on every member, and every member holding "+
		"exactly the snapshot's keys at the restored revision")
	return nil
}

// Run reads every member's view until they agree or the timeout passes.
func (p *verifyPhase) Run(ctx context.Context) error {
	// A restored member must hold exactly the snapshot's keys at the
	// restored revision, whatever the API servers have written since; a
	// rolled-back one is compared with its peers at their newest revision.
	keysRev := int64(0)
	if !p.rollback {
		rev, err := restoredRevision(p.r.snapRev, p.r.opts.BumpRevision, p.r.env.Vars["bump_amount"])
		if err != nil {
			return fmt.Errorf("%w: %w", ErrVerify, err)
		}
		if p.r.snapKeys >= 0 {
			keysRev = rev
		}
	}
	p.r.mu.Lock()
	p.r.keysRev = keysRev
	p.r.mu.Unlock()
	p.r.env.SetVar("keys_rev", keysRev)
	script, err := p.r.env.Templates.Render("etcd-health.sh.tmpl", map[string]any{"Vars": p.r.env.Vars})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(p.r.opts.VerifyTimeout)
	start := time.Now()
	for {
		views, errs := p.read(ctx, script)
		if len(errs) == 0 && p.rollback {
			// The members of a rollback hold the same data up to a
			// revision all of them have: with the API servers writing,
			// their newest revisions differ. Count every member's keys at
			// the lowest of them.
			rev := int64(-1)
			for _, v := range views {
				if r := v.Status[0].Status.Header.Revision; rev < 0 || r < rev {
					rev = r
				}
			}
			p.r.mu.Lock()
			p.r.keysRev = rev
			p.r.mu.Unlock()
			vars := maps.Clone(p.r.env.Vars)
			vars["keys_rev"] = rev
			atRev, err := p.r.env.Templates.Render("etcd-health.sh.tmpl", map[string]any{"Vars": vars})
			if err != nil {
				return err
			}
			views, errs = p.read(ctx, atRev)
		}
		if len(errs) == 0 {
			errs = p.compare(views)
		}
		if len(errs) == 0 {
			if !p.rollback {
				p.noteVerified(ctx)
			}
			for _, h := range p.Hosts {
				v := views[h.Name]
				note := fmt.Sprintf("revision %d, %d keys, %d members", v.Status[0].Status.Header.Revision, v.Keys.Count, len(v.Members.Members))
				if keysRev > 0 {
					note = fmt.Sprintf("revision %d, %d keys at the restored revision %d (the snapshot's: %d), %d members",
						v.Status[0].Status.Header.Revision, v.Keys.Count, keysRev, p.r.snapKeys, len(v.Members.Members))
				}
				p.Record(h.Name, start, nil, note)
			}
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			for _, h := range p.Hosts {
				p.Record(h.Name, start, joinLines(errs), "")
			}
			return fmt.Errorf("%w:\n  %w", ErrVerify, joinLines(errs))
		}
		select {
		case <-ctx.Done():
		case <-time.After(verifyRetry):
		}
	}
}

// verifyRetry is how long verify waits between two reads of the members.
const verifyRetry = 500 * time.Millisecond

func (p *verifyPhase) read(ctx context.Context, script string) (map[string]health, []error) {
	views := map[string]health{}
	var mu sync.Mutex
	var errs []error
	err := p.Hosts.ParallelEach(ctx, len(p.Hosts), func(ctx context.Context, h *hosts.Host) error {
		var out strings.Builder
		_, err := h.Conn.Run(ctx, phases.WrapScript(script), transport.RunOptions{Stdout: func(l string) { out.WriteString(l) }})
		if err != nil {
			return fmt.Errorf("read member view: %w", err)
		}
		var v health
		if err := json.Unmarshal([]byte(out.String()), &v); err != nil || len(v.Status) == 0 {
			return fmt.Errorf("member not answering (status: %.120s)", out.String())
		}
		mu.Lock()
		views[h.Name] = v
		mu.Unlock()
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return views, errs
}

// compare checks the members' views against the preflight's facts and each
// other.
func (p *verifyPhase) compare(views map[string]health) []error {
	var errs []error
	r := p.r
	var wantPeers map[string]string
	for _, m := range r.members {
		wantPeers = m.Peers
		break
	}
	revs := map[int64][]string{}
	counts := map[int64][]string{}
	leaders := map[uint64]bool{}
	for _, h := range p.Hosts {
		v := views[h.Name]
		got := map[string]string{}
		for _, m := range v.Members.Members {
			if len(m.ClientURLs) == 0 {
				errs = append(errs, fmt.Errorf("%s: member %s is not started", h.Name, m.Name))
			}
			got[m.Name] = strings.Join(m.PeerURLs, ",")
		}
		if !equalMaps(got, wantPeers) {
			errs = append(errs, fmt.Errorf("%s: member list %v, want %v", h.Name, got, wantPeers))
		}
		st := v.Status[0].Status
		revs[st.Header.Revision] = append(revs[st.Header.Revision], h.Name)
		counts[v.Keys.Count] = append(counts[v.Keys.Count], h.Name)
		leaders[st.Leader] = true
		if !p.rollback && r.keysRev > 0 && st.Header.Revision < r.keysRev {
			errs = append(errs, fmt.Errorf("%s: revision %d is older than the restored revision %d", h.Name, st.Header.Revision, r.keysRev))
		} else if !p.rollback && r.snapRev > 0 && st.Header.Revision < r.snapRev {
			errs = append(errs, fmt.Errorf("%s: revision %d is older than the snapshot's %d", h.Name, st.Header.Revision, r.snapRev))
		}
		if !p.rollback && r.keysRev > 0 && v.Keys.Count != r.snapKeys {
			errs = append(errs, fmt.Errorf("%s: %d keys at the restored revision %d, the snapshot holds %d", h.Name, v.Keys.Count, r.keysRev, r.snapKeys))
		}
	}
	// Counted at the restored revision, the members' data is compared
	// whatever the API servers have written since, and their newest
	// revisions may differ by those writes (each member is read at its own
	// instant). Counted at their newest revisions (a rollback, or no
	// snapshot count), the revisions must agree for the counts to mean
	// anything.
	if len(revs) > 1 && r.keysRev <= 0 {
		errs = append(errs, fmt.Errorf("members disagree on the revision: %v", revs))
	}
	if len(counts) > 1 {
		errs = append(errs, fmt.Errorf("members disagree on the key count: %v", counts))
	}
	if len(leaders) != 1 || leaders[0] {
		errs = append(errs, fmt.Errorf("members do not agree on one leader"))
	}
	return errs
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// noteVerified notes "verified" in every master's journal of the run: from
// here on no rollback (the restore's own, or etcd recover's) may undo the
// restore; an interrupted finish is only a clean-up. A master where the note
// fails is logged, not failed: the restore was verified, and the finish
// closes the journals as restored.
func (p *verifyPhase) noteVerified(ctx context.Context) {
	r := p.r
	r.env.SetVar("journal_step", stepVerified)
	_ = p.Hosts.ParallelEach(context.WithoutCancel(ctx), len(p.Hosts), func(ctx context.Context, h *hosts.Host) error {
		script, err := r.render("etcd-journal-note.sh.tmpl", h)
		if err == nil {
			_, err = h.Conn.Run(ctx, phases.WrapScript(script), transport.RunOptions{})
		}
		if err != nil && r.env.Logger != nil {
			r.env.Logger.Warn("could not note the verified restore in the journal", "host", h.Name, "error", err.Error())
		}
		return nil
	})
}

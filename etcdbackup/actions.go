package etcdbackup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ncnpush/ncnpush/backups"
	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/phases"
	"github.com/ncnpush/ncnpush/tasks"
	"github.com/ncnpush/ncnpush/transport"
)

// ---------------------------------------------------------------- pick

// pickPhase picks the first host (in inventory order) whose member passed
// etcd-local-health.sh.tmpl (registered as local_health).
type pickPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) pickPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &pickPhase{GoPhase: gp, r: r}, nil
}

func (p *pickPhase) Run(context.Context) error {
	start := time.Now()
	for _, h := range p.Hosts {
		if _, ok := h.Fact(factHealth); !ok {
			continue
		}
		if err := p.r.pick(h); err != nil {
			p.Record(h.Name, start, err, "")
			return err
		}
		p.Record(h.Name, start, nil, "picked: its member is healthy")
		return nil
	}
	return fmt.Errorf("%w: `etcdctl endpoint health` failed on every master (%s); nothing was changed",
		ErrNoHealthyMember, joinNames(p.Hosts))
}

func joinNames(hs hosts.Hosts) string {
	s := ""
	for i, n := range hs.Names() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// ---------------------------------------------------------------- upload

// snapshotFacts is what etcd-snapshot-save.sh.tmpl printed (registered as
// snapshot, format env).
type snapshotFacts struct {
	Dir, Dump, SHA256 string
	Size              int64
}

func parseSnapshotFacts(h *hosts.Host) (snapshotFacts, error) {
	v, ok := h.Fact(factSnapshot)
	m, isMap := v.(map[string]any)
	if !ok || !isMap {
		return snapshotFacts{}, fmt.Errorf("%s: no snapshot was saved", h.Name)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	f := snapshotFacts{Dir: str("DIR"), Dump: str("DUMP"), SHA256: str("SHA256")}
	size, err := strconv.ParseInt(str("SIZE"), 10, 64)
	if err != nil || size <= 0 || f.Dump == "" || len(f.SHA256) != 64 {
		return f, fmt.Errorf("%s: unexpected output of the snapshot save: DUMP=%q SIZE=%q SHA256=%q", h.Name, f.Dump, str("SIZE"), f.SHA256)
	}
	f.Size = size
	return f, nil
}

// uploadPhase streams the dump from the picked member over SCP straight into
// the S3 upload (which builds the CSM archive on the fly), then downloads and
// verifies the stored object.
type uploadPhase struct {
	*phases.GoPhase
	r *run
}

func (r *run) uploadPhase(_ *phases.Env, spec tasks.Phase) (phases.Phase, error) {
	gp, err := phases.NewGoPhase(r.env, spec)
	if err != nil {
		return nil, err
	}
	return &uploadPhase{GoPhase: gp, r: r}, nil
}

// errUploadEnded stops the download once the upload has returned.
var errUploadEnded = errors.New("the S3 upload ended")

func (p *uploadPhase) Run(ctx context.Context) error {
	h := p.r.pickedHost()
	if h == nil {
		return errors.New("no member was picked")
	}
	start := time.Now()
	fail := func(err error) error {
		p.Record(h.Name, start, err, "")
		return err
	}
	snap, err := parseSnapshotFacts(h)
	if err != nil {
		return fail(err)
	}
	p.r.mu.Lock()
	p.r.res.NodeSHA256 = snap.SHA256
	p.r.mu.Unlock()

	b, err := p.stream(ctx, h, snap)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrUpload, err))
	}
	p.r.mu.Lock()
	p.r.res.Backup = &b
	p.r.mu.Unlock()
	p.r.env.Logger.Info("backup stored", "host", h.Name, "key", b.Key, "bytes", b.Size, "dump_bytes", snap.Size)

	res, err := p.r.opts.Backups.Verify(ctx, b)
	if err == nil && (res.SHA256 != snap.SHA256 || res.DumpSize != snap.Size) {
		err = fmt.Errorf("%w: the stored dump has %d bytes, sha256 %s; the snapshot on %s has %d bytes, sha256 %s",
			backups.ErrHashMismatch, res.DumpSize, res.SHA256, h.Name, snap.Size, snap.SHA256)
	}
	if err != nil {
		return fail(p.verifyFailed(ctx, b, res, err))
	}
	p.r.mu.Lock()
	p.r.res.Verify = &res
	p.r.mu.Unlock()
	p.Record(h.Name, start, nil, fmt.Sprintf("%s: %d bytes (dump %d bytes, revision %d, %d keys), verified",
		b.Key, b.Size, res.DumpSize, res.Snapshot.Revision, res.Snapshot.TotalKey))
	return nil
}

// verifyFailed deletes an object known to be bad, so that `--backup latest`
// never picks it, and keeps one whose check could not run to its end (a
// download cut short is not proof of a bad object).
func (p *uploadPhase) verifyFailed(ctx context.Context, b backups.Backup, res backups.VerifyResult, err error) error {
	bad := false
	for _, kind := range []error{backups.ErrLayout, backups.ErrCorrupt, backups.ErrTruncated, backups.ErrHashMismatch} {
		bad = bad || errors.Is(err, kind)
	}
	if !bad || b.Size <= 0 || res.CompressedBytes < b.Size {
		return fmt.Errorf("%w: s3://%s/%s was stored but could not be checked (check it with `ncnpush backups verify %s`): %w",
			ErrVerify, p.r.opts.Backups.Bucket(), b.Key, b.Name, err)
	}
	if derr := p.r.opts.Backups.Delete(context.WithoutCancel(ctx), []string{b.Key}); derr != nil {
		return fmt.Errorf("%w: s3://%s/%s is bad and could not be deleted (%w): %w", ErrVerify, p.r.opts.Backups.Bucket(), b.Key, derr, err)
	}
	p.r.mu.Lock()
	p.r.res.Backup = nil
	p.r.mu.Unlock()
	return fmt.Errorf("%w: s3://%s/%s was bad and is deleted: %w", ErrVerify, p.r.opts.Backups.Bucket(), b.Key, err)
}

// stream pipes the download of the dump into the upload. It fails unless
// both ends saw the whole dump.
func (p *uploadPhase) stream(ctx context.Context, h *hosts.Host, snap snapshotFacts) (backups.Backup, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	update, end := p.progress(h.Name, snap.Size)
	pr, pw := io.Pipe()
	var dlFailed atomic.Pointer[error] // set before the upload can see the failure
	dlDone := make(chan error, 1)
	go func() {
		n, err := h.Conn.Download(ctx, pw, transport.DownloadOptions{Path: snap.Dump, Progress: update})
		if err == nil && n != snap.Size {
			err = fmt.Errorf("%s: download %s: %d bytes, the snapshot had %d", h.Name, snap.Dump, n, snap.Size)
		}
		if err != nil {
			dlFailed.Store(&err)
		}
		pw.CloseWithError(err) // nil: EOF
		dlDone <- err
	}()
	b, upErr := p.r.opts.Backups.Upload(ctx, p.r.name, pr, snap.Size)
	first := dlFailed.Load()
	pr.CloseWithError(errUploadEnded) // unblock the download if the upload ended first
	cancel()
	dlErr := <-dlDone
	switch {
	case upErr != nil && first != nil:
		// The source failed first: the upload only echoes it.
		upErr = *first
	case upErr == nil && dlErr != nil:
		// The upload read the whole dump, its appended sha256 matched and the
		// end of the stream came: what failed is after the data (the remote
		// scp's exit). The object is verified next, against the node's sum.
		p.r.env.Logger.Warn("the download reported an error after the whole snapshot was stored", "host", h.Name, "err", dlErr)
	}
	end(upErr)
	return b, upErr
}

func (p *uploadPhase) progress(host string, total int64) (func(int64), func(error)) {
	if p.r.opts.Progress == nil {
		return nil, func(error) {}
	}
	return p.r.opts.Progress(host, total)
}

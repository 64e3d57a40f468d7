package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrRunLog marks a run log that could not be opened safely: its directory
// is a symbolic link, not yours, or writable by others, or its file exists.
var ErrRunLog = errors.New("run log")

// RunLogName is the base name of a run's log and report: the start in UTC,
// the command and the process ID, e.g. "20240501T102030Z-etcd-restore-4242".
func RunLogName(start time.Time, command string, pid int) string {
	cmd := strings.Join(strings.Fields(command), "-")
	cmd = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, cmd)
	return fmt.Sprintf("%s-%s-%d", start.UTC().Format("20060102T150405Z"), cmd, pid)
}

// RunLog is the file a run writes everything it prints to, besides the
// terminal, so that a run that lost its terminal (SIGHUP) still has a record:
// DIR/NAME.log, and at the end its report, DIR/NAME.json.
//
// The directory is made 0700 if missing; an existing one must be a real
// directory (not a symbolic link), owned by this user and writable by no
// one else. The log is created 0600 and exclusively (O_EXCL, O_NOFOLLOW):
// nothing already there, a planted symbolic link included, is ever opened or
// followed. Both files are made through one handle on the directory checked
// (os.Root).
//
// Everything written is redacted with the Redactor given and stripped of
// terminal escape sequences (colours, cursor movement). Writes are
// unbuffered and safe for concurrent use.
type RunLog struct {
	mu   sync.Mutex
	root *os.Root
	f    *os.File
	dir  string
	name string
	red  *Redactor
}

// OpenRunLog creates DIR/NAME.log. red (may be nil) redacts what is written.
func OpenRunLog(dir, name string, red *Redactor) (*RunLog, error) {
	if dir == "" || name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: bad directory %q or name %q", ErrRunLog, dir, name)
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunLog, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunLog, err)
	}
	if err := checkLogDir(dir, fi); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunLog, err)
	}
	// The directory opened is the one checked (not swapped for a link since).
	if rfi, err := root.Stat("."); err != nil || !os.SameFile(fi, rfi) {
		_ = root.Close()
		return nil, fmt.Errorf("%w: %s changed while it was being opened", ErrRunLog, dir)
	}
	f, err := createExclusive(root, name+".log")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("%w: %w", ErrRunLog, err)
	}
	return &RunLog{root: root, f: f, dir: dir, name: name, red: red}, nil
}

// checkLogDir refuses a directory that is a link, not a directory, not
// ours, or writable by others.
func checkLogDir(dir string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link: give the directory itself", ErrRunLog, dir)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrRunLog, dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by others (mode %04o): use a private directory", ErrRunLog, dir, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s belongs to uid %d, not to you", ErrRunLog, dir, st.Uid)
	}
	return nil
}

// createExclusive creates name in root, mode 0600, failing if anything is
// there already.
func createExclusive(root *os.Root, name string) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	// Exactly 0600, whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		_ = root.Remove(name)
		return nil, err
	}
	return f, nil
}

// Path is the log's path.
func (l *RunLog) Path() string { return filepath.Join(l.dir, l.name+".log") }

// ReportPath is where WriteReport puts the report.
func (l *RunLog) ReportPath() string { return filepath.Join(l.dir, l.name+".json") }

// escapes matches terminal control sequences (CSI: colours, cursor moves).
var escapes = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// Write appends p, redacted and without terminal escapes. It reports the
// number of bytes of p consumed, len(p) unless the file failed.
func (l *RunLog) Write(p []byte) (int, error) {
	s := l.red.Redact(string(p))
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = escapes.ReplaceAllString(s, "")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("%w: %s: closed", ErrRunLog, l.Path())
	}
	if _, err := io.WriteString(l.f, s); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrRunLog, err)
	}
	return len(p), nil
}

// WriteReport writes the report beside the log, as NAME.json (mode 0600),
// with what write writes, redacted. The file appears whole: it is written to
// a new private name first and renamed, which replaces whatever was at
// NAME.json (a link is replaced, never followed).
func (l *RunLog) WriteReport(write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	data := l.red.Redact(buf.String())
	tmp := fmt.Sprintf("%s.json.tmp-%016x", l.name, rand.Uint64())
	f, err := createExclusive(l.root, tmp)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = io.WriteString(f, data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.root.Rename(tmp, l.name+".json")
	}
	if err != nil {
		_ = l.root.Remove(tmp)
		return fmt.Errorf("report %s: %w", l.ReportPath(), err)
	}
	return nil
}

// Close flushes the log to disk and closes it.
func (l *RunLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Sync()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	_ = l.root.Close()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRunLog, l.Path(), err)
	}
	return nil
}

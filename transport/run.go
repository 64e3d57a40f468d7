package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ncnpush/ncnpush/shell"
)

// RunOptions controls Run.
//
// There is deliberately no Stdin: the script itself is bash's standard
// input, and after the script the session's stdin carries Run's heartbeat,
// the lifeline that ends the remote command when the client goes away (see
// Run). Data a script needs belongs in the script (quoted with shell.Quote)
// or in a file sent with Upload.
type RunOptions struct {
	// Stdout receives each line the script writes to standard output,
	// without the trailing newline; a final line without newline is
	// delivered too, and lines longer than 1 MiB arrive in 1 MiB pieces.
	// Nil discards the output. Stdout and Stderr are called from two
	// goroutines, possibly at the same time; neither is called concurrently
	// with itself.
	Stdout func(line string)
	// Stderr is Stdout's counterpart for standard error.
	Stderr func(line string)
}

// RunResult describes a finished script.
type RunResult struct {
	// ExitCode is the script's exit status; -1 if it is unknown (the run was
	// cancelled or the connection was lost).
	ExitCode int
	// Duration is the wall time from opening the session to the end.
	Duration time.Duration
}

const (
	// maxLine is the longest line passed to a RunOptions callback in one
	// piece.
	maxLine = 1 << 20
	// cancelWait is how long Run waits, after a cancellation, for the
	// remote command to confirm it ended before it closes the session
	// regardless. It exceeds the wrapper's TERM→KILL grace period.
	cancelWait = 8 * time.Second
	// heartbeatInterval is how often Run writes a heartbeat (a newline) on
	// the session's stdin once the script is sent.
	heartbeatInterval = 5 * time.Second
	// heartbeatTimeout is how long the remote wrapper waits for a heartbeat
	// before it ends the script: 5 heartbeats missed. With the wrapper's
	// 5 s TERM→KILL grace, a node whose client vanished without a word
	// (power loss, a dead link: sshd notices nothing) has ended the script's
	// process group within 30 s of the last heartbeat, the bound the client
	// side keeps with its keepalives (DefaultKeepAlive × DefaultKeepAliveMax).
	heartbeatTimeout = 25 * time.Second
	// feedChunk is the largest piece of the script written to stdin at once:
	// a cancellation waits for one piece at most before it closes stdin.
	feedChunk = 32 << 10
)

// remoteWrapper is run by bash on the node as
//
//	bash --norc --noprofile -c "$remoteWrapper" ncnpush-run <script length in bytes> <heartbeat timeout in seconds>
//
// It exists so that a cancelled or disconnected run ends the script and
// everything it started, which OpenSSH does not do by itself for sessions
// without a PTY: sshd neither signals the command when the channel closes
// nor, for "signal" requests (OpenSSH ≥ 7.9), anything beyond the session's
// first process; and when the client vanishes silently (power loss, a link
// that drops packets without a reset), sshd does not even notice. The
// wrapper
//
//  1. reads exactly the announced number of script bytes from stdin and
//     refuses to run a truncated script (exit 125);
//  2. under `set -m`, so that each background job gets its own process
//     group, starts two jobs:
//     - the lifeline, reading the rest of stdin (the SSH channel), where
//     the client writes a heartbeat line every few seconds (see Run). It
//     ends by itself on EOF (the client closes stdin only to cancel; sshd
//     closes it when the channel or the connection goes away, if it
//     notices) or when no heartbeat came for the timeout (the client or the
//     link is gone, whether sshd noticed or not); never with status 143;
//     - the script, `bash -euo pipefail -s` fed from the script bytes, in a
//     subshell that kills the lifeline when the script ends;
//  3. waits for the lifeline. Killed by the script job (status 143): the
//     script is done, and the wrapper exits with its status. Ended any
//     other way (EOF, no heartbeat): the client is gone, so the wrapper
//     sends SIGTERM to the script's whole process group, then SIGKILL if
//     anything is still there 4 to 5 seconds later ($SECONDS ticks in whole
//     seconds), and says so on stderr if it was the heartbeat.
//
// This is what bounds the node side of a long-running Run, the restore's
// lock above all: the lock is an flock held by a Run that lasts the whole
// restore, so when the heartbeat stops — the workstation lost power, or the
// link died — the lock's holder is ended, and the lock released, at most
// heartbeatTimeout + 5 s (30 s) after the last heartbeat arrived, even if
// sshd never learns that the connection is dead.
//
// The waits name their PID, which bash answers even for a job that already
// ended, so a script that finishes instantly is not missed (`wait -n` would
// be racy here, and bash 4.4 lacks its PID form). SIGHUP, SIGINT and SIGTERM
// sent to the wrapper itself also end the group. Processes a script detaches
// on purpose (setsid, systemd-run) are not touched. Job notices are silenced
// by pointing the wrapper's own stderr at /dev/null once the jobs (which keep
// the real stderr) are started; fd 4 keeps the real one for the wrapper's
// own message.
const remoteWrapper = `set -u
n=$1
limit=$2
s=$(head -c "$n"; printf x)
s=${s%x}
got=$(LC_ALL=C; printf %s "${#s}")
if [ "$got" != "$n" ]; then
	echo "ncnpush: received $got of $n script bytes; not running a truncated script" >&2
	exit 125
fi
exec 3<&0 </dev/null
set -m
while :; do
	IFS= read -r -t "$limit" _ && continue
	[ "$?" -gt 128 ] && exit 3
	exit 0
done <&3 >/dev/null 2>&1 3<&- &
lifeline=$!
{
	printf %s "$s" | bash -euo pipefail -s
	rc=$?
	kill "$lifeline" 2>/dev/null
	exit "$rc"
} 3<&- &
script=$!
exec 3<&- 4>&2 2>/dev/null
cancel() {
	kill -TERM -- "-$script" || return 0
	deadline=$((SECONDS + 5))
	while kill -0 -- "-$script"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL -- "-$script"
			return 0
		fi
		sleep 0.1
	done
}
trap 'cancel; exit 129' HUP
trap 'cancel; exit 130' INT
trap 'cancel; exit 143' TERM
wait "$lifeline"
ended=$?
if [ "$ended" -ne 143 ]; then
	cancel
	if [ "$ended" -eq 3 ]; then
		echo "ncnpush: no heartbeat from the client for $limit s; the script was ended" >&4
	fi
fi
wait "$script"
`

// remoteCommand is the command line of a Run session for a script of n
// bytes. The login shell of the remote user runs it with -c. --norc: bash
// sources ~/.bashrc when it thinks sshd started it (Debian and SUSE build it
// so), and exec resets the shell level that would tell it otherwise; the
// login shell has already done that once.
//
// timeout is the wrapper's heartbeat timeout, in seconds (bash's read -t
// takes fractions).
func remoteCommand(n int, timeout time.Duration) string {
	return "exec bash --norc --noprofile -c " + shell.Quote(remoteWrapper) + " ncnpush-run " + strconv.Itoa(n) +
		" " + strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
}

// Run runs script on the host with `bash -euo pipefail -s`, the script
// being bash's standard input (no file is written on the node). Output is
// streamed line by line to opts.Stdout and opts.Stderr while the script
// runs; all callbacks have returned when Run returns.
//
// A script that exits non-zero returns an *ExitError (errors.Is
// ErrRemoteCommand) together with a RunResult carrying the code.
//
// After the script, Run writes a heartbeat, a newline, on the session's
// stdin every 5 s until it returns. The remote wrapper (see remoteWrapper)
// ends the script's whole process group — SIGTERM, SIGKILL after 5 s — when
// stdin reaches EOF or when no heartbeat came for 25 s: so a script outlives
// neither a cancellation nor a client that vanished without a word, by more
// than 30 s, however long it may run while the client is there.
//
// When ctx is cancelled, Run closes the session's stdin (no heartbeat is
// written after that); the wrapper then ends the script's process group,
// and Run returns ctx's error once the remote side confirmed the end (or
// after a few seconds at most). Closing the Client or losing the connection
// ends the script the same way, as soon as sshd notices, or when the
// heartbeat times out if it does not.
//
// A cancelled Run returns an error wrapping ctx's error (context.Canceled
// or context.DeadlineExceeded); a lost connection, ErrConnectionLost (on a
// silent link, within the keepalive bound: see Config.KeepAlive).
//
// Scripts must not contain NUL bytes (shell.ErrNUL). Commands in the
// script that read standard input read the rest of the script, as with any
// `bash -s`; give them </dev/null.
func (c *Client) Run(ctx context.Context, script string, opts RunOptions) (RunResult, error) {
	start := time.Now()
	result := RunResult{ExitCode: -1}
	finish := func(err error) (RunResult, error) {
		result.Duration = time.Since(start)
		return result, err
	}
	const action = "run script"
	if err := shell.Validate(script); err != nil {
		return finish(&opError{host: c.host, action: action, err: err})
	}
	if err := ctx.Err(); err != nil {
		return finish(&opError{host: c.host, action: action, err: err})
	}

	sess, err := c.ssh.NewSession()
	if err != nil {
		return finish(c.connectionLost(action+": open session", err))
	}
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return finish(&opError{kind: ErrConnectionLost, host: c.host, action: action, err: err})
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return finish(&opError{kind: ErrConnectionLost, host: c.host, action: action, err: err})
	}
	stderr, err := sess.StderrPipe()
	if err != nil {
		return finish(&opError{kind: ErrConnectionLost, host: c.host, action: action, err: err})
	}
	if err := sess.Start(remoteCommand(len(script), c.heartbeatTimeout)); err != nil {
		return finish(c.connectionLost(action+": start", err))
	}
	c.log.Debug("script started", "bytes", len(script))

	var streams sync.WaitGroup
	streams.Add(2)
	go func() { defer streams.Done(); streamLines(stdout, opts.Stdout) }()
	go func() { defer streams.Done(); streamLines(stderr, opts.Stderr) }()
	in := &stdinFeed{w: stdin}
	quit := make(chan struct{}) // closed when Run returns: no more heartbeats
	fed := make(chan struct{})  // closed when the writer has stopped
	go func() {
		defer close(fed)
		// A write fails only if the session ends early (the exit status
		// says why) or stdin was closed to cancel.
		c.feed(in, script, quit)
	}()
	defer func() {
		close(quit)
		sess.Close() // fails a write still waiting for the remote window
		<-fed
	}()
	done := make(chan error, 1)
	go func() {
		err := sess.Wait()
		streams.Wait()
		done <- err
	}()

	select {
	case err = <-done:
	case <-ctx.Done():
		// EOF on stdin makes the remote wrapper kill the script's process
		// group; wait for it to report back so the kill is known to have
		// happened while we still held the connection. Closing waits for a
		// write in progress (one piece of the script or a heartbeat), which
		// a remote that stopped reading can hold up: it runs aside, so
		// that cancelWait still bounds the wait.
		closed := make(chan struct{})
		go func() { defer close(closed); in.close() }()
		select {
		case err := <-done:
			c.log.Info("script cancelled; remote process group ended", "remote_result", fmt.Sprint(err))
		case <-time.After(cancelWait):
			c.log.Warn("script cancelled; the remote side did not confirm the end in time", "waited", cancelWait)
			sess.Close()
			<-done
		}
		<-closed
		return finish(&opError{host: c.host, action: action, err: context.Cause(ctx)})
	}

	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		result.ExitCode = 0
		c.log.Debug("script finished", "duration", time.Since(start))
		return finish(nil)
	case errors.As(err, &exitErr):
		result.ExitCode = exitErr.ExitStatus()
		c.log.Debug("script failed", "exit_code", result.ExitCode, "signal", exitErr.Signal(), "duration", time.Since(start))
		return finish(&ExitError{Host: c.host, Code: result.ExitCode, Signal: exitErr.Signal()})
	default:
		var missing *ssh.ExitMissingError
		if errors.As(err, &missing) {
			err = errors.New("the remote command ended without reporting an exit status")
		}
		return finish(c.connectionLost(action, err))
	}
}

// heartbeatLine is what Run writes on the session's stdin as a heartbeat:
// one line for the wrapper's `read`.
var heartbeatLine = []byte("\n")

// feed writes script to in, then a heartbeat every c.heartbeat until quit
// is closed or a write fails.
func (c *Client) feed(in *stdinFeed, script string, quit <-chan struct{}) {
	for rest := script; rest != ""; {
		n := min(len(rest), feedChunk)
		if in.write([]byte(rest[:n])) != nil {
			return
		}
		rest = rest[n:]
	}
	ticker := time.NewTicker(c.heartbeat)
	defer ticker.Stop()
	for {
		select {
		case <-quit:
			return
		case <-ticker.C:
		}
		if c.heartbeatPaused.Load() {
			continue
		}
		if in.write(heartbeatLine) != nil {
			return
		}
	}
}

// errStdinClosed fails a write to a Run's stdin after it was closed to
// cancel.
var errStdinClosed = errors.New("stdin closed")

// stdinFeed is a Run session's stdin, written by one goroutine (the script,
// then heartbeats) and closed by another to cancel: no write starts once it
// is closed, and closing waits for a write in progress.
type stdinFeed struct {
	mu     sync.Mutex
	w      io.WriteCloser
	closed bool
}

func (f *stdinFeed) write(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errStdinClosed
	}
	_, err := f.w.Write(p)
	return err
}

// close sends EOF (the wrapper then ends the script); it is idempotent.
func (f *stdinFeed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		_ = f.w.Close() // fails only on a session that already ended
	}
}

// streamLines calls emit for each line read from r (see RunOptions.Stdout)
// until EOF or a read error. With a nil emit it only drains r, which must
// happen anyway: unread output would fill the SSH window and stall the
// script.
func streamLines(r io.Reader, emit func(string)) {
	if emit == nil {
		_, _ = io.Copy(io.Discard, r)
		return
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var line strings.Builder
	for {
		chunk, err := br.ReadSlice('\n')
		line.Write(chunk)
		switch {
		case err == nil:
			s := line.String()
			emit(s[:len(s)-1])
			line.Reset()
		case errors.Is(err, bufio.ErrBufferFull):
			if line.Len() >= maxLine {
				emit(line.String())
				line.Reset()
			}
		default: // EOF or a broken session: flush the partial last line
			if line.Len() > 0 {
				emit(line.String())
			}
			return
		}
	}
}

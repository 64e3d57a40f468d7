package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	scp "github.com/bramvdbogaerde/go-scp"
)

// scpCancelGrace is how long a cancelled Upload or Download waits for the
// SCP transfer to stop by itself before it closes the session.
const scpCancelGrace = 5 * time.Second

// newSCP returns a go-scp client on c's connection whose remote command is
// remote, a shell command line whose every value the caller quoted with
// shell.Quote.
//
// go-scp builds the remote command as RemoteBinary followed by its own
// arguments (`-qt %q`, `-f %q`), quoted with Go's %q, which is not shell
// quoting: $(...) and backticks in a path would run. So the whole command is
// set here, and ends in a shell comment sign that turns go-scp's arguments
// into a comment (%q never leaves a real newline in them).
func (c *Client) newSCP(remote string) (*scp.Client, error) {
	sc, err := scp.NewClientBySSH(c.ssh)
	if err != nil {
		return nil, err
	}
	sc.RemoteBinary = remote + " #"
	return &sc, nil
}

// scpContext returns the context to hand go-scp for a transfer running under
// ctx, and the function to call once the transfer has returned.
//
// Cancellation of ctx reaches the transfer through the reader (Upload) or
// the reader and writer (Download) that go-scp's copy goroutine uses: their
// next call fails, the goroutine ends the transfer and closes the session's
// stdin itself. Cancelling go-scp's own context instead makes go-scp close
// the session from another goroutine while its copy goroutine still uses it
// (a data race in go-scp). go-scp's context is only cancelled, as a fallback,
// scpCancelGrace after ctx, when the copy is stuck (the remote neither
// reading nor sending, or a Read or Write of the caller's that blocks).
func scpContext(ctx context.Context) (context.Context, func()) {
	scpCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	unregister := context.AfterFunc(ctx, func() { time.AfterFunc(scpCancelGrace, stop) })
	return scpCtx, func() {
		unregister()
		stop()
	}
}

// scpError turns an error of go-scp into one line. The remote scp's own
// messages arrive as "scp: PATH: REASON\n".
func scpError(err error) error {
	msg := strings.TrimSpace(err.Error())
	if msg != err.Error() {
		err = errors.New(msg)
	}
	if strings.HasPrefix(msg, "scp: ") {
		return err
	}
	return fmt.Errorf("scp: %w", err)
}

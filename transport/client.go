package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is an SSH connection to one host, possibly through jump hosts. Run
// and Upload each open their own session on it, so a Client may be used by
// several goroutines at once.
type Client struct {
	host  string
	addr  string
	log   *slog.Logger
	ssh   *ssh.Client
	jumps []*ssh.Client // jump host connections, outermost first

	done      chan struct{} // closed by Close; stops the keepalive loop
	closeOnce sync.Once
	closeErr  error
	lost      atomic.Pointer[string] // why the keepalive loop closed the connection

	// Run's heartbeat (see remoteWrapper): a newline on the session's
	// stdin every heartbeat; the node ends the script after
	// heartbeatTimeout without one. Tests shorten both.
	heartbeat        time.Duration
	heartbeatTimeout time.Duration
	heartbeatPaused  atomic.Bool // tests: stop writing heartbeats
}

// Dial connects to cfg.Host, through the jump hosts of cfg.Jump or
// ssh_config ProxyJump if any, verifies host keys against known_hosts and
// authenticates with the agent's keys and the identity files. It opens one
// SSH connection to the host (plus one per jump host) that Run and Upload
// share; Close it when done.
//
// Errors name the host and the hop, and wrap ErrConnect, ErrAuth, or (via
// *HostKeyError) ErrUnknownHostKey, ErrHostKeyMismatch or ErrHostKeyRevoked.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	name := cfg.Host
	if name == "" {
		name = cfg.Address
	}
	if name == "" {
		return nil, &opError{kind: ErrConnect, host: "transport", action: "connect", err: errors.New("Config.Host is empty")}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("host", name)
	cfg.Host = name

	sc, err := loadSSHConfig(cfg.SSHConfigFile)
	if err != nil {
		return nil, &opError{kind: ErrConnect, host: name, action: "connect: read ssh config", err: err}
	}
	p, err := plan(cfg, sc)
	if err != nil {
		return nil, &opError{kind: ErrConnect, host: name, action: "connect", err: err}
	}
	ag := openAgent(log)
	defer ag.close()

	c := &Client{host: name, log: log, done: make(chan struct{}), heartbeat: heartbeatInterval, heartbeatTimeout: heartbeatTimeout}
	var via *ssh.Client
	for i, ep := range p.hops {
		hopLog, action := log, "connect "+ep.addr()
		if i < len(p.hops)-1 {
			hopLog = log.With("jump", ep.name)
			action = "connect jump host " + ep.name + " (" + ep.addr() + ")"
		}
		hopLog.Debug("connecting", "addr", ep.addr(), "user", ep.user)
		client, oe := dialHop(ctx, via, ep, ag, p.connectTimeout, hopLog)
		if oe != nil {
			c.closeConnections(false)
			switch {
			case oe.action == "":
				oe.action = action
			case i < len(p.hops)-1:
				oe.action = action + ": " + oe.action
			}
			oe.host = name
			return nil, oe
		}
		if i < len(p.hops)-1 {
			c.jumps = append(c.jumps, client)
		} else {
			c.ssh, c.addr = client, ep.addr()
		}
		via = client
	}
	log.Debug("connected", "addr", c.addr, "jumps", len(c.jumps), "server_version", string(c.ssh.ServerVersion()))
	if p.keepAlive > 0 {
		go c.keepAlive(p.keepAlive, p.keepAliveMax)
	}
	return c, nil
}

// clientConfig is the SSH client configuration of one hop: host keys are
// checked by checker (known_hosts, strict unless ep.acceptNew allows trust
// on first use). Only ep.insecure, which comes from
// Config.InsecureIgnoreHostKey alone (the explicit user flag, never
// ssh_config), turns host key checking off. transport/hostkey_policy_test.go
// asserts that this is the only place ssh.InsecureIgnoreHostKey is used.
func clientConfig(ep *endpoint, checker *hostKeyChecker, signers []ssh.Signer) *ssh.ClientConfig {
	conf := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil })},
		HostKeyCallback:   checker.check,
		HostKeyAlgorithms: checker.algorithms,
		ClientVersion:     "SSH-2.0-ncnpush",
	}
	if ep.insecure {
		conf.HostKeyCallback = ssh.InsecureIgnoreHostKey() // only with the explicit flag, see Config
	}
	return conf
}

// dialHop opens the TCP connection to ep (directly, or as a channel through
// via) and runs the SSH handshake and authentication, all within timeout.
// Errors have no host; the caller fills in the action unless it is an
// authentication error, whose action names the user.
func dialHop(ctx context.Context, via *ssh.Client, ep *endpoint, ag *agentConn, timeout time.Duration, log *slog.Logger) (*ssh.Client, *opError) {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	timedOut := func(err error) error {
		if ctx.Err() == nil && errors.Is(hctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no connection within %s (ConnectTimeout): %w", timeout, err)
		}
		return err
	}

	var conn net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(hctx, "tcp", ep.addr())
	} else {
		conn, err = via.DialContext(hctx, "tcp", ep.addr())
	}
	if err != nil {
		if ctxErr := hctx.Err(); ctxErr != nil {
			if !errors.Is(err, ctxErr) {
				err = fmt.Errorf("%w (%w)", err, ctxErr)
			}
			err = timedOut(err)
		}
		return nil, &opError{kind: ErrConnect, err: err}
	}

	checker, err := newHostKeyChecker(ep, log)
	if err != nil {
		conn.Close()
		return nil, &opError{kind: ErrConnect, err: err}
	}
	keys := loadKeys(ep, ag, log)
	conf := clientConfig(ep, checker, keys.signers)

	// The handshake has no context; closing the connection aborts it.
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, ep.knownHostsAddr(), conf)
	aborted := !stop()
	if err == nil && !aborted {
		return ssh.NewClient(cc, chans, reqs), nil
	}
	conn.Close()
	var hkErr *HostKeyError
	switch {
	case errors.As(checker.refusal, &hkErr):
		return nil, &opError{err: hkErr} // carries its own sentinel
	case checker.refusal != nil:
		return nil, &opError{kind: ErrConnect, err: checker.refusal}
	case aborted: // err, if any, is only the effect of closing conn
		return nil, &opError{kind: ErrConnect, err: timedOut(fmt.Errorf("ssh handshake: %w", hctx.Err()))}
	case checker.verified || ep.insecure:
		// The server proved its identity, so what failed is authentication.
		what := fmt.Sprintf("server refused all %d keys offered (%s)", len(keys.signers), strings.Join(keys.origins, ", "))
		if len(keys.signers) == 0 {
			what = "no keys to offer: no usable ssh-agent (SSH_AUTH_SOCK) and no usable identity file"
		}
		return nil, &opError{kind: ErrAuth, action: "authenticate " + ep.user + "@" + ep.addr(), err: fmt.Errorf("%s: %w", what, err)}
	default:
		return nil, &opError{kind: ErrConnect, err: err}
	}
}

// keepAlive sends a keepalive@openssh.com request every interval (one at a
// time: the SSH library serializes global requests, so a second one would
// only queue behind an unanswered first) and closes the connection when no
// reply has arrived for max intervals. A request on a silent link never gets
// an answer and its SendRequest never returns by itself; the loop does not
// wait for it: the deadline, reset by every reply, is its timeout, and
// closing the connection releases the goroutine that sent it.
//
// The bound is exact: the connection is closed at most max × interval after
// the last reply, hence at most that long after the link went silent (5 s ×
// 5 = 25 s by default), and every Run, Upload and Download on it then fails
// with ErrConnectionLost naming the keepalives.
func (c *Client) keepAlive(interval time.Duration, max int) {
	limit := time.Duration(max) * interval
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	var pending chan error // the request in flight; nil if none
	for {
		select {
		case <-c.done:
			return
		case err := <-pending: // a nil channel never receives
			if err != nil {
				return // the connection is gone; its users see that
			}
			pending = nil
			deadline.Reset(limit)
		case <-ticker.C:
			if pending == nil {
				pending = make(chan error, 1)
				go func(result chan<- error) {
					_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
					result <- err
				}(pending)
			}
		case <-deadline.C:
			reason := fmt.Sprintf("no reply to keepalives for %s (%d × %s)", limit, max, interval)
			c.lost.Store(&reason)
			c.log.Warn("closing unresponsive connection", "addr", c.addr, "reason", reason)
			// Outermost first: closing the TCP connection cannot block,
			// while closing a connection tunnelled through a silent jump
			// host would wait to send its close message.
			c.closeConnections(true)
			return
		}
	}
}

// connectionLost wraps err as ErrConnectionLost for action, adding why the
// connection was closed if the keepalive loop did it.
func (c *Client) connectionLost(action string, err error) error {
	if reason := c.lost.Load(); reason != nil {
		err = fmt.Errorf("%s: %w", *reason, err)
	}
	return &opError{kind: ErrConnectionLost, host: c.host, action: action, err: err}
}

// transferLost is the error of an Upload or Download (kind ErrUpload or
// ErrDownload) whose connection is gone: it wraps both kind and
// ErrConnectionLost, with the keepalive loop's reason if it closed the
// connection.
func (c *Client) transferLost(kind error, action string, err error) error {
	if reason := c.lost.Load(); reason != nil {
		err = fmt.Errorf("%s: %w", *reason, err)
	}
	return &opError{kind: kind, host: c.host, action: action, err: fmt.Errorf("%w: %w", ErrConnectionLost, err)}
}

// connectionGone reports whether the connection to the host is closed (by
// Close, by the keepalive loop, or by the network), to tell a failed
// session from a failed connection. Unless it is known to be closed, it
// opens and closes a session: the SSH library fails that at once on a
// closed connection (it records the read error before it ends the
// sessions), and on a silent one it blocks until the keepalive loop closes
// it.
func (c *Client) connectionGone() bool {
	if c.lost.Load() != nil {
		return true
	}
	select {
	case <-c.done:
		return true
	default:
	}
	s, err := c.ssh.NewSession()
	if err != nil {
		return true
	}
	s.Close()
	return false
}

// Host returns the inventory name of the host (Config.Host).
func (c *Client) Host() string { return c.host }

// Close closes the connection to the host and then to the jump hosts.
// Scripts still running are ended (see Run). Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.closeConnections(false)
	})
	return c.closeErr
}

// closeConnections closes the host connection and the jump connections,
// innermost first (outermost first if abort: the connection is lost), and
// returns the first unexpected error.
func (c *Client) closeConnections(abort bool) error {
	var first error
	clients := []*ssh.Client{c.ssh}
	for i := len(c.jumps) - 1; i >= 0; i-- {
		clients = append(clients, c.jumps[i])
	}
	if abort {
		slices.Reverse(clients)
	}
	for _, cl := range clients {
		if cl == nil {
			continue
		}
		if err := cl.Close(); err != nil && !errors.Is(err, net.ErrClosed) && first == nil {
			first = &opError{kind: ErrConnect, host: c.host, action: "close", err: err}
		}
	}
	return first
}

// opError is the error type of this package: "<host>: <action>: <cause>",
// matching both its sentinel kind and its cause with errors.Is.
type opError struct {
	kind   error // one of the Err* sentinels, or nil when err carries one
	host   string
	action string
	err    error
}

func (e *opError) Error() string { return e.host + ": " + e.action + ": " + e.err.Error() }

func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

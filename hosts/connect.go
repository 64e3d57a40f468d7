package hosts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ncnpush/ncnpush/transport"
)

// ErrConnect is matched (errors.Is) by the error of Connect when any host
// failed to connect.
var ErrConnect = errors.New("connect")

// DialFunc opens a connection to one host.
type DialFunc func(ctx context.Context, h *Host) (Conn, error)

// ConnectOptions configures Connect. The SSH settings are passed to
// transport.Config for every host; see there for their meaning.
type ConnectOptions struct {
	// IdentityFiles are tried after the host's own identity file.
	IdentityFiles []string
	// KnownHostsFiles replace ~/.ssh/known_hosts.
	KnownHostsFiles []string
	// AcceptNewHostKeys records and accepts keys of hosts not yet known.
	AcceptNewHostKeys bool
	// InsecureIgnoreHostKey disables host key checking (explicit flag only).
	InsecureIgnoreHostKey bool
	// Jump is a ProxyJump chain, "[user@]host[:port][,more]".
	Jump string
	// SSHConfigFile replaces ~/.ssh/config.
	SSHConfigFile string
	// ConnectTimeout bounds connect and handshake, per hop.
	ConnectTimeout time.Duration
	// KeepAlive is the keepalive interval (negative disables).
	KeepAlive time.Duration
	// Logger receives the transport's log lines; nil discards them.
	Logger *slog.Logger

	// Forks bounds how many hosts are dialled at once (no bound when <= 0).
	Forks int
	// Dial replaces the SSH dialler (tests, other transports). Nil means
	// SSH with the settings above.
	Dial DialFunc
}

// TransportConfig returns the transport configuration for h under o.
func (o ConnectOptions) TransportConfig(h *Host) transport.Config {
	var ids []string
	if h.IdentityFile != "" {
		ids = append(ids, h.IdentityFile)
	}
	ids = append(ids, o.IdentityFiles...)
	return transport.Config{
		Host:                  h.Name,
		Address:               h.Address,
		User:                  h.User,
		Port:                  h.Port,
		IdentityFiles:         ids,
		KnownHostsFiles:       o.KnownHostsFiles,
		AcceptNewHostKeys:     o.AcceptNewHostKeys,
		InsecureIgnoreHostKey: o.InsecureIgnoreHostKey,
		Jump:                  o.Jump,
		SSHConfigFile:         o.SSHConfigFile,
		ConnectTimeout:        o.ConnectTimeout,
		KeepAlive:             o.KeepAlive,
		Logger:                o.Logger,
	}
}

// dialSSH is the default DialFunc.
func (o ConnectOptions) dialSSH(ctx context.Context, h *Host) (Conn, error) {
	c, err := transport.Dial(ctx, o.TransportConfig(h))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Connect dials every host of hs in parallel and sets its Conn. It is all or
// nothing: if any host fails, the connections that did open are closed
// again and the error (wrapping ErrConnect) reports every failed host at
// once, one *HostError each. Hosts that already have a Conn are left alone.
func Connect(ctx context.Context, hs Hosts, o ConnectOptions) error {
	dial := o.Dial
	if dial == nil {
		dial = o.dialSSH
	}
	todo := hs.Filter(func(h *Host) bool { return h.Conn == nil })
	err := todo.ParallelEach(ctx, o.Forks, func(ctx context.Context, h *Host) error {
		c, err := dial(ctx, h)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		h.Conn = c
		return nil
	})
	if err == nil {
		return nil
	}
	_ = todo.Close()
	// Not "unreachable": a changed host key or a refused login fails here too.
	return fmt.Errorf("%w: %d of %d hosts failed:\n%w", ErrConnect, countHostErrors(err), len(todo), err)
}

// countHostErrors counts the HostErrors joined in err.
func countHostErrors(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

// ConnectAny connects to every host of hs that is not connected yet, as
// Connect does, but keeps the hosts it reached: for commands that answer for
// the hosts they can reach (etcd status with one master down). It returns
// each failed host's error by name; hosts that failed keep a nil Conn.
func ConnectAny(ctx context.Context, hs Hosts, o ConnectOptions) map[string]error {
	dial := o.Dial
	if dial == nil {
		dial = o.dialSSH
	}
	var mu sync.Mutex
	failed := map[string]error{}
	todo := hs.Filter(func(h *Host) bool { return h.Conn == nil })
	_ = todo.ParallelEach(ctx, o.Forks, func(ctx context.Context, h *Host) error {
		c, err := dial(ctx, h)
		if err != nil {
			mu.Lock()
			failed[h.Name] = fmt.Errorf("connect: %w", err)
			mu.Unlock()
			return nil
		}
		h.Conn = c
		return nil
	})
	return failed
}

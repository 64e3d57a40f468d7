package transport

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by this package names the host and
// the action, and wraps one of these, so callers can classify failures with
// errors.Is. The exceptions: a cancelled Run wraps the context's error
// instead (a cancelled Dial, Upload or Download wraps both it and
// ErrConnect, ErrUpload or ErrDownload), and a script with a NUL byte wraps
// shell.ErrNUL.
var (
	// ErrConnect: the host could not be reached or the SSH handshake failed
	// before authentication (DNS, TCP, timeout, protocol, jump host).
	ErrConnect = errors.New("connect failed")
	// ErrUnknownHostKey: no known_hosts entry exists for the host, and
	// accepting new keys was not allowed.
	ErrUnknownHostKey = errors.New("unknown host key")
	// ErrHostKeyMismatch: known_hosts has keys for the host but the offered
	// key is not one of them. Always refused, whatever the options.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrHostKeyRevoked: the offered key is marked @revoked in known_hosts.
	ErrHostKeyRevoked = errors.New("host key revoked")
	// ErrAuth: the server refused every key offered (agent and identity
	// files), or no key was available at all.
	ErrAuth = errors.New("authentication failed")
	// ErrRemoteCommand: a script ran and exited non-zero or was killed by a
	// signal. The error is an *ExitError carrying the exit code.
	ErrRemoteCommand = errors.New("remote command failed")
	// ErrConnectionLost: an established connection broke while it was in
	// use (keepalives unanswered, connection closed, remote end vanished
	// without reporting an exit status). An Upload or Download whose
	// connection broke wraps it together with ErrUpload or ErrDownload.
	ErrConnectionLost = errors.New("connection lost")
	// ErrUpload: an SCP upload failed (invalid options, short or long
	// reader, remote scp error).
	ErrUpload = errors.New("upload failed")
	// ErrDownload: an SCP download failed (invalid options, missing or
	// unreadable remote file, remote scp error, short transfer, the
	// writer's error).
	ErrDownload = errors.New("download failed")
)

// ExitError reports a script that ran on Host and ended unsuccessfully. It
// matches ErrRemoteCommand with errors.Is; use errors.As to get the code.
type ExitError struct {
	// Host is the inventory name of the host the script ran on.
	Host string
	// Code is the exit status; for a script killed by a signal it is
	// 128+signal number, as in the shell.
	Code int
	// Signal is the name of the signal that killed the remote command
	// (e.g. "KILL"), or empty.
	Signal string
}

// Error returns a one-line message naming the host and the exit status.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: run script: exit status %d", e.Host, e.Code)
	if e.Signal != "" {
		msg += " (killed by SIG" + strings.TrimPrefix(e.Signal, "SIG") + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrRemoteCommand) true for an *ExitError.
func (e *ExitError) Is(target error) bool { return target == ErrRemoteCommand }

// HostKeyError describes a refused host key. It wraps ErrUnknownHostKey,
// ErrHostKeyMismatch or ErrHostKeyRevoked.
type HostKeyError struct {
	// Address is the name the key was looked up under in known_hosts, in
	// known_hosts form: "host" for port 22, "[host]:port" otherwise.
	Address string
	// KeyType is the type of the key the server offered, e.g. "ssh-ed25519".
	KeyType string
	// Fingerprint is the SHA256 fingerprint of the offered key
	// ("SHA256:..."), as ssh-keygen -l prints it.
	Fingerprint string
	// Known lists the known_hosts entries for the host ("file:line type
	// fingerprint"); empty for an unknown host.
	Known []string
	// File is the known_hosts file the hints name: the first one in use
	// (--known-hosts, UserKnownHostsFile, or ~/.ssh/known_hosts), the one
	// --accept-new-host-keys would write to. Empty: ~/.ssh/known_hosts.
	File string
	// Err is the sentinel: ErrUnknownHostKey, ErrHostKeyMismatch or
	// ErrHostKeyRevoked.
	Err error
}

// Error returns a one-line message saying what was offered and what to do.
func (e *HostKeyError) Error() string {
	offered := e.KeyType + " " + e.Fingerprint
	file := e.File
	if file == "" {
		file = "~/.ssh/known_hosts"
	}
	switch e.Err {
	case ErrUnknownHostKey:
		return fmt.Sprintf("unknown host key %s for %s: pass --accept-new-host-keys, or add it with ssh-keyscan %s >> %s after checking the fingerprint",
			offered, e.Address, keyscanArgs(e.Address), file)
	case ErrHostKeyRevoked:
		return fmt.Sprintf("host key %s for %s is marked @revoked in known_hosts; refusing to connect", offered, e.Address)
	default:
		return fmt.Sprintf("host key for %s has CHANGED: server offered %s but known_hosts has %s; refusing to connect (if the change is expected, remove the old entry with ssh-keygen -f %s -R '%s')",
			e.Address, offered, strings.Join(e.Known, ", "), knownFile(e.Known, file), e.Address)
	}
}

// Unwrap returns the sentinel.
func (e *HostKeyError) Unwrap() error { return e.Err }

// knownFile is the file of the first "file:line ..." entry, else def.
func knownFile(known []string, def string) string {
	if len(known) > 0 {
		entry, _, _ := strings.Cut(known[0], " ")
		if i := strings.LastIndex(entry, ":"); i > 0 {
			return entry[:i]
		}
	}
	return def
}

// keyscanArgs turns a known_hosts address ("host" or "[host]:port") into
// ssh-keyscan arguments.
func keyscanArgs(address string) string {
	if strings.HasPrefix(address, "[") {
		if i := strings.LastIndex(address, "]:"); i > 0 {
			return "-p " + address[i+2:] + " " + address[1:i]
		}
	}
	return address
}

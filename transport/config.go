package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Defaults used when neither Config nor ~/.ssh/config says otherwise.
const (
	// DefaultPort is the SSH port.
	DefaultPort = 22
	// DefaultConnectTimeout bounds connecting to one hop (TCP, handshake,
	// authentication).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultKeepAlive is the interval between keepalive requests.
	DefaultKeepAlive = 5 * time.Second
	// DefaultKeepAliveMax is how many keepalive intervals may pass without
	// a reply before the connection is closed: with DefaultKeepAlive, a
	// link that goes silent (packets dropped, no RST) is given up on, and
	// everything using the connection fails with ErrConnectionLost, within
	// 25 s.
	DefaultKeepAliveMax = 5
)

// Config describes how to reach one host. Zero values defer to the user's
// ssh_config (SSHConfigFile, default ~/.ssh/config), then to the defaults
// above; the user name defaults to the local user, as with ssh. Only the
// user's file is read, not /etc/ssh/ssh_config: distribution-wide settings
// there (Debian's SendEnv, HashKnownHosts, GSSAPI...) are written for the
// OpenSSH client and should not silently change how ncnpush connects.
type Config struct {
	// Host is the inventory name. It is the Host looked up in ssh_config,
	// the name in every log line and error, and the address to dial when
	// neither Address nor ssh_config HostName is set.
	Host string
	// Address overrides ssh_config HostName when non-empty (IP or DNS name,
	// without port).
	Address string
	// User overrides ssh_config User.
	User string
	// Port overrides ssh_config Port.
	Port int
	// IdentityFiles are private key files tried before the ssh_config
	// IdentityFile list and the default ~/.ssh/id_ed25519, id_ecdsa,
	// id_rsa. Keys held by the ssh-agent at SSH_AUTH_SOCK are tried first.
	// Encrypted keys are skipped (load them into the agent instead).
	IdentityFiles []string
	// KnownHostsFiles replace the default ~/.ssh/known_hosts; ssh_config
	// UserKnownHostsFile entries are added after them. New keys accepted
	// with AcceptNewHostKeys are appended to the first file.
	KnownHostsFiles []string
	// AcceptNewHostKeys enables trust on first use: the key of a host that
	// has no known_hosts entry is recorded in the first known_hosts file and
	// accepted. A key that differs from a recorded one is always refused.
	// ssh_config StrictHostKeyChecking accept-new (or no/off) also sets it.
	AcceptNewHostKeys bool
	// InsecureIgnoreHostKey disables host key checking entirely. Set it
	// only from an explicit user flag; it is never taken from ssh_config.
	InsecureIgnoreHostKey bool
	// Jump is a jump host chain, "[user@]host[:port][,more]" as for ssh -J,
	// dialled in order. It overrides ssh_config ProxyJump; "none" disables
	// jumping. Each jump host is itself looked up in ssh_config (HostName,
	// User, Port, IdentityFile, known hosts), but its own ProxyJump is not
	// followed.
	Jump string
	// SSHConfigFile is the ssh_config file to read; default ~/.ssh/config.
	// A missing file is not an error.
	SSHConfigFile string
	// ConnectTimeout bounds TCP connect plus SSH handshake and
	// authentication, per hop. Default ssh_config ConnectTimeout, then 10s.
	ConnectTimeout time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests; the
	// connection is closed once none has been answered for
	// ServerAliveCountMax (default 5) intervals, so a silent link fails
	// Run, Upload and Download with ErrConnectionLost at most KeepAlive ×
	// ServerAliveCountMax after it went silent (as OpenSSH's ssh counts
	// it). Default ssh_config ServerAliveInterval, then 5s (25 s in all).
	// Negative disables keepalives.
	KeepAlive time.Duration
	// Logger receives the transport's log lines; each carries host=<Host>.
	// Nil discards them.
	Logger *slog.Logger
}

// endpoint is one SSH hop with every setting resolved.
type endpoint struct {
	name            string // inventory name or jump host spec, for messages and ssh_config
	hostname        string // what to dial
	port            int
	user            string
	hostKeyAlias    string // ssh_config HostKeyAlias: the known_hosts name, if set
	identityFiles   []identityFile
	identitiesOnly  bool
	knownHostsFiles []string
	acceptNew       bool
	insecure        bool
	hashKnownHosts  bool
}

// identityFile is a key file and whether it was asked for explicitly (a
// missing explicit file is worth a warning, a missing default is not).
type identityFile struct {
	path     string
	explicit bool
}

// addr is the host:port to dial.
func (e *endpoint) addr() string {
	return net.JoinHostPort(e.hostname, strconv.Itoa(e.port))
}

// knownHostsAddr is the host:port under which the host key is looked up in
// and recorded to known_hosts.
func (e *endpoint) knownHostsAddr() string {
	name := e.hostname
	if e.hostKeyAlias != "" {
		name = e.hostKeyAlias
	}
	return net.JoinHostPort(name, strconv.Itoa(e.port))
}

// dialPlan is everything Dial needs: the hops in order and the target last.
type dialPlan struct {
	hops           []*endpoint // jump hosts, then the target
	connectTimeout time.Duration
	keepAlive      time.Duration
	keepAliveMax   int
}

// sshConfig answers ssh_config queries; a nil *ssh_config.Config (missing
// file) answers nothing.
type sshConfig struct {
	file *ssh_config.Config
}

// loadSSHConfig parses path (default ~/.ssh/config). A missing file yields
// an empty configuration.
func loadSSHConfig(path string) (sshConfig, error) {
	if path == "" {
		path = filepath.Join(homeDir(), ".ssh", "config")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return sshConfig{}, nil
	}
	if err != nil {
		return sshConfig{}, err
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return sshConfig{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return sshConfig{file: cfg}, nil
}

// get returns the first value of key for alias, without surrounding quotes.
func (s sshConfig) get(alias, key string) string {
	if s.file == nil {
		return ""
	}
	v, err := s.file.Get(alias, key)
	if err != nil {
		return ""
	}
	return unquote(v)
}

// getAll returns every value of key for alias, in file order.
func (s sshConfig) getAll(alias, key string) []string {
	if s.file == nil {
		return nil
	}
	vs, err := s.file.GetAll(alias, key)
	if err != nil {
		return nil
	}
	for i, v := range vs {
		vs[i] = unquote(v)
	}
	return vs
}

// getInt returns the integer value of key for alias, or 0 if it is unset or
// not a number.
func (s sshConfig) getInt(alias, key string) int {
	n, err := strconv.Atoi(s.get(alias, key))
	if err != nil {
		return 0
	}
	return n
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// plan resolves cfg against ssh_config into the hops to dial.
func plan(cfg Config, sc sshConfig) (*dialPlan, error) {
	target := resolveEndpoint(cfg, sc, cfg.Host, cfg.User, cfg.Port, cfg.Address)
	p := &dialPlan{
		connectTimeout: cfg.ConnectTimeout,
		keepAlive:      cfg.KeepAlive,
		keepAliveMax:   sc.getInt(cfg.Host, "ServerAliveCountMax"),
	}
	if p.connectTimeout == 0 {
		p.connectTimeout = time.Duration(sc.getInt(cfg.Host, "ConnectTimeout")) * time.Second
	}
	if p.connectTimeout <= 0 {
		p.connectTimeout = DefaultConnectTimeout
	}
	if p.keepAlive == 0 {
		p.keepAlive = time.Duration(sc.getInt(cfg.Host, "ServerAliveInterval")) * time.Second
	}
	if p.keepAlive == 0 {
		p.keepAlive = DefaultKeepAlive
	}
	if p.keepAliveMax <= 0 {
		p.keepAliveMax = DefaultKeepAliveMax
	}

	jump := cfg.Jump
	if jump == "" {
		jump = sc.get(cfg.Host, "ProxyJump")
	}
	if jump != "" && !strings.EqualFold(jump, "none") {
		for spec := range strings.SplitSeq(jump, ",") {
			user, host, port, err := parseJumpSpec(strings.TrimSpace(spec))
			if err != nil {
				return nil, fmt.Errorf("jump host %q: %w", spec, err)
			}
			p.hops = append(p.hops, resolveEndpoint(cfg, sc, host, user, port, ""))
		}
	}
	p.hops = append(p.hops, target)
	return p, nil
}

// resolveEndpoint applies the precedence "explicit value, then ssh_config for
// alias, then default" to one hop. cfg supplies the settings that are shared
// by all hops (identity files, known hosts, host key policy).
func resolveEndpoint(cfg Config, sc sshConfig, alias, user string, port int, address string) *endpoint {
	e := &endpoint{
		name:           alias,
		hostname:       address,
		port:           port,
		user:           user,
		hostKeyAlias:   sc.get(alias, "HostKeyAlias"),
		identitiesOnly: strings.EqualFold(sc.get(alias, "IdentitiesOnly"), "yes"),
		hashKnownHosts: strings.EqualFold(sc.get(alias, "HashKnownHosts"), "yes"),
		insecure:       cfg.InsecureIgnoreHostKey,
		acceptNew:      cfg.AcceptNewHostKeys,
	}
	switch strings.ToLower(sc.get(alias, "StrictHostKeyChecking")) {
	case "accept-new", "no", "off":
		// OpenSSH's "no" also connects to hosts whose key changed; here a
		// changed key is always refused, so "no" means accept-new.
		e.acceptNew = true
	}
	if e.port == 0 {
		e.port = sc.getInt(alias, "Port")
	}
	if e.port <= 0 {
		e.port = DefaultPort
	}
	if e.user == "" {
		e.user = sc.get(alias, "User")
	}
	if e.user == "" {
		e.user = localUser()
	}
	tok := tokens{alias: alias, port: e.port, user: e.user}
	if e.hostname == "" {
		tok.host = alias
		e.hostname = tok.expand(sc.get(alias, "HostName"))
	}
	if e.hostname == "" {
		e.hostname = alias
	}
	tok.host = e.hostname

	for _, f := range cfg.IdentityFiles {
		e.identityFiles = append(e.identityFiles, identityFile{path: expandHome(f), explicit: true})
	}
	for _, f := range sc.getAll(alias, "IdentityFile") {
		e.identityFiles = append(e.identityFiles, identityFile{path: tok.expand(f), explicit: true})
	}
	for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		e.identityFiles = append(e.identityFiles, identityFile{path: filepath.Join(homeDir(), ".ssh", f)})
	}

	for _, f := range cfg.KnownHostsFiles {
		e.knownHostsFiles = append(e.knownHostsFiles, expandHome(f))
	}
	if len(e.knownHostsFiles) == 0 {
		e.knownHostsFiles = []string{filepath.Join(homeDir(), ".ssh", "known_hosts")}
	}
	for _, v := range sc.getAll(alias, "UserKnownHostsFile") {
		for _, f := range strings.Fields(v) {
			if !strings.EqualFold(f, "none") {
				e.knownHostsFiles = append(e.knownHostsFiles, tok.expand(f))
			}
		}
	}
	return e
}

// parseJumpSpec splits "[ssh://][user@]host[:port]" (host may be a
// bracketed IPv6 address).
func parseJumpSpec(spec string) (user, host string, port int, err error) {
	spec = strings.TrimPrefix(spec, "ssh://")
	if i := strings.LastIndex(spec, "@"); i >= 0 {
		user, spec = spec[:i], spec[i+1:]
	}
	host = spec
	if strings.HasPrefix(spec, "[") || strings.Count(spec, ":") == 1 {
		h, p, splitErr := net.SplitHostPort(spec)
		if splitErr != nil {
			if !strings.HasPrefix(spec, "[") || !strings.HasSuffix(spec, "]") {
				return "", "", 0, splitErr
			}
			h = spec[1 : len(spec)-1] // "[::1]" without port
		} else if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("invalid port %q", p)
		}
		host = h
	}
	if host == "" {
		return "", "", 0, errors.New("empty host")
	}
	return user, host, port, nil
}

// tokens expands the ssh_config percent tokens that make sense here and a
// leading ~/.
type tokens struct {
	alias, host, user string
	port              int
}

func (t tokens) expand(s string) string {
	s = expandHome(s)
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(homeDir())
		case 'h':
			b.WriteString(t.host)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.user)
		case 'u':
			b.WriteString(localUser())
		case 'i':
			b.WriteString(strconv.Itoa(os.Getuid()))
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// expandHome replaces a leading ~ or ~/ with the home directory.
func expandHome(s string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		return homeDir() + s[1:]
	}
	return s
}

// homeDir is $HOME (as os.UserHomeDir reports it), falling back to the
// password database.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

// localUser is the name of the user running ncnpush.
func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, env := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return "root"
}

package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dialErr(t *testing.T, cfg Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded, want an error")
	}
	return err
}

// runOK checks that c can run a script.
func runOK(t *testing.T, c *Client) {
	t.Helper()
	out, _, _, err := run(t, c, "echo ok")
	if err != nil || fmt.Sprint(out) != "[ok]" {
		t.Fatalf("run on %s: %q %v", c.Host(), out, err)
	}
}

func TestUnknownHostKeyRefused(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	writeFile(t, cfg.KnownHostsFiles[0], nil, 0o600) // empty known_hosts
	err := dialErr(t, cfg)
	var hkErr *HostKeyError
	if !errors.Is(err, ErrUnknownHostKey) || !errors.As(err, &hkErr) || errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("err = %v, want ErrUnknownHostKey", err)
	}
	msg := err.Error()
	fp := ssh.FingerprintSHA256(s.hostKeys[hkErr.KeyType].PublicKey())
	for _, want := range []string{"ncn-test: connect 127.0.0.1:", hkErr.KeyType, fp, "--accept-new-host-keys", "ssh-keyscan -p " + fmt.Sprint(s.port) + " 127.0.0.1 >> " + cfg.KnownHostsFiles[0]} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	if b, _ := os.ReadFile(cfg.KnownHostsFiles[0]); len(b) != 0 {
		t.Errorf("known_hosts was written without AcceptNewHostKeys: %q", b)
	}
}

func TestAcceptNewHostKeyThenStrict(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	kh := filepath.Join(t.TempDir(), "sub", "known_hosts") // directory created on demand
	cfg.KnownHostsFiles = []string{kh}
	cfg.AcceptNewHostKeys = true
	runOK(t, dial(t, cfg))

	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(kh); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v", st.Mode().Perm())
	}
	if !strings.HasPrefix(string(b), fmt.Sprintf("[127.0.0.1]:%d ", s.port)) || strings.Count(string(b), "\n") != 1 {
		t.Errorf("known_hosts = %q", b)
	}
	if !strings.Contains(env.logs.String(), "new host key accepted") {
		t.Error("accepting a key was not logged")
	}

	cfg.AcceptNewHostKeys = false
	runOK(t, dial(t, cfg))
	if b2, _ := os.ReadFile(kh); string(b2) != string(b) {
		t.Errorf("known_hosts changed on the strict dial: %q", b2)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	other, _ := newKey(t, ssh.KeyAlgoED25519)
	lines := "# comment\n" + knownhosts.Line([]string{knownhosts.Normalize(s.addr())}, other.PublicKey()) + "\n"
	writeFile(t, cfg.KnownHostsFiles[0], []byte(lines), 0o600)
	cfg.AcceptNewHostKeys = true // must not matter for a changed key

	err := dialErr(t, cfg)
	if !errors.Is(err, ErrHostKeyMismatch) || errors.Is(err, ErrUnknownHostKey) {
		t.Fatalf("err = %v, want ErrHostKeyMismatch", err)
	}
	msg := err.Error()
	offered := ssh.FingerprintSHA256(s.hostKeys[ssh.KeyAlgoED25519].PublicKey())
	for _, want := range []string{"ncn-test: connect", "CHANGED", offered, ssh.FingerprintSHA256(other.PublicKey()), cfg.KnownHostsFiles[0] + ":2",
		"ssh-keygen -f " + cfg.KnownHostsFiles[0] + " -R "} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if b, _ := os.ReadFile(cfg.KnownHostsFiles[0]); string(b) != lines {
		t.Errorf("known_hosts modified: %q", b)
	}
}

func TestRevokedHostKeyRefused(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	revoked := "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.hostKeys[ssh.KeyAlgoED25519].PublicKey())))
	writeFile(t, cfg.KnownHostsFiles[0], []byte(s.knownHostsLine(ssh.KeyAlgoED25519)+"\n"+revoked+"\n"), 0o600)
	if err := dialErr(t, cfg); !errors.Is(err, ErrHostKeyRevoked) {
		t.Fatalf("err = %v, want ErrHostKeyRevoked", err)
	}
}

// TestHostKeyAlgorithmsFollowKnownHosts: the server has ED25519 and ECDSA
// host keys. Whichever one known_hosts holds must be the one negotiated;
// otherwise the library's default preference (ECDSA first) would present a
// key known_hosts has no entry for, reported as a changed key.
func TestHostKeyAlgorithmsFollowKnownHosts(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	for _, typ := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256} {
		cfg := env.config(t, s)
		writeFile(t, cfg.KnownHostsFiles[0], []byte(s.knownHostsLine(typ)+"\n"), 0o600)
		runOK(t, dial(t, cfg))
	}
}

func TestHashedKnownHosts(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	hashed := knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(s.addr()))}, s.hostKeys[ssh.KeyAlgoED25519].PublicKey())
	writeFile(t, cfg.KnownHostsFiles[0], []byte(hashed+"\n"), 0o600)
	runOK(t, dial(t, cfg))

	// HashKnownHosts yes in ssh_config: keys accepted are recorded hashed.
	cfg.SSHConfigFile = filepath.Join(t.TempDir(), "config")
	writeFile(t, cfg.SSHConfigFile, []byte("Host *\n  HashKnownHosts yes\n"), 0o600)
	writeFile(t, cfg.KnownHostsFiles[0], []byte("# no newline at the end"), 0o600)
	cfg.AcceptNewHostKeys = true
	runOK(t, dial(t, cfg))
	b, _ := os.ReadFile(cfg.KnownHostsFiles[0])
	if lines := strings.Split(string(b), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "|1|") {
		t.Fatalf("known_hosts = %q, want the comment and a hashed entry on its own line", b)
	}
	cfg.AcceptNewHostKeys = false
	runOK(t, dial(t, cfg))
}

func TestInsecureIgnoreHostKey(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	other, _ := newKey(t, ssh.KeyAlgoED25519)
	writeFile(t, cfg.KnownHostsFiles[0], []byte(knownhosts.Line([]string{knownhosts.Normalize(s.addr())}, other.PublicKey())+"\n"), 0o600)
	cfg.InsecureIgnoreHostKey = true
	runOK(t, dial(t, cfg))
	if !strings.Contains(env.logs.String(), "host key checking is disabled") {
		t.Error("disabled host key checking was not logged")
	}
}

func TestAuthViaAgent(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	cfg.IdentityFiles = nil // the key is only in the agent

	_, priv := newKeyPair(t)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := serveAgent(t, keyring)
	t.Setenv("SSH_AUTH_SOCK", sock)
	// Without the key in authorized_keys the agent's key is refused...
	if err := dialErr(t, cfg); !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	// ...with it, the agent authenticates.
	signer, _ := ssh.NewSignerFromKey(priv)
	s2 := startSSHD(t, testServerOptions{authorized: []ssh.PublicKey{signer.PublicKey()}})
	runOK(t, dial(t, env.config(t, s2)))
	if !strings.Contains(env.logs.String(), "origins=[agent") {
		t.Error("the agent key was not offered first")
	}
}

func TestAuthViaIdentityFileSkipsEncrypted(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	cfg := env.config(t, s)
	_, priv := newKeyPair(t)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(t.TempDir(), "id_encrypted")
	writeFile(t, encrypted, pemEncode(block), 0o600)
	// A default key in ~/.ssh that the server does not know, an encrypted
	// key and a missing one before the right one.
	os.MkdirAll(filepath.Join(env.home, ".ssh"), 0o700)
	_, junk := newKey(t, ssh.KeyAlgoECDSA256)
	writeFile(t, filepath.Join(env.home, ".ssh", "id_ecdsa"), junk, 0o600)
	cfg.IdentityFiles = []string{encrypted, filepath.Join(t.TempDir(), "missing"), env.keyFile}
	runOK(t, dial(t, cfg))
	logs := env.logs.String()
	if !strings.Contains(logs, "identity file is encrypted") || !strings.Contains(logs, "id_encrypted") {
		t.Errorf("skipping the encrypted key was not logged:\n%s", logs)
	}

	// Only a key the server does not accept: ErrAuth naming what was tried.
	cfg.IdentityFiles = []string{encrypted}
	err = dialErr(t, cfg)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "authenticate root@127.0.0.1:") ||
		!strings.Contains(err.Error(), "id_ecdsa") || !strings.HasPrefix(err.Error(), "ncn-test: ") {
		t.Fatalf("err = %v, want ErrAuth naming user, address and the keys tried", err)
	}
	os.Remove(filepath.Join(env.home, ".ssh", "id_ecdsa"))
	if err := dialErr(t, cfg); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "no keys to offer") {
		t.Fatalf("err = %v, want ErrAuth saying there are no keys", err)
	}
}

func TestSSHConfigResolution(t *testing.T) {
	env := newTestEnv(t)
	s := env.server(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "kh_from_config")
	writeFile(t, kh, []byte(s.knownHostsLine(ssh.KeyAlgoED25519)+"\n"), 0o600)
	cfgFile := filepath.Join(dir, "config")
	writeFile(t, cfgFile, []byte(fmt.Sprintf(`# ncn nodes
Host ncn-m00? !ncn-m009
  HostName 127.0.0.1
  User root
  Port %d
  IdentityFile %s
  UserKnownHostsFile %s

Host *
  User nobody
  Port 1
`, s.port, env.keyFile, kh)), 0o600)

	c := dial(t, Config{Host: "ncn-m001", SSHConfigFile: cfgFile, Logger: env.logger()})
	out, _, _, err := run(t, c, `id -un; echo "${SSH_CONNECTION##* }"`)
	if err != nil || fmt.Sprint(out) != fmt.Sprintf("[root %d]", s.port) {
		t.Fatalf("out=%q err=%v", out, err)
	}

	// Config fields override ssh_config; a wrong port must then fail.
	if err := dialErr(t, Config{Host: "ncn-m001", Port: freePort(t), SSHConfigFile: cfgFile, Logger: env.logger()}); !errors.Is(err, ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
	// StrictHostKeyChecking accept-new from ssh_config.
	kh2 := filepath.Join(dir, "kh2")
	cfgFile2 := filepath.Join(dir, "config2")
	writeFile(t, cfgFile2, []byte(fmt.Sprintf("Host n1\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n  StrictHostKeyChecking accept-new\n", s.port, env.keyFile, kh2)), 0o600)
	runOK(t, dial(t, Config{Host: "n1", SSHConfigFile: cfgFile2, Logger: env.logger()}))
	// The first known_hosts file is ~/.ssh/known_hosts (HOME is the test's).
	if b, err := os.ReadFile(filepath.Join(env.home, ".ssh", "known_hosts")); err != nil || !strings.Contains(string(b), fmt.Sprintf("[127.0.0.1]:%d", s.port)) {
		t.Fatalf("accepted key not recorded in ~/.ssh/known_hosts: %q %v", b, err)
	}
	// A missing config file is fine; then there is nothing to say where
	// "ncn-m001" is.
	err = dialErr(t, Config{Host: "ncn-m001", SSHConfigFile: filepath.Join(dir, "missing"), ConnectTimeout: 3 * time.Second, Logger: env.logger()})
	if !errors.Is(err, ErrConnect) || !strings.HasPrefix(err.Error(), "ncn-m001: connect ncn-m001:22: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestProxyJump(t *testing.T) {
	env := newTestEnv(t)
	jump := env.server(t)
	target := env.server(t)
	cfg := env.config(t, target)
	writeFile(t, cfg.KnownHostsFiles[0], []byte(target.knownHostsLine(ssh.KeyAlgoED25519)+"\n"+jump.knownHostsLine(ssh.KeyAlgoECDSA256)+"\n"), 0o600)
	cfg.Jump = fmt.Sprintf("root@127.0.0.1:%d", jump.port)
	c := dial(t, cfg)
	runOK(t, c)
	if len(c.jumps) != 1 {
		t.Fatalf("%d jump connections", len(c.jumps))
	}
	// The jump sshd forwarded a connection to the target's port.
	if want := fmt.Sprintf("127.0.0.1 port %d", target.port); !strings.Contains(jump.readLog(), want) {
		t.Errorf("jump host log has no forwarding to %q:\n%s", want, jump.readLog())
	}
	if !strings.Contains(env.logs.String(), "jump=127.0.0.1") {
		t.Error("jump host log lines lack the jump attribute")
	}

	// The same through ssh_config ProxyJump naming another alias, and the
	// jump host's key checked strictly: unknown → refused, naming the hop.
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfgFile, []byte(fmt.Sprintf(`Host bastion
  HostName 127.0.0.1
  Port %d
  User root
Host ncn-w001
  HostName 127.0.0.1
  Port %d
  ProxyJump bastion
`, jump.port, target.port)), 0o600)
	cfg.Jump, cfg.Address, cfg.Port, cfg.Host, cfg.SSHConfigFile = "", "", 0, "ncn-w001", cfgFile
	runOK(t, dial(t, cfg))

	writeFile(t, cfg.KnownHostsFiles[0], []byte(target.knownHostsLine(ssh.KeyAlgoED25519)+"\n"), 0o600)
	err := dialErr(t, cfg)
	if !errors.Is(err, ErrUnknownHostKey) || !strings.Contains(err.Error(), "ncn-w001: connect jump host bastion (127.0.0.1:") {
		t.Fatalf("err = %v, want ErrUnknownHostKey for the jump host", err)
	}
}

func TestParseJumpSpec(t *testing.T) {
	for _, tc := range []struct {
		in, user, host string
		port           int
		bad            bool
	}{
		{in: "bastion", host: "bastion"},
		{in: "admin@bastion", user: "admin", host: "bastion"},
		{in: "admin@bastion:2222", user: "admin", host: "bastion", port: 2222},
		{in: "ssh://admin@10.0.0.1:22", user: "admin", host: "10.0.0.1", port: 22},
		{in: "[::1]:2200", host: "::1", port: 2200},
		{in: "[fe80::1]", host: "fe80::1"},
		{in: "root@[::1]", user: "root", host: "::1"},
		{in: "host:0", bad: true},
		{in: "host:x", bad: true},
		{in: "", bad: true},
		{in: "u@", bad: true},
	} {
		user, host, port, err := parseJumpSpec(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseJumpSpec(%q) succeeded", tc.in)
			}
			continue
		}
		if err != nil || user != tc.user || host != tc.host || port != tc.port {
			t.Errorf("parseJumpSpec(%q) = %q, %q, %d, %v", tc.in, user, host, port, err)
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	env := newTestEnv(t)
	// Accepts TCP connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start := time.Now()
	err = dialErr(t, Config{
		Host: "silent", Address: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: "root",
		IdentityFiles: []string{env.keyFile}, KnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")},
		ConnectTimeout: 700 * time.Millisecond, Logger: env.logger(),
	})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrConnect) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ConnectTimeout") ||
		!strings.HasPrefix(err.Error(), "silent: connect 127.0.0.1:") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %q, want a one-line ErrConnect with a deadline", err)
	}
	if elapsed > 3*time.Second {
		t.Fatalf("Dial took %v with ConnectTimeout 700ms", elapsed)
	}

	// The caller's context is honoured as well.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = Dial(ctx, Config{Host: "silent", Address: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, KnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// serveAgent serves keyring on a unix socket and returns its path.
func serveAgent(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	return sock
}

func TestTokensExpand(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	tok := tokens{alias: "ncn-m001", host: "10.0.0.1", user: "root", port: 2222}
	for in, want := range map[string]string{
		"~/.ssh/id_%n":        "/home/u/.ssh/id_ncn-m001",
		"%d/kh_%h_%p":         "/home/u/kh_10.0.0.1_2222",
		"/keys/%r@%h":         "/keys/root@10.0.0.1",
		"100%%":               "100%",
		"%z stays, trailing%": "%z stays, trailing%",
		"~user/x":             "~user/x",
	} {
		if got := tok.expand(in); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

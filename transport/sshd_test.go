package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The tests talk to real OpenSSH sshd processes started on 127.0.0.1 with a
// throwaway configuration, host keys and authorized_keys. They run as root
// (PermitRootLogin prohibit-password) because only root's sshd can log in as
// root, the user ncnpush uses on the nodes.

const sshdPath = "/usr/sbin/sshd"

// testServer is one running sshd.
type testServer struct {
	port     int
	dir      string
	hostKeys map[string]ssh.Signer // by key type
	log      *syncBuffer           // sshd's own stdout and stderr
	logFile  string                // sshd's log (-E)
}

// readLog returns the content of sshd's log file.
func (s *testServer) readLog() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// testServerOptions adjusts startSSHD.
type testServerOptions struct {
	// authorized are the public keys allowed to log in as root.
	authorized []ssh.PublicKey
	// extraConfig is appended to sshd_config.
	extraConfig string
}

// startSSHD starts sshd on a free loopback port and stops it (by PID) when
// the test ends. A missing sshd fails the test: these tests are the proof
// that the transport works against OpenSSH and must not silently skip.
func startSSHD(t testing.TB, opts testServerOptions) *testServer {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("%s not found (%v): install OpenSSH's server to run these tests, e.g. apt-get install -y openssh-server", sshdPath, err)
	}
	// sshd needs its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("create /run/sshd: %v", err)
	}
	s := &testServer{dir: t.TempDir(), hostKeys: map[string]ssh.Signer{}, log: &syncBuffer{}}
	var hostKeyLines []string
	for _, typ := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256} {
		signer, pemBytes := newKey(t, typ)
		file := filepath.Join(s.dir, "host_"+strings.ReplaceAll(typ, "-", "_"))
		writeFile(t, file, pemBytes, 0o600)
		s.hostKeys[typ] = signer
		hostKeyLines = append(hostKeyLines, "HostKey "+file)
	}
	var authorized bytes.Buffer
	for _, k := range opts.authorized {
		authorized.Write(ssh.MarshalAuthorizedKey(k))
	}
	writeFile(t, filepath.Join(s.dir, "authorized_keys"), authorized.Bytes(), 0o600)

	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
%s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
LogLevel DEBUG1
AllowTcpForwarding yes
MaxStartups 100
MaxSessions 100
%s
`, s.port, strings.Join(hostKeyLines, "\n"), filepath.Join(s.dir, "authorized_keys"), opts.extraConfig)
		cfgFile := filepath.Join(s.dir, "sshd_config")
		writeFile(t, cfgFile, []byte(cfg), 0o600)
		// -E, not -e: with -e the session processes' debug messages end up
		// in the sessions' stderr.
		logFile := filepath.Join(s.dir, "sshd.log")
		s.logFile = logFile
		cmd := exec.Command(sshdPath, "-D", "-E", logFile, "-f", cfgFile)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if s.waitReady(exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("sshd on port %d log:\n%s%s", s.port, s.log.String(), s.readLog())
				}
			})
			return s
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("sshd did not come up on 127.0.0.1:%d:\n%s%s", s.port, s.log.String(), s.readLog())
		}
	}
}

// waitReady waits until sshd sends its banner, or it exits.
func (s *testServer) waitReady(exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		conn, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			banner := make([]byte, 4)
			_, err = conn.Read(banner)
			conn.Close()
			if err == nil && string(banner) == "SSH-" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *testServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// knownHostsLine is a known_hosts line for this server's key of type typ.
func (s *testServer) knownHostsLine(typ string) string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.addr())}, s.hostKeys[typ].PublicKey())
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newKey generates a key of type typ and returns its signer and its
// OpenSSH-format private key file content.
func newKey(t testing.TB, typ string) (ssh.Signer, []byte) {
	t.Helper()
	var priv any
	var err error
	switch typ {
	case ssh.KeyAlgoED25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ssh.KeyAlgoECDSA256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unsupported key type %s", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func writeFile(t testing.TB, name string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv isolates a test from the user's real SSH setup: HOME is a fresh
// directory (no ~/.ssh/config, known_hosts or default keys) and there is no
// agent.
type testEnv struct {
	home    string
	key     ssh.Signer // the user key, authorized on servers started via env
	keyFile string
	logs    *syncBuffer
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{home: t.TempDir(), logs: &syncBuffer{}}
	t.Setenv("HOME", e.home)
	t.Setenv("SSH_AUTH_SOCK", "")
	var pemBytes []byte
	e.key, pemBytes = newKey(t, ssh.KeyAlgoED25519)
	e.keyFile = filepath.Join(t.TempDir(), "id_test")
	writeFile(t, e.keyFile, pemBytes, 0o600)
	t.Cleanup(func() {
		checkHostAttr(t, e.logs.String())
		if t.Failed() {
			t.Logf("transport log:\n%s", e.logs.String())
		}
	})
	return e
}

// server starts an sshd that accepts the env's key.
func (e *testEnv) server(t testing.TB) *testServer {
	return startSSHD(t, testServerOptions{authorized: []ssh.PublicKey{e.key.PublicKey()}})
}

// logger logs at debug level into e.logs.
func (e *testEnv) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// config is a Config for s with the env's key and a known_hosts file that
// holds the server's ED25519 key.
func (e *testEnv) config(t testing.TB, s *testServer) Config {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, []byte(s.knownHostsLine(ssh.KeyAlgoED25519)+"\n"), 0o600)
	return Config{
		Host:            "ncn-test",
		Address:         "127.0.0.1",
		Port:            s.port,
		User:            "root",
		IdentityFiles:   []string{e.keyFile},
		KnownHostsFiles: []string{kh},
		ConnectTimeout:  5 * time.Second,
		Logger:          e.logger(),
	}
}

// checkHostAttr fails the test if a log line lacks the host attribute.
func checkHostAttr(t testing.TB, logs string) {
	t.Helper()
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if line != "" && !strings.Contains(line, " host=") {
			t.Errorf("log line without host attribute: %s", line)
		}
	}
}

// newKeyPair generates an ED25519 key and returns its signer and the raw
// private key.
func newKeyPair(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

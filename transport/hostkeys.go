package transport

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyChecker verifies the host key of one hop against known_hosts.
type hostKeyChecker struct {
	ep  *endpoint
	log *slog.Logger
	db  ssh.HostKeyCallback // nil when checking is disabled
	// algorithms are the host key algorithms to ask for: those of the keys
	// known_hosts holds for this host, so that the server presents a key
	// we can compare (nil: library defaults, e.g. for an unknown host).
	algorithms []string
	// refusal is the error of the last refused key, kept so Dial can report
	// it without the handshake's wrapping.
	refusal error
	// verified is set once the server's key was accepted: a handshake that
	// fails after that failed in authentication.
	verified bool
}

// newHostKeyChecker loads the known_hosts files of ep (missing files are
// skipped).
func newHostKeyChecker(ep *endpoint, log *slog.Logger) (*hostKeyChecker, error) {
	h := &hostKeyChecker{ep: ep, log: log}
	if ep.insecure {
		log.Warn("host key checking is disabled: connecting without verifying the server's identity", "addr", ep.addr())
		return h, nil
	}
	var files []string
	for _, f := range ep.knownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	h.db = db
	h.algorithms = hostKeyAlgorithms(knownKeys(db, ep.knownHostsAddr()))
	log.Debug("known hosts loaded", "files", files, "lookup", knownhosts.Normalize(ep.knownHostsAddr()), "host_key_algorithms", h.algorithms)
	return h, nil
}

// check is the ssh.HostKeyCallback. hostname is the known_hosts address
// passed to ssh.NewClientConn.
func (h *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if h.db == nil {
		h.verified = true
		return nil
	}
	err := h.db(hostname, remote, key)
	if err == nil {
		h.verified = true
		h.log.Debug("host key verified", "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key))
		return nil
	}
	hkErr := &HostKeyError{
		Address:     knownhosts.Normalize(hostname),
		KeyType:     key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key),
	}
	if len(h.ep.knownHostsFiles) > 0 {
		hkErr.File = h.ep.knownHostsFiles[0]
	}
	var keyErr *knownhosts.KeyError
	var revokedErr *knownhosts.RevokedError
	switch {
	case errors.As(err, &revokedErr):
		hkErr.Err = ErrHostKeyRevoked
		hkErr.Known = []string{describeKnownKey(revokedErr.Revoked)}
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		if h.ep.acceptNew {
			return h.accept(hostname, key)
		}
		hkErr.Err = ErrUnknownHostKey
	case errors.As(err, &keyErr):
		hkErr.Err = ErrHostKeyMismatch
		for _, k := range keyErr.Want {
			hkErr.Known = append(hkErr.Known, describeKnownKey(k))
		}
	default:
		return err
	}
	h.refusal = hkErr
	return hkErr
}

// accept records a new host's key in the first known_hosts file (trust on
// first use).
func (h *hostKeyChecker) accept(hostname string, key ssh.PublicKey) error {
	file := h.ep.knownHostsFiles[0]
	if err := appendKnownHost(file, hostname, key, h.ep.hashKnownHosts); err != nil {
		h.refusal = fmt.Errorf("record new host key in %s: %w", file, err)
		return h.refusal
	}
	h.verified = true
	h.log.Info("new host key accepted and recorded", "address", knownhosts.Normalize(hostname),
		"key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key), "file", file)
	return nil
}

// knownHostsMu serialises appends from concurrent Dials in this process.
var knownHostsMu sync.Mutex

// appendKnownHost appends a known_hosts line for address and key to file,
// creating the file (0600) and its directory (0700) if needed.
func appendKnownHost(file, address string, key ssh.PublicKey, hash bool) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	name := knownhosts.Normalize(address)
	if hash {
		name = knownhosts.HashHostname(name)
	}
	line := knownhosts.Line([]string{name}, key) + "\n"
	if missingFinalNewline(f) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// missingFinalNewline reports whether f is non-empty and does not end in a
// newline, so that an appended line would be glued to the last one.
func missingFinalNewline(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, st.Size()-1); err != nil && err != io.EOF {
		return false
	}
	return b[0] != '\n'
}

// describeKnownKey renders a known_hosts entry as "file:line type SHA256:...".
func describeKnownKey(k knownhosts.KnownKey) string {
	return fmt.Sprintf("%s:%d %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key))
}

// probeKey is a throwaway key that matches no known_hosts entry. Checking it
// makes the known_hosts callback list every key it holds for an address.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return key
})

// knownKeys returns the keys db holds for address (host:port).
func knownKeys(db ssh.HostKeyCallback, address string) []knownhosts.KnownKey {
	probeRemote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	var keyErr *knownhosts.KeyError
	if err := db(address, probeRemote, probeKey()); errors.As(err, &keyErr) {
		return keyErr.Want
	}
	return nil
}

// hostKeyAlgorithmsByType maps a public key type to the host key signature
// algorithms that present it, strongest first. ssh-rsa (SHA-1) signatures
// are deliberately absent, as in OpenSSH ≥ 8.8.
var hostKeyAlgorithmsByType = []struct {
	keyType    string
	algorithms []string
}{
	{ssh.KeyAlgoED25519, []string{ssh.KeyAlgoED25519}},
	{ssh.KeyAlgoECDSA521, []string{ssh.KeyAlgoECDSA521}},
	{ssh.KeyAlgoECDSA384, []string{ssh.KeyAlgoECDSA384}},
	{ssh.KeyAlgoECDSA256, []string{ssh.KeyAlgoECDSA256}},
	{ssh.KeyAlgoRSA, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
}

// hostKeyAlgorithms returns the algorithms able to present one of keys, or
// nil (library defaults) if none of them has a supported type. Without this
// the server may present a key type known_hosts has no entry for (say ECDSA
// when only ED25519 is recorded), which the known_hosts check reports as a
// changed key.
func hostKeyAlgorithms(keys []knownhosts.KnownKey) []string {
	have := map[string]bool{}
	for _, k := range keys {
		have[k.Key.Type()] = true
	}
	var algos []string
	for _, t := range hostKeyAlgorithmsByType {
		if have[t.keyType] {
			algos = append(algos, t.algorithms...)
		}
	}
	return algos
}

package transport

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// agentConn is the connection to the ssh-agent at SSH_AUTH_SOCK for the
// duration of one Dial (signing happens during the handshakes only).
type agentConn struct {
	conn    net.Conn
	signers []ssh.Signer
}

// openAgent connects to SSH_AUTH_SOCK and lists its keys. Without a usable
// agent it returns nil; that is not an error, identity files may suffice.
func openAgent(log *slog.Logger) *agentConn {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		log.Debug("no ssh-agent: SSH_AUTH_SOCK is not set")
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		log.Debug("ssh-agent unreachable", "socket", sock, "err", err)
		return nil
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		log.Debug("ssh-agent did not list its keys", "socket", sock, "err", err)
		conn.Close()
		return nil
	}
	log.Debug("ssh-agent keys", "socket", sock, "count", len(signers))
	return &agentConn{conn: conn, signers: signers}
}

// close ends the agent connection; nil-safe.
func (a *agentConn) close() {
	if a != nil {
		a.conn.Close()
	}
}

// keySet is the ordered, de-duplicated list of keys offered to one hop, with
// where each came from (for the error message when all are refused).
type keySet struct {
	signers []ssh.Signer
	origins []string
}

// add appends s unless the same public key is already in the set.
func (k *keySet) add(s ssh.Signer, origin string) {
	pub := s.PublicKey().Marshal()
	for _, have := range k.signers {
		if bytes.Equal(have.PublicKey().Marshal(), pub) {
			return
		}
	}
	k.signers = append(k.signers, s)
	k.origins = append(k.origins, origin)
}

// loadKeys builds the keys for ep: the agent's first, then the identity
// files in order. With IdentitiesOnly, agent keys are offered only if they
// match one of the identity files (typically an encrypted file whose key is
// loaded in the agent). Unreadable, missing and encrypted files are skipped
// with a log line: they must not stop the other keys from being tried.
func loadKeys(ep *endpoint, ag *agentConn, log *slog.Logger) *keySet {
	var files []ssh.Signer
	var filePaths []string
	var filePublic [][]byte // public keys of all files, encrypted ones included
	for _, f := range ep.identityFiles {
		pemBytes, err := os.ReadFile(f.path)
		if err != nil {
			if f.explicit || !errors.Is(err, fs.ErrNotExist) {
				log.Warn("identity file unusable", "file", f.path, "err", err)
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(pemBytes)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			log.Debug("identity file is encrypted and no passphrase source is available; skipping it (load it into ssh-agent instead)", "file", f.path)
			if missing.PublicKey != nil {
				filePublic = append(filePublic, missing.PublicKey.Marshal())
			} else if pub := readPublicKeyFile(f.path + ".pub"); pub != nil {
				filePublic = append(filePublic, pub.Marshal())
			}
			continue
		case err != nil:
			log.Warn("identity file unusable", "file", f.path, "err", err)
			continue
		}
		files = append(files, signer)
		filePaths = append(filePaths, f.path)
		filePublic = append(filePublic, signer.PublicKey().Marshal())
	}

	keys := &keySet{}
	if ag != nil {
		for _, s := range ag.signers {
			if ep.identitiesOnly && !containsBytes(filePublic, s.PublicKey().Marshal()) {
				continue
			}
			keys.add(s, "agent")
		}
	}
	for i, s := range files {
		keys.add(s, filePaths[i])
	}
	log.Debug("keys to offer", "origins", keys.origins)
	return keys
}

// readPublicKeyFile parses an authorized_keys-format public key file, or
// returns nil.
func readPublicKeyFile(path string) ssh.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return pub
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

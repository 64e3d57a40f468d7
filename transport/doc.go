// Package transport is ncnpush's SSH client: it connects to a node (through
// jump hosts if needed), runs shell scripts on it and uploads files to it.
//
// Dial resolves a Config against the user's ~/.ssh/config (HostName, User,
// Port, IdentityFile, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking,
// HostKeyAlias, HashKnownHosts, IdentitiesOnly, ConnectTimeout,
// ServerAliveInterval, ServerAliveCountMax), authenticates with the
// ssh-agent's keys and identity files, and checks host keys strictly
// against known_hosts (hashed entries and [host]:port included), asking the
// server for the key types known_hosts holds. Unknown keys are refused
// unless trust on first use is enabled; changed keys are always refused.
// Host certificates (@cert-authority) are not supported.
//
// Client.Run feeds a script to `bash -euo pipefail -s` on standard input
// and streams its output line by line; cancelling the context ends the
// script's whole remote process group (see Run). Client.Upload streams a
// file over SCP and moves it into place atomically; Client.Download streams
// a remote file into an io.Writer.
//
// Errors name the host and the action ("ncn-m002: connect 10.77.0.12:22:
// ...") and match one of the Err* sentinels with errors.Is. Log lines go to
// Config.Logger, each with a host attribute.
package transport

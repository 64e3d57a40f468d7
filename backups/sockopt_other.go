//go:build !linux

package backups

import (
	"syscall"
	"time"
)

// dialControl does nothing outside Linux: there is no TCP_USER_TIMEOUT.
func dialControl(time.Duration) func(network, address string, rc syscall.RawConn) error {
	return nil
}

package backups

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialControl sets TCP_USER_TIMEOUT: the kernel drops a connection whose sent
// data stays unacknowledged for longer than timeout (a stalled upload).
func dialControl(timeout time.Duration) func(network, address string, rc syscall.RawConn) error {
	ms := int(timeout / time.Millisecond)
	return func(network, address string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
		}); err != nil {
			return err
		}
		return serr
	}
}

package backups

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// scratchFile returns an anonymous in-memory file (memfd) and a path that
// opens it again (/proc/self/fd/N), for bbolt. Closing the file frees it.
func scratchFile(name string) (io.WriteCloser, string, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, "", fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	return f, fmt.Sprintf("/proc/self/fd/%d", fd), nil
}

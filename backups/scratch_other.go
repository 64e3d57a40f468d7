//go:build !linux

package backups

import (
	"io"
	"os"
)

// scratchFile returns a temporary file: there is no memfd outside Linux. It
// is removed when closed.
func scratchFile(name string) (io.WriteCloser, string, error) {
	f, err := os.CreateTemp("", name+"-*.bin")
	if err != nil {
		return nil, "", err
	}
	return removeOnClose{f}, f.Name(), nil
}

type removeOnClose struct{ *os.File }

// Close closes and removes the file.
func (r removeOnClose) Close() error {
	err := r.File.Close()
	os.Remove(r.File.Name())
	return err
}

//go:build unix

package media

import (
	"errors"
	"os"
	"syscall"
)

// fileLocks says lockFile keeps other processes out.
const fileLocks = true

// errFileLocked means another open file holds the lock.
var errFileLocked = errors.New("file is locked")

// lockFile takes an exclusive, non-blocking flock on f, held until f is
// closed (or its process dies). flock locks belong to the open file, so it
// also keeps out another open of the same file in this process.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errFileLocked
	}
	return err
}

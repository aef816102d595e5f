//go:build unix

package media

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

// uploadDirID names the upload directory for holds (hold.go): the kernel
// (its boot id, or the host name where that is unreadable) and the
// directory's device and inode. Processes that read the same name share
// the directory and its file locks, containers of one machine with the
// same directory mounted included; processes on other hosts never do.
func uploadDirID(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", nil
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	if kernel == "" {
		if kernel, err = os.Hostname(); err != nil {
			return "", nil
		}
	}
	return fmt.Sprintf("%s:%d:%d", kernel, st.Dev, st.Ino), nil
}

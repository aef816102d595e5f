//go:build linux

package suite

import "syscall"

// childAttrs makes the server die with the load generator, so an
// interrupted benchmark never leaves a kinbridge behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// OpenFileLimit is this process's limit on open files (Go raises the soft
// limit to the hard one at start).
func OpenFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}

// FreeBytes is the space available to this user on the file system that
// holds dir, or 0 when it cannot be told.
func FreeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}

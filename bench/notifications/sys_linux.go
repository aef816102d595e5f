//go:build linux

package main

import "syscall"

// childAttrs makes the server die with the load generator, so an
// interrupted benchmark never leaves a kinbridge behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// openFileLimit is this process's limit on open files (Go raises the soft
// limit to the hard one at start).
func openFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}

//go:build !linux

package suite

import "syscall"

// childAttrs: only Linux can tie the server's life to ours; elsewhere the
// server is stopped on the way out.
func childAttrs() *syscall.SysProcAttr { return nil }

// OpenFileLimit is unknown here; 0 skips the check.
func OpenFileLimit() uint64 { return 0 }

// FreeBytes is unknown here; 0 skips the check.
func FreeBytes(string) uint64 { return 0 }

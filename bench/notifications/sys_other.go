//go:build !linux

package main

import "syscall"

// childAttrs: only Linux can tie the server's life to ours; elsewhere the
// server is stopped on the way out.
func childAttrs() *syscall.SysProcAttr { return nil }

// openFileLimit is unknown here; 0 skips the check.
func openFileLimit() uint64 { return 0 }

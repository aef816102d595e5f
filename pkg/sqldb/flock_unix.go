//go:build unix

package sqldb

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path, creating the file if needed,
// and returns the function that releases it. flock locks belong to an open
// file description, so two goroutines of one process exclude each other as
// two processes do. It polls rather than blocks so that ctx can end the
// wait and no goroutine is left stuck in the kernel.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// The lock is held for milliseconds (an open) up to seconds (a long
	// migration): poll quickly first, then back off.
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	return func() {
		// Closing the file drops the lock too; unlocking first just makes
		// the release explicit.
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

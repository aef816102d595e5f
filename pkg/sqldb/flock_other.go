//go:build !unix

package sqldb

import "context"

// lockFile is a no-op where flock does not exist: there, only one process
// may migrate an SQLite file at a time. Kinbridge deploys on Unix.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}

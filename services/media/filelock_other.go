//go:build !unix

package media

import (
	"errors"
	"os"
)

// fileLocks says lockFile keeps other processes out: not here.
const fileLocks = false

var errFileLocked = errors.New("file is locked")

// lockFile does nothing where flock is missing: the busy map still keeps
// a second writer of a session out of this process, but not out of
// another media process sharing the upload directory.
func lockFile(*os.File) error { return nil }

// uploadDirID has no name to give where files are not locked: holds of
// the directory's other processes are never taken over (hold.go).
func uploadDirID(string) (string, error) { return "", nil }

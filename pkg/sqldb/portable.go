package sqldb

import (
	"embed"
	"io/fs"
	"time"
)

// Stores write portable SQL: times are BIGINT unix microseconds (ordered,
// as precise as PostgreSQL's own timestamps, the same on SQLite).

// Micros is t as stored.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is a stored time, in UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// MigrationsDir returns the folder dir of an embedded FS, for Open and
// Migrate. The folder is embedded at build time, so it cannot be missing.
func MigrationsDir(files embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

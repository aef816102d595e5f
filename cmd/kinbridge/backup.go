package main

// `kinbridge backup --to DIR` and `kinbridge restore --from DIR`: the three
// databases and the media blobs they reference, with a manifest of sizes
// and SHA-256 sums that restore checks before it writes anything. They
// read the same settings as `serve` (--data-dir, --progress-db, --media-db,
// --notification-db, --blob-url, --user-key, --service-key), so an
// operator points them at the same configuration. docs/operations.md
// (## Backups) explains the order and what a backup holds.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/blob"
)

// backupFormat names the layout of a backup directory; restore refuses
// any other.
const backupFormat = "kinbridge-backup/1"

// manifestName is written last: a directory without it is not a finished
// backup.
const manifestName = "manifest.json"

// backupAttempts bounds how often backup starts over when a blob the
// database snapshot references was deleted before it was copied.
const backupAttempts = 3

var (
	backupCommand  = subcommand{"backup", "--to DIR", "copy the databases and media blobs of a suite, running or not, into a new directory", backupRun}
	restoreCommand = subcommand{"restore", "--from DIR", "restore a backup into empty databases and a blob store (checks every file's SHA-256 first)", restoreRun}
)

// backupSettings are the server settings backup and restore read.
var backupSettings = []string{"data-dir", "progress-db", "media-db", "notification-db", "blob-url", "user-key", "service-key"}

// manifest describes a backup directory.
type manifest struct {
	Format    string          `json:"format"`
	Created   time.Time       `json:"created"`
	Version   string          `json:"version"`
	Databases []databaseEntry `json:"databases"`
	Blobs     []fileEntry     `json:"blobs"`
	Keys      []keyEntry      `json:"keys,omitempty"`
}

type fileEntry struct {
	Path   string `json:"path"` // relative to the backup directory, with /
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type databaseEntry struct {
	Service string `json:"service"` // progress, media, notification
	Dialect string `json:"dialect"` // sqlite or postgres
	fileEntry
}

type keyEntry struct {
	Name string `json:"name"` // user or service
	fileEntry
}

// backupTarget is one service database of the settings.
type backupTarget struct {
	service string
	dsn     string
}

func (c *settings) databases() []backupTarget {
	return []backupTarget{
		{"progress", c.ProgressDB},
		{"media", c.MediaDB},
		{"notification", c.NotificationDB},
	}
}

func (c *settings) keys() map[string]string {
	return map[string]string{"user": c.UserKey, "service": c.ServiceKey}
}

// backupFlags parses the settings and the one directory flag of backup
// and restore.
func backupFlags(cmd *cmdline, args []string, dirFlag, dirHelp string) (*settings, string, error) {
	c := &settings{}
	all := config.New("")
	c.define(all)
	cmd.global.Take(all, backupSettings...)
	var dir string
	cmd.local.StringVar(&dir, dirFlag, "", dirHelp)
	args, err := cmd.parse(args)
	if err != nil {
		return nil, "", err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return nil, "", err
	}
	if dir == "" {
		return nil, "", usagef("--%s DIR is required", dirFlag)
	}
	c.resolve()
	return c, dir, nil
}

func backupRun(ctx context.Context, cmd *cmdline, args []string) error {
	c, dir, err := backupFlags(cmd, args, "to", "new or empty directory to write the backup into")
	if err != nil {
		return err
	}
	if err := emptyDir(dir); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		m, err := backup(ctx, c, dir, cmd.stderr)
		if errors.Is(err, errBlobGone) && attempt < backupAttempts {
			fmt.Fprintf(cmd.stderr, "backup: %v; starting over\n", err)
			if err := clearDir(dir); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.stderr, "backup: %d databases and %d blobs in %s\n", len(m.Databases), len(m.Blobs), dir)
		return nil
	}
}

// errBlobGone says a blob the database snapshot references is not in the
// store: its item was deleted before backup copied it (or the store lost
// it, which no retry mends).
var errBlobGone = errors.New("a blob the media database references is not in the blob store (deleted while the backup ran, or lost)")

// backup writes one backup into the empty directory dir: the databases
// first, then the blobs the media snapshot references, then the manifest.
func backup(ctx context.Context, c *settings, dir string, log io.Writer) (*manifest, error) {
	m := &manifest{Format: backupFormat, Created: time.Now().UTC(), Version: buildVersion()}
	var referenced []string
	for _, db := range c.databases() {
		entry, blobs, err := backupDatabase(ctx, db, dir)
		if err != nil {
			return nil, fmt.Errorf("backup %s database: %w", db.service, err)
		}
		m.Databases = append(m.Databases, entry)
		if db.service == "media" {
			referenced = blobs
		}
		fmt.Fprintf(log, "backup: %s database (%s, %d bytes)\n", db.service, entry.Dialect, entry.Size)
	}

	store, err := blob.Open(ctx, c.BlobURL)
	if err != nil {
		return nil, fmt.Errorf("backup: blob store %s: %w", blob.RedactURL(c.BlobURL), err)
	}
	defer store.(io.Closer).Close()
	for _, name := range referenced {
		entry, err := backupBlob(ctx, store, name, dir)
		if err != nil {
			return nil, err
		}
		m.Blobs = append(m.Blobs, entry)
	}

	for name, path := range c.keys() {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue // kept elsewhere by the operator
		}
		entry, err := copyIn(path, dir, "keys/"+name+".pem")
		if err != nil {
			return nil, fmt.Errorf("backup %s key: %w", name, err)
		}
		m.Keys = append(m.Keys, keyEntry{Name: name, fileEntry: entry})
	}
	return m, writeManifest(dir, m)
}

// backupDatabase copies one database into dir and returns the blobs its
// snapshot references (media only: the blobs its items use).
func backupDatabase(ctx context.Context, db backupTarget, dir string) (databaseEntry, []string, error) {
	if isPostgres(db.dsn) {
		rel := "databases/" + db.service + ".pgdump"
		blobs, err := pgDump(ctx, db.dsn, filepath.Join(dir, filepath.FromSlash(rel)), db.service == "media")
		if err != nil {
			return databaseEntry{}, nil, err
		}
		entry, err := describe(dir, rel)
		return databaseEntry{Service: db.service, Dialect: "postgres", fileEntry: entry}, blobs, err
	}
	rel := "databases/" + db.service + ".db"
	blobs, err := sqliteBackup(ctx, db.dsn, filepath.Join(dir, filepath.FromSlash(rel)), db.service == "media")
	if err != nil {
		return databaseEntry{}, nil, err
	}
	entry, err := describe(dir, rel)
	return databaseEntry{Service: db.service, Dialect: "sqlite", fileEntry: entry}, blobs, err
}

// referencedBlobsQuery lists the blobs media items use: each blob_refs
// count is one per item that uses the blob plus one per pin of work in
// progress, so a count above the blob's pins is held by an item. Blobs
// held only by pins (an upload or a job under way) may not be written
// yet; restored sessions and jobs start over.
const referencedBlobsQuery = `SELECT sha256 FROM blob_refs r
WHERE refs > (SELECT COUNT(*) FROM blob_pins p WHERE p.sha256 = r.sha256)
ORDER BY sha256`

// backupBlob copies blob name into dir, checking on the way that its bytes
// hash to its name.
func backupBlob(ctx context.Context, store blob.Store, name, dir string) (fileEntry, error) {
	if !blob.ValidName(name) {
		return fileEntry{}, fmt.Errorf("backup: the media database references a blob named %q, which is not a SHA-256", name)
	}
	r, err := store.Open(ctx, name, 0, -1)
	if errors.Is(err, blob.ErrNotFound) {
		return fileEntry{}, fmt.Errorf("%w (%s)", errBlobGone, name)
	}
	if err != nil {
		return fileEntry{}, fmt.Errorf("backup: read blob %s: %w", name, err)
	}
	defer r.Close()
	rel := blobPath(name)
	entry, err := writeFile(r, dir, rel)
	if err != nil {
		return fileEntry{}, fmt.Errorf("backup: blob %s: %w", name, err)
	}
	if entry.SHA256 != name {
		return fileEntry{}, fmt.Errorf("backup: blob %s in the store holds bytes whose SHA-256 is %s: the store is corrupt", name, entry.SHA256)
	}
	return entry, nil
}

// blobPath is where a backup keeps blob name.
func blobPath(name string) string {
	return "blobs/" + name[0:2] + "/" + name
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// sqlitePath returns the file of an SQLite DSN as sqldb reads it:
// sqlite:PATH, file:PATH?... or a bare PATH.
func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "sqlite:")
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		p, _, _ = strings.Cut(rest, "?")
	}
	return p
}

// sqliteBackup writes a consistent copy of a live SQLite database to dest
// with VACUUM INTO: one read transaction, so the copy is the database as
// of one moment while writers go on (WAL mode), and a file that needs no
// WAL beside it. With blobs, it then lists the blobs the copy references.
func sqliteBackup(ctx context.Context, dsn, dest string, blobs bool) ([]string, error) {
	src := sqlitePath(dsn)
	if fi, err := os.Stat(src); err != nil || fi.Size() == 0 {
		return nil, fmt.Errorf("no SQLite database at %s (is --data-dir or the database setting right?)", src)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return nil, err
	}
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{})
	if err != nil {
		return nil, err
	}
	_, err = db.SQL().ExecContext(ctx, "VACUUM INTO ?", dest)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("VACUUM INTO: %w", err)
	}
	if !blobs {
		return nil, nil
	}
	// The copy is read with the driver alone, read-only: sqldb would
	// switch it to WAL, writing to it.
	snap, err := sql.Open("sqlite", "file:"+dest+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	rows, err := snap.QueryContext(ctx, referencedBlobsQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanStrings(rows)
}

// scanStrings reads the one text column of rows (database/sql or pgx);
// the caller closes them.
func scanStrings(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]string, error) {
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// emptyDir makes sure dir exists and holds nothing.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("backup: %s is not empty; give a new or empty directory", dir)
	}
	return nil
}

// clearDir empties dir (an abandoned attempt of this run).
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeFile copies r into dir/rel, synced, and describes it.
func writeFile(r io.Reader, dir, rel string) (fileEntry, error) {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fileEntry{}, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fileEntry{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileEntry{}, err
	}
	return fileEntry{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// copyIn copies the file at src into dir/rel.
func copyIn(src, dir, rel string) (fileEntry, error) {
	f, err := os.Open(src)
	if err != nil {
		return fileEntry{}, err
	}
	defer f.Close()
	return writeFile(f, dir, rel)
}

// describe hashes dir/rel.
func describe(dir, rel string) (fileEntry, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return fileEntry{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileEntry{}, err
	}
	return fileEntry{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeManifest writes the manifest by rename, last, so that a directory
// with a manifest holds a finished backup.
func writeManifest(dir string, m *manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, manifestName+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, manifestName))
}

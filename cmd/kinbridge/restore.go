package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/blob"
)

// restoreRun checks the whole backup, then checks that every database it
// would write is empty, and only then writes: databases, keys, blobs.
func restoreRun(ctx context.Context, cmd *cmdline, args []string) error {
	c, dir, err := backupFlags(cmd, args, "from", "directory written by kinbridge backup")
	if err != nil {
		return err
	}
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	if err := verifyBackup(dir, m); err != nil {
		return err
	}
	targets, err := checkRestoreTargets(ctx, c, dir, m)
	if err != nil {
		return err
	}
	keys := c.keys()

	for _, db := range m.Databases {
		src := filepath.Join(dir, filepath.FromSlash(db.Path))
		dsn := targets[db.Service]
		if db.Dialect == "postgres" {
			err = pgRestore(ctx, dsn, src)
		} else {
			err = copyOut(src, sqlitePath(dsn))
		}
		if err != nil {
			return fmt.Errorf("restore %s database: %w", db.Service, err)
		}
		fmt.Fprintf(cmd.stderr, "restore: %s database\n", db.Service)
	}
	for _, k := range m.Keys {
		if _, err := os.Stat(keys[k.Name]); err == nil {
			continue // the same key is there already
		}
		if err := copyOut(filepath.Join(dir, filepath.FromSlash(k.Path)), keys[k.Name]); err != nil {
			return fmt.Errorf("restore %s key: %w", k.Name, err)
		}
	}

	store, err := blob.Open(ctx, c.BlobURL)
	if err != nil {
		return fmt.Errorf("restore: blob store %s: %w", blob.RedactURL(c.BlobURL), err)
	}
	defer store.(io.Closer).Close()
	for _, b := range m.Blobs {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(b.Path)))
		if err != nil {
			return err
		}
		// Put checks the bytes against the name again on their way in.
		_, _, err = store.Put(ctx, f, b.SHA256)
		f.Close()
		if err != nil {
			return fmt.Errorf("restore blob %s: %w", b.SHA256, err)
		}
	}
	fmt.Fprintf(cmd.stderr, "restore: %d databases and %d blobs from %s\n", len(m.Databases), len(m.Blobs), dir)
	return nil
}

// checkRestoreTargets checks that what restore would write is empty (or,
// for a key, the same) and of the backup's kind, and returns the database
// of each service.
func checkRestoreTargets(ctx context.Context, c *settings, dir string, m *manifest) (map[string]string, error) {
	targets := map[string]string{}
	for _, db := range c.databases() {
		targets[db.service] = db.dsn
	}
	for _, db := range m.Databases {
		dsn, ok := targets[db.Service]
		if !ok {
			return nil, fmt.Errorf("restore: the backup has a database of an unknown service %q", db.Service)
		}
		if (db.Dialect == "postgres") != isPostgres(dsn) {
			return nil, fmt.Errorf("restore: the backup's %s database is %s, but --%s-db names %s: restore into the same kind of database",
				db.Service, db.Dialect, db.Service, sqldb.RedactDSN(dsn))
		}
		if why, err := targetEmpty(ctx, dsn); err != nil {
			return nil, fmt.Errorf("restore: %s database %s: %w", db.Service, sqldb.RedactDSN(dsn), err)
		} else if why != "" {
			return nil, fmt.Errorf("restore: refusing to overwrite the %s database %s: %s; restore into a new, empty one",
				db.Service, sqldb.RedactDSN(dsn), why)
		}
	}
	keys := c.keys()
	for _, k := range m.Keys {
		path, ok := keys[k.Name]
		if !ok {
			return nil, fmt.Errorf("restore: the backup has an unknown key %q", k.Name)
		}
		if have, err := os.ReadFile(path); err == nil {
			want, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k.Path)))
			if !bytes.Equal(have, want) {
				return nil, fmt.Errorf("restore: refusing to replace the %s key at %s, which differs from the backup's", k.Name, path)
			}
		}
	}
	return targets, nil
}

func readManifest(dir string) (*manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restore: %s has no %s: it is not a finished kinbridge backup", dir, manifestName)
	}
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("restore: %s: %w", filepath.Join(dir, manifestName), err)
	}
	if m.Format != backupFormat {
		return nil, fmt.Errorf("restore: %s is a backup of format %q; this kinbridge reads %q", dir, m.Format, backupFormat)
	}
	return &m, nil
}

// verifyBackup checks every file the manifest lists against its size and
// SHA-256 (and every blob's name against its bytes) before anything is
// written.
func verifyBackup(dir string, m *manifest) error {
	var files []fileEntry
	for _, db := range m.Databases {
		files = append(files, db.fileEntry)
	}
	for _, k := range m.Keys {
		files = append(files, k.fileEntry)
	}
	for _, b := range m.Blobs {
		if !blob.ValidName(b.SHA256) || b.Path != blobPath(b.SHA256) {
			return fmt.Errorf("restore: the manifest lists a blob %q at %q, which is not where a backup keeps it", b.SHA256, b.Path)
		}
		files = append(files, b)
	}
	for _, want := range files {
		if strings.Contains(want.Path, "..") || filepath.IsAbs(want.Path) {
			return fmt.Errorf("restore: the manifest names a file outside the backup: %q", want.Path)
		}
		got, err := describe(dir, want.Path)
		if err != nil {
			return fmt.Errorf("restore: the backup is incomplete: %w", err)
		}
		if got.Size != want.Size || got.SHA256 != want.SHA256 {
			return fmt.Errorf("restore: %s is damaged: %d bytes with SHA-256 %s, the manifest says %d bytes with %s; nothing was restored",
				filepath.Join(dir, filepath.FromSlash(want.Path)), got.Size, got.SHA256, want.Size, want.SHA256)
		}
	}
	return nil
}

// targetEmpty says why the database of dsn is not empty; "" when it is
// (an SQLite file that does not exist, or is empty, is).
func targetEmpty(ctx context.Context, dsn string) (string, error) {
	if isPostgres(dsn) {
		return pgEmpty(ctx, dsn)
	}
	fi, err := os.Stat(sqlitePath(dsn))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if fi.Size() > 0 {
		return fmt.Sprintf("%s exists", sqlitePath(dsn)), nil
	}
	return "", nil
}

// copyOut copies src to a new file at dest (synced), creating its folder.
func copyOut(src, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dest + ".restoring"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dest)
}

package testenv

import (
	"context"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// What the privacy tests look at: where a suite keeps data (files, blob
// stores, database rows), listed before and after, and polled until done.

// Files lists the regular files under dir, as paths relative to dir with
// their sizes. A directory that does not exist holds nothing.
func Files(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if os.IsNotExist(err) {
				return nil // deleted while listed (a sweep under way): gone
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Blobs lists, sorted, what a media blob store holds: for a directory, its
// files (relative paths, its tmp/ included); for an s3:// bucket URL (as
// [S3] returns), its objects' keys and, as "incomplete:KEY", its unfinished
// multipart uploads, which hold bytes too.
func Blobs(t testing.TB, blobURL string) []string {
	t.Helper()
	if !strings.HasPrefix(blobURL, "s3://") {
		dir := strings.TrimPrefix(blobURL, "file://")
		files := Files(t, dir)
		out := make([]string, 0, len(files))
		for name := range files {
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	u, err := url.Parse(blobURL)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := parseS3Server((&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, RawQuery: u.RawQuery}).String())
	if err != nil {
		t.Fatal(err)
	}
	client, transport, err := srv.client()
	if err != nil {
		t.Fatal(err)
	}
	defer transport.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bucket := strings.Trim(u.Path, "/")
	var out []string
	for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, obj.Key)
	}
	for up := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		out = append(out, "incomplete:"+up.Key)
	}
	slices.Sort(out)
	return out
}

// Rows counts the rows of table in the database at dsn (as the services
// take it: sqlite:PATH or postgres://...), those matching where if set.
func Rows(t testing.TB, dsn, table, where string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT count(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Eventually polls cond until it returns "", failing with what it last
// returned after a minute. What tests wait for (a sweep, an outbox
// delivery) happens in moments; the minute is for a loaded machine.
func Eventually(t testing.TB, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

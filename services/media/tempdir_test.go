package media

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// TestStartRemovesWhatACrashLeft fills a running service's upload
// directory with what crashes leave (upload bytes without a session, the
// bytes of a finished session, a dead process's scratch folder, an older
// release's copy of an original) next to what must stay (a resumable
// session's bytes, a living process's scratch folder, files that are not
// media's), then starts a second process on the same directory and
// database, as a restart or another instance does. What a crash left is
// gone; the session resumes and finishes with its bytes.
func TestStartRemovesWhatACrashLeft(t *testing.T) {
	dir := t.TempDir()
	shared := func(c *Config) {
		c.DSN = "sqlite:" + filepath.Join(dir, "media.db")
		c.BlobURL = filepath.Join(dir, "blobs")
		c.TempDir = filepath.Join(dir, "uploads")
	}
	e := newEnv(t, sqliteLocal, shared)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")

	// A resumable upload, half written.
	open, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_PHOTO, SizeBytes: int64(len(data)), Sha256: hexSHA(data)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, open.GetName(), 0, data[:1000]); err != nil {
		t.Fatal(err)
	}
	// A finished upload whose bytes a crash kept (between marking the
	// session finished and removing them).
	done, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_ARTWORK, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, done.GetName(), 0, data); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: done.GetName()}); err != nil {
		t.Fatal(err)
	}
	finishedBytes := filepath.Join(e.tempDir, "upload-"+sessionID(done.GetName()))
	orphan := filepath.Join(e.tempDir, "upload-0123456789abcdef")
	deadScratch := filepath.Join(e.tempDir, "scratch-1234")
	oldThumb := filepath.Join(e.tempDir, "thumb-5678")
	freshThumb := filepath.Join(e.tempDir, "thumb-9999")
	notOurs := filepath.Join(e.tempDir, "README")
	for _, f := range []string{finishedBytes, orphan, oldThumb, freshThumb, notOurs, filepath.Join(deadScratch, "kinbridge-thumb-1", "original")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("left behind"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * legacyThumbAge)
	if err := os.Chtimes(oldThumb, old, old); err != nil {
		t.Fatal(err)
	}
	liveScratch := e.svc.scratch.dir // the first process lives on
	if err := os.WriteFile(filepath.Join(liveScratch, "original-1"), []byte("in use"), 0o600); err != nil {
		t.Fatal(err)
	}

	second := newEnv(t, sqliteLocal, shared)

	for _, f := range []string{finishedBytes, orphan, deadScratch, oldThumb} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s, left by a crash, is still there (%v)", filepath.Base(f), err)
		}
	}
	for _, f := range []string{freshThumb, notOurs, filepath.Join(liveScratch, "original-1"), second.svc.scratch.dir,
		filepath.Join(e.tempDir, "upload-"+sessionID(open.GetName()))} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(f), err)
		}
	}

	// The half-written upload resumes through the process that started
	// last, and its bytes are all there.
	ctx2 := second.as(t, "carol")
	cur, err := second.client.GetUploadSession(ctx2, &mediav1.GetUploadSessionRequest{Name: open.GetName()})
	if err != nil || cur.GetCommittedOffset() != 1000 {
		t.Fatalf("the open session after the restart: %v, %v", cur, err)
	}
	if _, err := second.writeSession(ctx2, open.GetName(), 1000, data[1000:]); err != nil {
		t.Fatal(err)
	}
	item, err := second.client.FinishUploadSession(ctx2, &mediav1.FinishUploadSessionRequest{Name: open.GetName()})
	if err != nil {
		t.Fatalf("finishing the resumed upload: %v", err)
	}
	if n := second.svc.rehashedBytes.Load(); n != 0 {
		t.Errorf("the resumed upload's %d bytes written before the restart were read again to hash them", n)
	}
	if item.GetOriginalSha256() != hexSHA(data) {
		t.Fatalf("the resumed upload stored %s, want %s", item.GetOriginalSha256(), hexSHA(data))
	}
	_, got, err := second.readAll(ctx2, item.GetName(), "", 0, 0)
	if err != nil || len(got) == 0 || !bytes.HasPrefix(got, data[:2]) {
		t.Fatalf("reading the resumed upload: %d bytes, %v", len(got), err)
	}

	// A process's scratch folder goes with it when it stops.
	second.svc.scratch.Close()
	if _, err := os.Stat(second.svc.scratch.dir); !os.IsNotExist(err) {
		t.Errorf("a closed scratch folder is still there (%v)", err)
	}
}

package media

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/services/media/ingest"
)

// rebuildReads is how many bytes of data the allowlist rebuild reads to
// walk it and write the file to store: the one reading of an upload's
// bytes the pipeline needs once they are received.
func rebuildReads(t *testing.T, data []byte) int64 {
	t.Helper()
	typ, err := ingest.Sniff(data[:min(len(data), ingest.SniffLen)])
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rb, err := ingest.Rebuild(countedReads{bytes.NewReader(data), &n}, int64(len(data)), typ, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rb.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	return n.Load()
}

// TestNoByteReadBackToHash: on every upload path (one stream; a session
// written in parts and finished; a session resumed by another process, as
// after a restart) the client's checksum and the stored blob's name are
// computed while the bytes stream through: the upload's file is read only
// as far as the rebuild needs (plus the head sniffed for its type), never
// again to hash it. Only a session whose saved running hash is lost hashes
// its bytes once more, and says so.
func TestNoByteReadBackToHash(t *testing.T) { onEachBackend(t, testNoByteReadBackToHash) }

func testNoByteReadBackToHash(t *testing.T, on backend) {
	e := newEnv(t, on, nil)
	ctx := e.as(t, "carol")
	srv := e.svc
	for _, file := range []string{"ingest/testdata/gps.jpg", "ingest/testdata/shapes.mp4"} {
		data := readFile(t, file)
		size := int64(len(data))
		need := rebuildReads(t, data)
		meta := func(title string) *mediav1.UploadMetadata {
			return &mediav1.UploadMetadata{Parent: child, SizeBytes: size, Sha256: hexSHA(data), Title: title}
		}
		check := func(path string, reads, rehashed, wantRehashed int64, it *mediav1.MediaItem, slack int64) {
			t.Helper()
			if reads > need+slack {
				t.Errorf("%s, %s: %d bytes of the upload read, the rebuild needs %d (+%d for the head)", file, path, reads, need, slack)
			}
			if rehashed != wantRehashed {
				t.Errorf("%s, %s: %d bytes read again to hash them, want %d", file, path, rehashed, wantRehashed)
			}
			if it.GetOriginalSha256() != hexSHA(data) {
				t.Errorf("%s, %s: original sha256 %s, want %s", file, path, it.GetOriginalSha256(), hexSHA(data))
			}
			_, stored, err := e.readAll(ctx, it.GetName(), "", 0, 0)
			if err != nil || hexSHA(stored) != it.GetContentSha256() || int64(len(stored)) != it.GetSizeBytes() {
				t.Errorf("%s, %s: stored %d bytes hashing to %s (%v), item says %d, %s", file, path,
					len(stored), hexSHA(stored), err, it.GetSizeBytes(), it.GetContentSha256())
			}
			if _, err := e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: it.GetName()}); err != nil {
				t.Fatal(err)
			}
		}

		// One stream.
		reads, rehashed := srv.uploadReads.Load(), srv.rehashedBytes.Load()
		it, err := e.upload(ctx, meta("one stream"), data, 1000)
		if err != nil {
			t.Fatal(err)
		}
		check("UploadMedia", srv.uploadReads.Load()-reads, srv.rehashedBytes.Load()-rehashed, 0, it, 0)

		// A session in three parts, then finished.
		session := func(e *env) string {
			sess, err := e.client.CreateUploadSession(e.as(t, "carol"), &mediav1.CreateUploadSessionRequest{Metadata: meta("session")})
			if err != nil {
				t.Fatal(err)
			}
			return sess.GetName()
		}
		write := func(e *env, name string, from, to int64) {
			t.Helper()
			if _, err := e.writeSession(e.as(t, "carol"), name, from, data[from:to]); err != nil {
				t.Fatal(err)
			}
		}
		finish := func(e *env, name string) *mediav1.MediaItem {
			t.Helper()
			it, err := e.client.FinishUploadSession(e.as(t, "carol"), &mediav1.FinishUploadSessionRequest{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			return it
		}
		reads, rehashed = srv.uploadReads.Load(), srv.rehashedBytes.Load()
		name := session(e)
		write(e, name, 0, 300)
		write(e, name, 300, size/2)
		write(e, name, size/2, size)
		it = finish(e, name)
		// The head is read back twice: to sniff it once 512 bytes are in,
		// and at the finish.
		check("session", srv.uploadReads.Load()-reads, srv.rehashedBytes.Load()-rehashed, 0, it, 2*ingest.SniffLen)

		// A session begun here and resumed by another process over the
		// same database and directories, as after a restart.
		other := newEnv(t, on, func(c *Config) {
			c.DSN, c.BlobURL, c.TempDir = e.svc.cfg.DSN, e.svc.cfg.BlobURL, e.svc.cfg.TempDir
		})
		name = session(e)
		write(e, name, 0, size/2)
		reads, rehashed = other.svc.uploadReads.Load(), other.svc.rehashedBytes.Load()
		write(other, name, size/2, size)
		it = finish(other, name)
		check("session resumed elsewhere", other.svc.uploadReads.Load()-reads,
			other.svc.rehashedBytes.Load()-rehashed, 0, it, ingest.SniffLen)

		// A session whose running hash is lost: its bytes are hashed once
		// more, and the checksum still holds.
		name = session(e)
		write(e, name, 0, size)
		if _, err := e.svc.db.ExecContext(ctx, `UPDATE upload_sessions SET hash_state = '' WHERE id = $1`, sessionID(name)); err != nil {
			t.Fatal(err)
		}
		reads, rehashed = srv.uploadReads.Load(), srv.rehashedBytes.Load()
		it = finish(e, name)
		check("session without its running hash", srv.uploadReads.Load()-reads, srv.rehashedBytes.Load()-rehashed, size, it, ingest.SniffLen+size)
	}
}

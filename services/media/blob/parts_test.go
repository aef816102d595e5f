package blob_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/kinbridge/kinbridge/services/media/blob"
)

// testParts: parts are stored whole and read back, sit beside the blobs
// without being blobs, are listed by session, and go one by one or all of
// a session at once; bad names touch nothing.
func testParts(t *testing.T, b backend, s blob.Store) {
	ctx := t.Context()
	p := s
	blobsBefore := len(b.keys(t, s))
	one, two := randomBytes(1, 1<<20), randomBytes(2, 1000)
	for _, put := range []struct {
		session, part string
		data          []byte
	}{{"sess-a", "00000000000000000000-x1", one}, {"sess-a", "00000000000001048576-x2", two}, {"sess-b", "p", two}} {
		if err := p.PutPart(ctx, put.session, put.part, put.data); err != nil {
			t.Fatal(err)
		}
	}
	read := func(session, part string) ([]byte, error) {
		r, err := p.OpenPart(ctx, session, part)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	if got, err := read("sess-a", "00000000000000000000-x1"); err != nil || !bytes.Equal(got, one) {
		t.Fatalf("part read back: %d bytes, %v", len(got), err)
	}
	if _, err := read("sess-a", "nope"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a missing part: %v", err)
	}
	sessions, err := p.PartSessions(ctx)
	slices.Sort(sessions)
	if err != nil || !slices.Equal(sessions, []string{"sess-a", "sess-b"}) {
		t.Fatalf("part sessions = %v, %v", sessions, err)
	}
	for _, bad := range [][2]string{{"../x", "p"}, {"s", "../../etc"}, {"", "p"}, {"S", "p"}, {"s", "a/b"}} {
		if err := p.PutPart(ctx, bad[0], bad[1], one); !errors.Is(err, blob.ErrInvalidPart) {
			t.Errorf("put part %q/%q: %v", bad[0], bad[1], err)
		}
		if _, err := p.OpenPart(ctx, bad[0], bad[1]); !errors.Is(err, blob.ErrInvalidPart) {
			t.Errorf("open part %q/%q: %v", bad[0], bad[1], err)
		}
	}
	if err := p.DeleteParts(ctx, "../"); !errors.Is(err, blob.ErrInvalidPart) {
		t.Errorf("delete parts ../: %v", err)
	}

	if err := p.DeletePart(ctx, "sess-b", "p"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeletePart(ctx, "sess-b", "p"); err != nil {
		t.Fatalf("deleting an absent part: %v", err)
	}
	if _, err := read("sess-b", "p"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a deleted part: %v", err)
	}
	// (A local store keeps sess-b's empty folder until its parts go.)
	for _, session := range []string{"sess-a", "sess-b"} {
		if err := p.DeleteParts(ctx, session); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.DeleteParts(ctx, "sess-none"); err != nil {
		t.Fatalf("deleting the parts of a session without any: %v", err)
	}
	if sessions, err := p.PartSessions(ctx); err != nil || len(sessions) != 0 {
		t.Fatalf("part sessions after deleting them all = %v, %v", sessions, err)
	}
	if keys := b.keys(t, s); len(keys) != blobsBefore {
		t.Fatalf("the store holds %v after its parts were deleted", keys)
	}
}

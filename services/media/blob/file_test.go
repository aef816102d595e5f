package blob_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinbridge/kinbridge/services/media/blob"
)

// TestPutFileAndFile: a file handed over by PutFile comes back whole from
// File, and through Open, on every store, at sizes on both sides of where
// S3 changes from one PUT to parts; a local store's File is the blob
// itself (the adopted file, same inode), another store's a copy that Close
// removes; a file whose bytes do not hash to its name is refused by S3's
// single PUT.
func TestPutFileAndFile(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			dir := t.TempDir()
			for i, n := range []int64{1, 1000, b.partSize, b.partSize + 1, 2*b.partSize + 12345} {
				data := randomBytes(uint64(300+i), n)
				name := sum(data)
				path := filepath.Join(dir, "content")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				handed, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := blob.PutFile(t.Context(), s, path, n, name); err != nil {
					t.Fatalf("PutFile(%d bytes): %v", n, err)
				}
				if got := readAll(t, s, name, 0, -1); !bytes.Equal(got, data) {
					t.Fatalf("%d bytes put, %d read back, equal=false", n, len(got))
				}
				f, err := blob.File(t.Context(), s, name, dir)
				if err != nil {
					t.Fatalf("File(%d bytes): %v", n, err)
				}
				if f.Size != n {
					t.Errorf("File size %d, want %d", f.Size, n)
				}
				got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("File read %d of %d bytes (%v)", len(got), n, err)
				}
				fi, err := f.Stat()
				if err != nil {
					t.Fatal(err)
				}
				_, isLocal := s.(*blob.Local)
				if same := os.SameFile(handed, fi); same != isLocal {
					t.Errorf("File is the file handed to PutFile: %v, want %v", same, isLocal)
				}
				name2 := f.Name()
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				_, err = os.Stat(name2)
				if gone := err != nil; gone == isLocal {
					t.Errorf("after Close the file is gone: %v, want %v (only a copy is removed)", gone, !isLocal)
				}
				os.Remove(path)
			}
			// The same bytes again are kept once.
			data := randomBytes(300, 1)
			path := filepath.Join(dir, "again")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := blob.PutFile(t.Context(), s, path, 1, sum(data)); err != nil {
				t.Fatalf("PutFile of stored bytes: %v", err)
			}
			if _, ok := s.(*blob.S3); ok {
				// A single PUT carries the name as its content hash: bytes
				// that do not match it are refused and nothing is stored.
				bad := filepath.Join(dir, "bad")
				if err := os.WriteFile(bad, []byte("not what the name says"), 0o600); err != nil {
					t.Fatal(err)
				}
				other := sum([]byte("something else"))
				if err := blob.PutFile(t.Context(), s, bad, 22, other); err == nil {
					t.Error("S3 stored bytes under a name they do not hash to")
				}
				if _, err := s.Stat(t.Context(), other); err == nil {
					t.Error("the refused bytes are stored")
				}
			}
			if err := blob.PutFile(t.Context(), s, path, 1, "not-a-name"); err == nil {
				t.Error("PutFile took a name that is not a SHA-256")
			}
		})
	}
}

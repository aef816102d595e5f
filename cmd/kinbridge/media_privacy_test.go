package main

import (
	"encoding/base64"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func fileNames(m map[string]int64) string { return strings.Join(slices.Sorted(maps.Keys(m)), " ") }

// mediaRows counts rows of the suite's media database (SQLite in its data
// directory), those matching where when it is set.
func (s *suite) mediaRows(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	return testenv.Rows(t, "sqlite:"+filepath.Join(s.dataDir, "media.db"), table, where, args...)
}

// TestTusRefusalsLeaveNothing: an upload through tus that media refuses
// for what it is, in a PATCH or when the last PATCH finishes it, leaves no
// byte in the upload directory, the blob directory or the media database,
// and HEAD and PATCH on it answer 404 from then on.
func TestTusRefusalsLeaveNothing(t *testing.T) {
	s := startSuite(t, "--max-video-bytes", "3000")
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	read := func(name string) []byte {
		b, err := os.ReadFile("../../services/media/ingest/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gps, video := read("gps.jpg"), read("gps.mp4")
	html := []byte("<!DOCTYPE html><html><body>" + strings.Repeat("not a photo ", 100) + "</body></html>")
	uploads, blobs := filepath.Join(s.dataDir, "uploads"), filepath.Join(s.dataDir, "blobs")

	cases := []struct {
		name    string
		data    []byte
		length  int      // Upload-Length; 0 for len(data)
		meta    []string // Upload-Metadata beyond the child
		first   int      // bytes of the first, accepted PATCH
		chunked bool     // the refused PATCH has no Content-Length
		status  int
	}{
		{"type not allowed", html, 0, []string{"filename", "cat.jpg"}, 300, false, 415},
		{"kind that does not fit", video, 0, []string{"kind", "photo"}, 300, false, 400},
		{"over the limit of the sniffed kind", video, 0, nil, 300, false, 413},
		{"body past Upload-Length", gps, len(gps) - 10, nil, 1000, false, 413},
		{"chunked body past Upload-Length", gps, len(gps) - 10, nil, 1000, true, 413},
		{"wrong sha256", gps, 0, []string{"sha256", strings.Repeat("ab", 32)}, 1000, false, 400},
		{"malformed", gps[:len(gps)-2], 0, nil, 1000, false, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			length := tc.length
			if length == 0 {
				length = len(tc.data)
			}
			created := s.tusRequest(t, "POST", "/v1/uploads/", teacher, nil, "Upload-Length", strconv.Itoa(length),
				"Upload-Metadata", tusMetadata(append([]string{"child", child}, tc.meta...)...))
			loc := created.Header.Get("Location")
			if created.StatusCode != 201 || loc == "" {
				t.Fatalf("create: %d %v", created.StatusCode, created.Header)
			}
			if r := s.tusRequest(t, "PATCH", loc, teacher, tc.data[:tc.first], "Upload-Offset", "0",
				"Content-Type", "application/offset+octet-stream"); r.StatusCode != 204 {
				t.Fatalf("first PATCH: %d", r.StatusCode)
			}
			if before := testenv.Files(t, uploads); len(before) != 1 || slices.Collect(maps.Values(before))[0] != int64(tc.first) {
				t.Fatalf("before the refusal the upload directory holds %v, want one file of %d bytes", before, tc.first)
			}

			rest := tc.data[tc.first:]
			var r *http.Response
			if tc.chunked {
				req, _ := http.NewRequest("PATCH", loc, io.MultiReader(strings.NewReader(string(rest))))
				req.ContentLength = -1
				req.Header.Set("Tus-Resumable", "1.0.0")
				req.Header.Set("Authorization", "Bearer "+teacher)
				req.Header.Set("Upload-Offset", strconv.Itoa(tc.first))
				req.Header.Set("Content-Type", "application/offset+octet-stream")
				var err error
				if r, err = http.DefaultClient.Do(req); err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
			} else {
				r = s.tusRequest(t, "PATCH", loc, teacher, rest, "Upload-Offset", strconv.Itoa(tc.first),
					"Content-Type", "application/offset+octet-stream")
			}
			if r.StatusCode != tc.status {
				t.Fatalf("refused PATCH: %d, want %d", r.StatusCode, tc.status)
			}

			// Gone at once: the refusing request dropped it.
			if after := testenv.Files(t, uploads); len(after) != 0 {
				t.Errorf("after the refusal the upload directory holds %s", fileNames(after))
			}
			if after := testenv.Files(t, blobs); len(after) != 0 {
				t.Errorf("after the refusal the blob directory holds %s", fileNames(after))
			}
			for _, table := range []string{"upload_sessions", "media_items", "media_jobs", "blob_pins", "blob_refs"} {
				if n := s.mediaRows(t, table, ""); n != 0 {
					t.Errorf("after the refusal %s has %d rows", table, n)
				}
			}
			if r := s.tusRequest(t, "HEAD", loc, teacher, nil); r.StatusCode != 404 {
				t.Errorf("HEAD after the refusal: %d", r.StatusCode)
			}
			if r := s.tusRequest(t, "PATCH", loc, teacher, rest[:1], "Upload-Offset", strconv.Itoa(tc.first),
				"Content-Type", "application/offset+octet-stream"); r.StatusCode != 404 {
				t.Errorf("PATCH after the refusal: %d", r.StatusCode)
			}
		})
	}
}

// TestDeleteChildDeletesMedia: deleting a child over REST reaches media
// through progress's outbox. Its photo, its video, their thumbnails and
// its open tus upload go, from the upload and blob directories and the
// media database; the same photo uploaded for another child stays, bytes
// and thumbnails; and notification still hears of it, taking the child
// out of the guardians' inboxes.
func TestDeleteChildDeletesMedia(t *testing.T) {
	s := startSuite(t)
	gone, kept := s.family(t), s.family(t)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	read := func(name string) string {
		b, err := os.ReadFile("../../services/media/ingest/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	photo, video := read("gps.jpg"), read("gps.mp4")
	upload := func(child, data string) string {
		r := s.call(t, "POST", "/v1/"+child+"/media:upload", teacher, data)
		if r.status != 200 {
			t.Fatalf("upload for %s: %d %s", child, r.status, r.body)
		}
		return r.json(t)["name"].(string)
	}
	ready := func(item string) {
		testenv.Eventually(t, item+" ready", func() string {
			if r := s.call(t, "GET", "/v1/"+item, teacher, ""); !strings.Contains(string(r.body), "MEDIA_STATE_READY") {
				return string(r.body)
			}
			return ""
		})
	}
	blobs, uploads := filepath.Join(s.dataDir, "blobs"), filepath.Join(s.dataDir, "uploads")

	keptItem := upload(kept, photo)
	ready(keptItem)
	keptBlobs := testenv.Files(t, blobs)
	photoItem := upload(gone, photo)
	upload(gone, video)
	ready(photoItem)
	created := s.tusRequest(t, "POST", "/v1/uploads/", teacher, nil, "Upload-Length", strconv.Itoa(len(photo)),
		"Upload-Metadata", "child "+base64.StdEncoding.EncodeToString([]byte(gone)))
	loc := created.Header.Get("Location")
	if r := s.tusRequest(t, "PATCH", loc, teacher, []byte(photo[:2000]), "Upload-Offset", "0",
		"Content-Type", "application/offset+octet-stream"); r.StatusCode != 204 {
		t.Fatalf("PATCH: %d", r.StatusCode)
	}
	goneID := strings.TrimPrefix(gone, "children/")
	if n := s.mediaRows(t, "media_items", "child_id = $1", goneID); n != 2 {
		t.Fatalf("%d items of the child before", n)
	}
	if f := testenv.Files(t, uploads); len(f) != 1 {
		t.Fatalf("upload directory before: %s", fileNames(f))
	}
	testenv.Eventually(t, "maria hears of the photo", func() string {
		if r := s.call(t, "GET", "/v1/users/me/notifications", maria, ""); !strings.Contains(string(r.body), photoItem) {
			return string(r.body)
		}
		return ""
	})

	if r := s.call(t, "DELETE", "/v1/"+gone, s.adminToken, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	testenv.Eventually(t, "the deleted child's media", func() string {
		if f := testenv.Files(t, uploads); len(f) != 0 {
			return "upload directory holds " + fileNames(f)
		}
		if f := testenv.Files(t, blobs); !maps.Equal(f, keptBlobs) {
			return "blob directory holds " + fileNames(f) + ", want the other child's " + fileNames(keptBlobs)
		}
		for _, table := range []string{"media_items", "upload_sessions", "media_jobs"} {
			if n := s.mediaRows(t, table, "child_id = $1", goneID); n != 0 {
				return table + " has rows of the child"
			}
		}
		if n := s.mediaRows(t, "blob_refs", ""); n != len(keptBlobs) {
			return "blob_refs has " + strconv.Itoa(n) + " rows for " + strconv.Itoa(len(keptBlobs)) + " blobs"
		}
		if n := s.mediaRows(t, "blob_pins", ""); n != 0 {
			return "blob_pins has rows"
		}
		return ""
	})
	if r := s.tusRequest(t, "HEAD", loc, teacher, nil); r.StatusCode != 404 {
		t.Errorf("HEAD of the deleted child's upload: %d", r.StatusCode)
	}
	if r := s.call(t, "GET", "/v1/"+keptItem+":content", maria, ""); r.status != 200 || len(r.body) == 0 {
		t.Errorf("the other child's photo: %d, %d bytes", r.status, len(r.body))
	}
	if r := s.call(t, "GET", "/v1/"+keptItem+":content?thumbnail=small", maria, ""); r.status != 200 {
		t.Errorf("the other child's thumbnail: %d", r.status)
	}
	testenv.Eventually(t, "the child leaves maria's inbox", func() string {
		if r := s.call(t, "GET", "/v1/users/me/notifications", maria, ""); strings.Contains(string(r.body), gone+"/") {
			return string(r.body)
		}
		return ""
	})
}

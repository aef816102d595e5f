//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/mediacheck/corpus"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestCorpusComesBackClean uploads every file of the adversarial location
// corpus (pkg/mediacheck/corpus: each format's ordinary and hostile shapes,
// each planting a position) through the REST upload, tus and gRPC, each
// path for a child of its own so that no upload is answered by another's
// item. A file whose structure is broken on purpose is refused with 400 /
// INVALID_ARGUMENT MALFORMED on every path. Every other one is stored as
// the same bytes on every path, becomes READY, and what the service serves
// back holds only allowed structures (the independent walker), neither the
// planted marker nor any trace of the position, no position, place name or
// ISO 6709 string that exiftool -a -G1 -ee can read, and shows the same
// picture or plays the same film as the upload.
func TestCorpusComesBackClean(t *testing.T) {
	dir := t.TempDir()
	// One teacher uploads the whole corpus, as many files at once as the
	// test runs in parallel (GOMAXPROCS): more than a family's cap on
	// uploads under way on a big machine.
	p := serve(t, dir, nil, "--max-uploads-per-user", "1000")
	media := mediav1.NewMediaServiceClient(dialGRPC(t, p.media))
	paths := []string{"REST", "tus", "gRPC"}
	families := map[string]mediaFamily{}
	for _, via := range paths {
		families[via] = newMediaFamily(t, dir, p.progress)
	}

	for _, e := range corpus.All() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), e.Name)
			if err := os.WriteFile(file, e.Data, 0o600); err != nil {
				t.Fatal(err)
			}
			plantsSomething(t, e, file)
			stored := map[string][]byte{}
			for _, via := range paths {
				f := families[via]
				item, refused := corpusUpload(t, p.gateway, media, f, via, e, file)
				if e.Expect == corpus.ExpectRefused {
					if !refused {
						t.Errorf("via %s: stored as %s, want a refusal as malformed", via, item)
					}
					continue
				}
				if refused {
					t.Errorf("via %s: refused, want it stored clean", via)
					continue
				}
				it := waitReady(t, p.gateway, f.teacher, item)
				code, body, _ := httpDo(t, "GET", "http://"+p.gateway+"/v1/"+item+":content", f.teacher, "", nil)
				if code != http.StatusOK {
					t.Fatalf("via %s: GET content: %d %s", via, code, body)
				}
				if it.OriginalSha256 != sha256Hex(e.Data) || it.ContentSha256 != sha256Hex(body) || it.ContentType != e.ContentType {
					t.Errorf("via %s: item %+v; the upload hashes to %s, the served bytes to %s", via, it, sha256Hex(e.Data), sha256Hex(body))
				}
				stored[via] = body
			}
			if e.Expect == corpus.ExpectRefused || len(stored) == 0 {
				return
			}
			out := stored[paths[0]]
			for _, via := range paths[1:] {
				if s, ok := stored[via]; ok && sha256Hex(s) != sha256Hex(out) {
					t.Errorf("%s stored other bytes than %s", via, paths[0])
				}
			}
			judgeStored(t, e, out)
		})
	}
}

// plantsSomething fails the test unless the input shows its planted
// position: its marker is in it, or exiftool reads the position (an input
// that plants nothing proves nothing).
func plantsSomething(t *testing.T, e corpus.Entry, file string) {
	t.Helper()
	if e.Marker != "" && !e.HasMarker(e.Data) {
		t.Fatalf("the input lacks its marker %s", e.Marker)
	}
	if !e.Exiftool {
		if e.Marker == "" {
			t.Fatal("the input plants neither a marker nor a position exiftool reads")
		}
		return
	}
	// Without exiftool, judgeStored skips or fails the test at its end.
	if found, ok := mediacheck.Positions(t, file, e.Marker); ok && len(found) == 0 {
		t.Fatal("exiftool reads no position in the input, though the manifest says it does")
	}
}

// corpusUpload uploads one corpus file through one path and returns the
// item it became, or refused when the service refused it as malformed.
func corpusUpload(t *testing.T, gateway string, media mediav1.MediaServiceClient, f mediaFamily, via string, e corpus.Entry, file string) (item string, refused bool) {
	t.Helper()
	switch via {
	case "REST":
		code, body := restUpload(t, gateway, f.teacher, f.child, "?title="+e.Name, "application/octet-stream", e.Data)
		if code == http.StatusBadRequest && strings.Contains(string(body), errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_MALFORMED)) {
			return "", true
		}
		if code != http.StatusOK {
			t.Fatalf("REST upload: %d %s", code, body)
		}
		var it restItem
		if err := json.Unmarshal(body, &it); err != nil {
			t.Fatal(err)
		}
		return it.Name, false
	case "tus":
		loc := tusCreateFile(t, gateway, f.teacher, f.child, e.Name, int64(len(e.Data)))
		resp, body := tusPatch(t, loc, f.teacher, file, 0, int64(len(e.Data)))
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_MALFORMED)) {
			return "", true
		}
		item := resp.Header.Get("Kinbridge-Media-Item")
		if resp.StatusCode != http.StatusNoContent || item == "" {
			t.Fatalf("tus PATCH: %d %s (item %q)", resp.StatusCode, body, item)
		}
		return item, false
	default:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		it, err := grpcUpload(as(ctx, f.teacher), media, &mediav1.UploadMetadata{Parent: f.child, Title: e.Name, SizeBytes: int64(len(e.Data))}, e.Data)
		if status.Code(err) == codes.InvalidArgument && errinfo.MediaReason(err) == mediav1.ErrorReason_ERROR_REASON_MALFORMED {
			return "", true
		}
		if err != nil {
			t.Fatalf("gRPC upload: %v", err)
		}
		return it.GetName(), false
	}
}

// judgeStored fails the test if a stored copy of corpus entry e carries
// anything of the position, or is not the same picture or film.
func judgeStored(t *testing.T, e corpus.Entry, stored []byte) {
	t.Helper()
	if v := mediacheck.Structure(stored, e.ContentType); len(v) > 0 {
		t.Errorf("the stored copy holds structures that are not allowed:\n%s", strings.Join(v, "\n"))
	}
	if e.HasMarker(stored) {
		t.Errorf("the stored copy still holds the marker %s", e.Marker)
	}
	if found := mediacheck.Find(stored); len(found) > 0 {
		t.Errorf("the stored copy holds traces of the position: %v", found)
	}
	path := filepath.Join(t.TempDir(), "stored-"+e.Name)
	if err := os.WriteFile(path, stored, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mediacheck.SamePicture(t, e.ContentType, e.Data, stored); err != nil {
		t.Errorf("the stored copy is not the same picture: %v", err)
	}
	// Last: without exiftool the test skips here (or fails, when
	// KINBRIDGE_TEST_REQUIRE names it).
	testenv.Tool(t, "exiftool")
	if found, _ := mediacheck.Positions(t, path, e.Marker); len(found) > 0 {
		t.Errorf("exiftool reads a position in the stored copy:\n%s", strings.Join(found, "\n"))
	}
}

//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// The ingest rules and access rules as a user meets them: through the REST
// upload, tus and gRPC, against a built `kinbridge serve all`, judging what
// comes back with the independent location checker (and exiftool/ffprobe
// when installed).

// fixtures is the folder of media files that carry a location (the Eiffel
// Tower), one per format that can carry one; see its make.sh.
var fixtures = filepath.Join("..", "services", "media", "ingest", "testdata")

// restItem is what the e2e tests read of a media item over REST.
type restItem struct {
	Name           string `json:"name"`
	State          string `json:"state"`
	FailureReason  string `json:"failureReason"`
	ContentType    string `json:"contentType"`
	OriginalSha256 string `json:"originalSha256"`
	ContentSha256  string `json:"contentSha256"`
}

// httpDo sends one request with a bearer token and returns status and body.
func httpDo(t *testing.T, method, url, token, contentType string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// restUpload sends a one-request upload of data with the given Content-Type
// (a raw body) and returns the status and body.
func restUpload(t *testing.T, gateway, token, child, query, contentType string, data []byte) (int, []byte) {
	t.Helper()
	code, body, _ := httpDo(t, "POST", "http://"+gateway+"/v1/"+child+"/media:upload"+query, token, contentType, strings.NewReader(string(data)))
	return code, body
}

// multipartUpload sends data as the file part of a multipart form.
func multipartUpload(t *testing.T, gateway, token, child, filename, partType string, data []byte) (int, []byte) {
	t.Helper()
	var buf strings.Builder
	w := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename=%q`, filename)}
	h["Content-Type"] = []string{partType}
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	code, body, _ := httpDo(t, "POST", "http://"+gateway+"/v1/"+child+"/media:upload", token, w.FormDataContentType(), strings.NewReader(buf.String()))
	return code, body
}

// grpcUpload sends data through MediaService.UploadMedia in chunks.
func grpcUpload(ctx context.Context, client mediav1.MediaServiceClient, meta *mediav1.UploadMetadata, data []byte) (*mediav1.MediaItem, error) {
	stream, err := client.UploadMedia(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: meta}}); err != nil {
		return nil, err
	}
	for off := 0; off < len(data); off += 1000 {
		chunk := data[off:min(off+1000, len(data))]
		if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: chunk}}); err != nil {
			break // the server answered early; CloseAndRecv says why
		}
	}
	return stream.CloseAndRecv()
}

// tusUpload creates a tus upload of the file at path and sends it in one
// PATCH, returning the item the gateway names in Kinbridge-Media-Item.
func tusUpload(t *testing.T, gateway, token, child, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	loc := tusCreateFile(t, gateway, token, child, filepath.Base(path), fi.Size())
	resp, body := tusPatch(t, loc, token, path, 0, fi.Size())
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("tus PATCH %s: %d %s", filepath.Base(path), resp.StatusCode, body)
	}
	item := resp.Header.Get("Kinbridge-Media-Item")
	if item == "" {
		t.Fatalf("tus PATCH %s: no Kinbridge-Media-Item header", filepath.Base(path))
	}
	return item
}

// tusCreateFile creates a tus upload for a file, leaving its kind to the
// service, and returns the upload's URL.
func tusCreateFile(t *testing.T, gateway, token, child, filename string, size int64) string {
	t.Helper()
	resp, body := tusCall(t, "POST", "http://"+gateway+"/v1/uploads/", token, nil, 0,
		"Upload-Length", fmt.Sprint(size), "Upload-Metadata", tusMeta("child", child, "filename", filename))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("tus creation of %s: %d %s", filename, resp.StatusCode, body)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + gateway + loc
	}
	return loc
}

// waitReady polls an item until it leaves PROCESSING.
func waitReady(t *testing.T, gateway, token, item string) restItem {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var it restItem
		restGet(t, gateway, "/v1/"+item, token, &it)
		if it.State == "MEDIA_STATE_READY" {
			return it
		}
		if it.State == "MEDIA_STATE_FAILED" || time.Now().After(deadline) {
			t.Fatalf("%s: state %s (%s), want READY", item, it.State, it.FailureReason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestUploadRefusals: a file that is not what its name says is refused as
// an unsupported type, and one over the size limit is refused before any
// of it is stored, over REST (415/413), tus and gRPC (INVALID_ARGUMENT /
// OUT_OF_RANGE with an ErrorInfo reason).
func TestUploadRefusals(t *testing.T) {
	dir := t.TempDir()
	const limit = 8 << 10
	p := serve(t, dir, nil, "--max-photo-bytes", fmt.Sprint(limit))
	f := newMediaFamily(t, dir, p.progress)
	media := mediav1.NewMediaServiceClient(dialGRPC(t, p.media))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`)
	html := []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
	for _, bad := range []struct {
		name string
		data []byte
	}{{"drawing.jpg", svg}, {"page.jpg", html}} {
		code, body := restUpload(t, p.gateway, f.teacher, f.child, "?title="+bad.name, "image/jpeg", bad.data)
		if code != http.StatusUnsupportedMediaType {
			t.Errorf("REST upload of %s: %d %s, want 415", bad.name, code, body)
		}
		code, body = multipartUpload(t, p.gateway, f.teacher, f.child, bad.name, "image/jpeg", bad.data)
		if code != http.StatusUnsupportedMediaType {
			t.Errorf("multipart upload of %s: %d %s, want 415", bad.name, code, body)
		}
		_, err := grpcUpload(as(ctx, f.teacher), media, &mediav1.UploadMetadata{Parent: f.child, Title: bad.name, SizeBytes: int64(len(bad.data))}, bad.data)
		if status.Code(err) != codes.InvalidArgument || errinfo.MediaReason(err) != mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE {
			t.Errorf("gRPC upload of %s: %v (reason %v), want INVALID_ARGUMENT UNSUPPORTED_TYPE", bad.name, err, errinfo.MediaReason(err))
		}
		path := filepath.Join(t.TempDir(), bad.name)
		os.WriteFile(path, bad.data, 0o600)
		loc := tusCreateFile(t, p.gateway, f.teacher, f.child, bad.name, int64(len(bad.data)))
		resp, body2 := tusPatch(t, loc, f.teacher, path, 0, int64(len(bad.data)))
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("tus upload of %s: %d %s, want 415", bad.name, resp.StatusCode, body2)
		}
	}

	// Over the limit: a JPEG padded past it, refused by its declared size
	// before a byte is taken, and by its real size when it lies.
	big, err := os.ReadFile(filepath.Join(fixtures, "plain.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	big = append(big, make([]byte, limit)...)
	blobsBefore := countRegularFiles(t, filepath.Join(dir, "blobs"))
	code, body := restUpload(t, p.gateway, f.teacher, f.child, "", "image/jpeg", big)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("REST upload of %d bytes over a %d limit: %d %s, want 413", len(big), limit, code, body)
	}
	// tus: filed as a photo, the declared length is refused at creation;
	// with no kind given, the limit is known once the first bytes show the
	// type, and the PATCH carrying them is refused.
	resp, body2 := tusCall(t, "POST", "http://"+p.gateway+"/v1/uploads/", f.teacher, nil, 0,
		"Upload-Length", fmt.Sprint(len(big)), "Upload-Metadata", tusMeta("child", f.child, "filename", "big.jpg", "kind", "photo"))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("tus creation of a %d-byte photo: %d %s, want 413", len(big), resp.StatusCode, body2)
	}
	bigPath := filepath.Join(t.TempDir(), "big.jpg")
	if err := os.WriteFile(bigPath, big, 0o600); err != nil {
		t.Fatal(err)
	}
	loc := tusCreateFile(t, p.gateway, f.teacher, f.child, "big.jpg", int64(len(big)))
	if resp, body := tusPatch(t, loc, f.teacher, bigPath, 0, int64(len(big))); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("tus PATCH of a %d-byte JPEG: %d %s, want 413", len(big), resp.StatusCode, body)
	}
	_, err = grpcUpload(as(ctx, f.teacher), media, &mediav1.UploadMetadata{Parent: f.child, SizeBytes: int64(len(big))}, big)
	if status.Code(err) != codes.OutOfRange || errinfo.MediaReason(err) != mediav1.ErrorReason_ERROR_REASON_TOO_LARGE {
		t.Errorf("gRPC upload declaring %d bytes: %v (reason %v), want OUT_OF_RANGE TOO_LARGE", len(big), err, errinfo.MediaReason(err))
	}
	_, err = grpcUpload(as(ctx, f.teacher), media, &mediav1.UploadMetadata{Parent: f.child, SizeBytes: 100}, big)
	if status.Code(err) == codes.OK {
		t.Errorf("gRPC upload declaring 100 bytes and sending %d was accepted", len(big))
	}

	if n := countRegularFiles(t, filepath.Join(dir, "blobs")); n != blobsBefore {
		t.Errorf("%d blobs after refused uploads, %d before: nothing refused may be stored", n, blobsBefore)
	}
	if items := listItems(t, p.gateway, f.teacher, f.child); len(items) != 0 {
		t.Errorf("refused uploads left items: %+v", items)
	}
}

// countRegularFiles counts the files under dir (0 when it does not exist).
func countRegularFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// TestMediaAccess: a guardian sees a child's media but cannot add to it;
// another family cannot even learn that the child or its media exist.
func TestMediaAccess(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir, nil, "--access-cache-ttl", "0")
	f := newMediaFamily(t, dir, p.progress)
	progress := progressv1.NewProgressServiceClient(dialGRPC(t, p.progress))
	media := mediav1.NewMediaServiceClient(dialGRPC(t, p.media))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	gran := issueToken(t, dir, "gran")
	if _, err := progress.CreateGuardianship(as(ctx, f.admin), &progressv1.CreateGuardianshipRequest{Parent: f.child,
		Guardianship: &progressv1.Guardianship{User: "gran", Role: progressv1.Role_ROLE_GUARDIAN}}); err != nil {
		t.Fatal(err)
	}
	// Another family: their own child, with themselves as contributor.
	other := issueToken(t, dir, "other-parent")
	theirs, err := progress.CreateChild(as(ctx, f.admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Bo"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progress.CreateGuardianship(as(ctx, f.admin), &progressv1.CreateGuardianshipRequest{Parent: theirs.Name,
		Guardianship: &progressv1.Guardianship{User: "other-parent", Role: progressv1.Role_ROLE_CONTRIBUTOR}}); err != nil {
		t.Fatal(err)
	}

	photo, err := os.ReadFile(filepath.Join(fixtures, "plain.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := restUpload(t, p.gateway, f.teacher, f.child, "?title=sunflower", "image/jpeg", photo)
	if code != http.StatusOK {
		t.Fatalf("teacher's upload: %d %s", code, body)
	}
	var it restItem
	json.Unmarshal(body, &it)
	waitReady(t, p.gateway, f.teacher, it.Name)

	// The guardian views: list, get, content, thumbnail.
	if items := listItems(t, p.gateway, gran, f.child); len(items) != 1 || items[0].Name != it.Name {
		t.Errorf("guardian's list: %+v", items)
	}
	for _, path := range []string{"/v1/" + it.Name, "/v1/" + it.Name + ":content", "/v1/" + it.Name + ":content?thumbnail=small"} {
		if code, body, _ := httpDo(t, "GET", "http://"+p.gateway+path, gran, "", nil); code != http.StatusOK {
			t.Errorf("guardian GET %s: %d %s", path, code, body)
		}
	}
	// ... but cannot upload, by any route.
	if code, body := restUpload(t, p.gateway, gran, f.child, "", "image/jpeg", photo); code != http.StatusForbidden {
		t.Errorf("guardian's REST upload: %d %s, want 403", code, body)
	}
	resp, body2 := tusCall(t, "POST", "http://"+p.gateway+"/v1/uploads/", gran, nil, 0,
		"Upload-Length", fmt.Sprint(len(photo)), "Upload-Metadata", tusMeta("child", f.child, "filename", "x.jpg"))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("guardian's tus creation: %d %s, want 403", resp.StatusCode, body2)
	}
	if _, err := grpcUpload(as(ctx, gran), media, &mediav1.UploadMetadata{Parent: f.child, SizeBytes: int64(len(photo))}, photo); status.Code(err) != codes.PermissionDenied {
		t.Errorf("guardian's gRPC upload: %v, want PERMISSION_DENIED", err)
	}
	if code, body, _ := httpDo(t, "DELETE", "http://"+p.gateway+"/v1/"+it.Name, gran, "", nil); code != http.StatusForbidden {
		t.Errorf("guardian's delete: %d %s, want 403", code, body)
	}

	// The other family: everything of this child answers 404, as for a
	// child that does not exist.
	for _, path := range []string{"/v1/" + f.child + "/media", "/v1/" + it.Name, "/v1/" + it.Name + ":content"} {
		if code, body, _ := httpDo(t, "GET", "http://"+p.gateway+path, other, "", nil); code != http.StatusNotFound {
			t.Errorf("other family GET %s: %d %s, want 404", path, code, body)
		}
	}
	if code, body := restUpload(t, p.gateway, other, f.child, "", "image/jpeg", photo); code != http.StatusNotFound {
		t.Errorf("other family's upload: %d %s, want 404", code, body)
	}
	if _, err := media.GetMediaItem(as(ctx, other), &mediav1.GetMediaItemRequest{Name: it.Name}); status.Code(err) != codes.NotFound {
		t.Errorf("other family's gRPC get: %v, want NOT_FOUND", err)
	}
	if items := listItems(t, p.gateway, other, theirs.Name); len(items) != 0 {
		t.Errorf("the other family's own child shows media it never had: %+v", items)
	}
	if items := listItems(t, p.gateway, f.teacher, f.child); len(items) != 1 {
		t.Errorf("refused uploads changed the child's media: %+v", items)
	}
}

// issueToken signs a user token with the data dir's key, as
// `kinbridge token issue` does.
func issueToken(t *testing.T, dataDir, user string) string {
	t.Helper()
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewUserIssuer(key).Issue(user, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

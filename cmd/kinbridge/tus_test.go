package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// tusRequest sends one tus 1.0 request.
func (s *suite) tusRequest(t *testing.T, method, url, token string, body []byte, headers ...string) *http.Response {
	t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = s.gateway + url
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func tusMetadata(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(out, ",")
}

// writeSession writes data into a media upload session over gRPC, as a
// gateway's PATCH would, without finishing it.
func (s *suite) writeSession(t *testing.T, token, session string, data []byte) {
	t.Helper()
	conn, err := grpc.NewClient(s.media, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token), 30*time.Second)
	defer cancel()
	stream, err := mediav1.NewMediaServiceClient(conn).WriteUploadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{Start: &mediav1.WriteStart{Name: session}}})
	stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: data}})
	if sess, err := stream.CloseAndRecv(); err != nil || sess.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("writing %s: %v, %v", session, sess, err)
	}
}

// TestTusUploads speaks tus 1.0 to /v1/uploads: create, write in two
// PATCHes with a HEAD between (as a client resuming does), finish into an
// item; refusals by size and type; termination.
func TestTusUploads(t *testing.T) {
	s := startSuite(t, "--max-photo-bytes", "200000")
	child := s.family(t)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	create := func(token string, size int, meta string) *http.Response {
		return s.tusRequest(t, "POST", "/v1/uploads/", token, nil, "Upload-Length", strconv.Itoa(size), "Upload-Metadata", meta)
	}
	resp := create(teacher, len(photo), tusMetadata("child", child, "filename", "portrait.jpg", "title", "Portrait"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 201 || loc == "" {
		t.Fatalf("create: %d %v", resp.StatusCode, resp.Header)
	}
	half := len(photo) / 2
	patch := func(offset int, part []byte) *http.Response {
		return s.tusRequest(t, "PATCH", loc, teacher, part, "Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream")
	}
	if r := patch(0, photo[:half]); r.StatusCode != 204 || r.Header.Get("Upload-Offset") != strconv.Itoa(half) {
		t.Fatalf("first PATCH: %d %v", r.StatusCode, r.Header)
	}
	if r := s.tusRequest(t, "HEAD", loc, teacher, nil); r.StatusCode != 200 || r.Header.Get("Upload-Offset") != strconv.Itoa(half) {
		t.Fatalf("HEAD: %d %v", r.StatusCode, r.Header)
	}
	if r := patch(3, photo[3:10]); r.StatusCode != 409 {
		t.Fatalf("a PATCH at the wrong offset: %d", r.StatusCode)
	}
	done := patch(half, photo[half:])
	item := done.Header.Get("Kinbridge-Media-Item")
	if done.StatusCode != 204 || !strings.Contains(item, "/media/") {
		t.Fatalf("last PATCH: %d %v", done.StatusCode, done.Header)
	}
	if r := s.call(t, "GET", "/v1/"+item, maria, ""); r.status != 200 || !strings.Contains(string(r.body), "Portrait") {
		t.Fatalf("the item: %d %s", r.status, r.body)
	}
	// A client that lost the last PATCH's response asks HEAD: all bytes
	// are there, and the item is named.
	if r := s.tusRequest(t, "HEAD", loc, teacher, nil); r.StatusCode != 200 ||
		r.Header.Get("Upload-Offset") != strconv.Itoa(len(photo)) || r.Header.Get("Kinbridge-Media-Item") != item {
		t.Fatalf("HEAD after finishing: %d %v; want offset %d and item %s", r.StatusCode, r.Header, len(photo), item)
	}

	// Every byte committed but never finished (the gateway that took the
	// last PATCH died before finishing): the next HEAD finishes it, so the
	// client that takes Upload-Offset == Upload-Length as done is right.
	plain, err := os.ReadFile("../../services/media/ingest/testdata/plain.jpg")
	if err != nil {
		t.Fatal(err)
	}
	orphan := create(teacher, len(plain), tusMetadata("child", child, "filename", "plain.jpg")).Header.Get("Location")
	id := orphan[strings.LastIndex(orphan, "/")+1:]
	c, sessID, _ := strings.Cut(id, ".")
	s.writeSession(t, teacher, "children/"+c+"/uploadSessions/"+sessID, plain)
	head := s.tusRequest(t, "HEAD", orphan, teacher, nil)
	orphanItem := head.Header.Get("Kinbridge-Media-Item")
	if head.StatusCode != 200 || head.Header.Get("Upload-Offset") != strconv.Itoa(len(plain)) || !strings.Contains(orphanItem, "/media/") {
		t.Fatalf("HEAD of a complete, unfinished upload: %d %v", head.StatusCode, head.Header)
	}
	if got := s.call(t, "GET", "/v1/"+orphanItem, teacher, ""); got.status != 200 {
		t.Fatalf("the item HEAD finished: %d %s", got.status, got.body)
	}

	// A declared photo over the limit is refused at creation; with the
	// kind left to sniffing, at the first bytes. Either way nothing is stored.
	if r := create(teacher, 300000, tusMetadata("child", child, "kind", "photo")); r.StatusCode != 413 {
		t.Errorf("an oversized photo was accepted: %d", r.StatusCode)
	}
	big := create(teacher, 300000, tusMetadata("child", child))
	if r := s.tusRequest(t, "PATCH", big.Header.Get("Location"), teacher, photo, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream"); r.StatusCode != 413 {
		t.Errorf("an oversized upload of unstated kind was accepted: %d (create %d)", r.StatusCode, big.StatusCode)
	}
	if r := create(maria, len(photo), tusMetadata("child", child)); r.StatusCode != 403 {
		t.Errorf("a guardian began an upload: %d", r.StatusCode)
	}
	if r := create("", len(photo), tusMetadata("child", child)); r.StatusCode != 401 {
		t.Errorf("no token: %d", r.StatusCode)
	}
	html := []byte("<!DOCTYPE html><html><body>not a photo</body></html>")
	r := create(teacher, len(html), tusMetadata("child", child, "filename", "x.jpg"))
	if r := s.tusRequest(t, "PATCH", r.Header.Get("Location"), teacher, html, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream"); r.StatusCode != 415 {
		t.Errorf("HTML named .jpg: %d %v (create %d %v)", r.StatusCode, r.Header, r.StatusCode, r.Header.Get("Location"))
	}

	gone := create(teacher, len(photo), tusMetadata("child", child)).Header.Get("Location")
	if r := s.tusRequest(t, "DELETE", gone, teacher, nil); r.StatusCode != 204 {
		t.Fatalf("terminate: %d", r.StatusCode)
	}
	if r := s.tusRequest(t, "HEAD", gone, teacher, nil); r.StatusCode != 404 {
		t.Fatalf("HEAD after terminate: %d", r.StatusCode)
	}
}

// TestTusExtensions: the gateway advertises the tus extensions it
// implements, and a creation that carries the whole file (creation with
// upload) answers with the item at once.
func TestTusExtensions(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)

	opts := s.tusRequest(t, "OPTIONS", "/v1/uploads/", teacher, nil)
	if opts.StatusCode != 204 && opts.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d", opts.StatusCode)
	}
	ext := opts.Header.Get("Tus-Extension")
	for _, want := range []string{"creation", "creation-with-upload", "termination"} {
		if !strings.Contains(","+ext+",", ","+want+",") {
			t.Errorf("Tus-Extension %q lacks %s", ext, want)
		}
	}
	// No Tus-Max-Size: the limit depends on the kind, which media learns
	// from the metadata or the first bytes, and refuses with 413 then.
	if opts.Header.Get("Tus-Version") != "1.0.0" {
		t.Errorf("OPTIONS headers: %v", opts.Header)
	}

	photo, err := os.ReadFile("../../services/media/ingest/testdata/plain.jpg")
	if err != nil {
		t.Fatal(err)
	}
	r := s.tusRequest(t, "POST", "/v1/uploads/", teacher, photo, "Upload-Length", strconv.Itoa(len(photo)),
		"Upload-Metadata", tusMetadata("child", child, "filename", "plain.jpg"), "Content-Type", "application/offset+octet-stream")
	item := r.Header.Get("Kinbridge-Media-Item")
	if r.StatusCode != 201 || r.Header.Get("Upload-Offset") != strconv.Itoa(len(photo)) || !strings.Contains(item, "/media/") {
		t.Fatalf("creation with upload: %d %v", r.StatusCode, r.Header)
	}
	if got := s.call(t, "GET", "/v1/"+item, teacher, ""); got.status != 200 {
		t.Fatalf("the item: %d %s", got.status, got.body)
	}
}

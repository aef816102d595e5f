package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// upload sends a file through MediaService.UploadMedia as token.
func (s *suite) upload(t *testing.T, addr, token, child string, data []byte) (*mediav1.MediaItem, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, s.transport())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := mediav1.NewMediaServiceClient(conn).UploadMedia(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: &mediav1.UploadMetadata{
		Parent: child, Title: "Self-portrait", Filename: "portrait.jpg", SizeBytes: int64(len(data))}}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: data}}); err != nil {
		_, err = stream.CloseAndRecv()
		return nil, err
	}
	return stream.CloseAndRecv()
}

// TestMediaThroughTheSuite uploads through `serve all`: media asks
// progress who may do what, the gateway serves the item over REST, and the
// guardians hear that it is ready.
func TestMediaThroughTheSuite(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher, maria, olga := s.userToken(t, "teacher", false), s.userToken(t, "maria", false), s.userToken(t, "olga", false)
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	item, err := s.upload(t, s.media, teacher, child, photo)
	if err != nil {
		t.Fatalf("contributor upload: %v", err)
	}
	if item.GetKind() != mediav1.MediaKind_MEDIA_KIND_PHOTO || item.GetContentType() != "image/jpeg" {
		t.Fatalf("item %v", item)
	}
	if _, err := s.upload(t, s.media, maria, child, photo); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a guardian uploaded: %v", err)
	}
	if _, err := s.upload(t, s.media, olga, child, photo); status.Code(err) != codes.NotFound {
		t.Fatalf("a stranger uploaded: %v", err)
	}
	if r := s.call(t, "GET", "/v1/"+item.GetName(), maria, ""); r.status != 200 || !strings.Contains(string(r.body), "Self-portrait") {
		t.Fatalf("guardian reads the item: %d %s", r.status, r.body)
	}
	if r := s.call(t, "GET", "/v1/"+child+"/media", olga, ""); r.status != 404 {
		t.Fatalf("a stranger lists media: %d %s", r.status, r.body)
	}
	s.settled(t, maria, "Self-portrait") // MEDIA_READY reached the inbox

	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"kinbridge_media_upload_bytes_total", "kinbridge_media_uploads_active", "kinbridge_media_jobs_depth", "kinbridge_media_jobs_oldest_age_seconds"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMediaOverREST uploads in one request and downloads with ranges,
// ETags and the headers browsers need.
func TestMediaOverREST(t *testing.T) {
	s := startSuite(t, "--max-photo-bytes", "200000")
	child := s.family(t)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	post := func(token, query string, body []byte) response {
		t.Helper()
		return s.call(t, "POST", "/v1/"+child+"/media:upload?"+query, token, string(body))
	}
	r := post(teacher, "title=Portrait&kind=artwork", photo)
	if r.status != 200 || r.header.Get("Location") == "" {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	item := r.json(t)
	name, sha := item["name"].(string), item["contentSha256"].(string)
	if item["kind"] != "MEDIA_KIND_ARTWORK" || item["originalSha256"] == sha {
		t.Fatalf("uploaded item %v (location should have been removed, changing the stored bytes)", item)
	}

	refusals := []struct {
		name   string
		token  string
		body   []byte
		status int
	}{
		{"HTML named like a photo", teacher, []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), 415},
		{"SVG", teacher, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 415},
		{"too large", teacher, append(append([]byte{}, photo[:4]...), make([]byte, 300000)...), 413},
		{"a guardian uploads", maria, photo, 403},
	}
	for _, tt := range refusals {
		if got := post(tt.token, "filename=x.jpg", tt.body); got.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, got.status, got.body, tt.status)
		}
	}
	if list := s.call(t, "GET", "/v1/"+child+"/media", teacher, "").json(t); len(list["mediaItems"].([]any)) != 1 {
		t.Fatalf("refused uploads were stored: %v", list)
	}

	full := s.call(t, "GET", "/v1/"+name+":content", maria, "")
	if full.status != 200 || full.header.Get("Content-Type") != "image/jpeg" || full.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(full.header.Get("Content-Disposition"), "Portrait") || full.header.Get("ETag") != `"`+sha+`"` {
		t.Fatalf("download: %d %v", full.status, full.header)
	}
	part := s.call(t, "GET", "/v1/"+name+":content", maria, "", "Range", "bytes=10-109")
	if part.status != 206 || string(part.body) != string(full.body[10:110]) ||
		part.header.Get("Content-Range") != "bytes 10-109/"+strconv.Itoa(len(full.body)) {
		t.Fatalf("range: %d %v (%d bytes)", part.status, part.header, len(part.body))
	}
	tail := s.call(t, "GET", "/v1/"+name+":content", maria, "", "Range", "bytes=-5")
	if tail.status != 206 || string(tail.body) != string(full.body[len(full.body)-5:]) {
		t.Fatalf("suffix range: %d", tail.status)
	}
	if r := s.call(t, "GET", "/v1/"+name+":content", maria, "", "Range", "bytes=999999-"); r.status != 416 {
		t.Fatalf("unsatisfiable range: %d", r.status)
	}
	if r := s.call(t, "GET", "/v1/"+name+":content", maria, "", "If-None-Match", `"`+sha+`"`); r.status != 304 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	if r := s.call(t, "GET", "/v1/"+name+":content", s.userToken(t, "olga", false), ""); r.status != 404 {
		t.Fatalf("a stranger downloads: %d", r.status)
	}
}

// TestRESTUploadOfManyMessages: a body the gateway sends to media as
// several gRPC messages (1 MiB each, read into one buffer the gateway
// reuses) arrives byte for byte, the last partial message included.
func TestRESTUploadOfManyMessages(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	path := fakeMP4(t, 5<<20+123)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := s.call(t, "POST", "/v1/"+child+"/media:upload?kind=video&filename=day.mp4", teacher, string(body))
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if got, want := r.json(t)["originalSha256"], fileSHA256(t, path); got != want {
		t.Fatalf("stored original_sha256 %v, want the file's %s", got, want)
	}
}

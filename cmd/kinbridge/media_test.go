package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// upload sends a file through MediaService.UploadMedia as token.
func (s *suite) upload(t *testing.T, addr, token, child string, data []byte) (*mediav1.MediaItem, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
}

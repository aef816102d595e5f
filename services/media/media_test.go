package media

// These tests run the real service (SQLite in t.TempDir, a local blob
// directory, the real job worker) behind a real grpcserver with a real
// auth.Verifier, called over loopback gRPC with real user tokens. Only
// progress is stood in for: fakeAccess answers from a table of roles with
// the same statuses as pkg/access (NOT_FOUND for a child the user has no
// role on, PERMISSION_DENIED for a guardian asking to contribute).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/ingest"
)

const child = "children/kid1"

// fakeAccess is progress's answer table: roles[child][user] is "guardian"
// (view) or "contributor" (view and contribute); approval[child] is the
// child's require_approval.
type fakeAccess struct {
	roles    map[string]map[string]string
	approval map[string]bool
}

func (f fakeAccess) Check(ctx context.Context, p auth.Principal, c string, perm progresspeerv1.Permission) error {
	_, err := f.Grant(ctx, p, c, perm)
	return err
}

func (f fakeAccess) Grant(_ context.Context, p auth.Principal, c string, perm progresspeerv1.Permission) (access.Grant, error) {
	role := f.roles[c][p.Subject]
	g := access.Grant{SeesDrafts: p.Admin || role == "contributor", ApprovalRequired: f.approval[c]}
	switch {
	case role == "" && !p.Admin:
		return access.Grant{}, status.Errorf(codes.NotFound, "%s not found", c)
	case p.Admin || role == "contributor" || perm == progresspeerv1.Permission_PERMISSION_VIEW:
		return g, nil
	}
	return access.Grant{}, status.Errorf(codes.PermissionDenied, "your role on %s does not allow contributing", c)
}

// backend is where a test's service keeps its rows and bytes. The tests
// that touch storage run on each: SQLite with a local blob directory (what
// `make run` uses), and PostgreSQL with S3, when those are reachable (see
// pkg/testenv: skipped with a message, or failed when KINBRIDGE_TEST_REQUIRE
// names them).
type backend struct {
	name  string
	apply func(t *testing.T, c *Config) // nil: the defaults newEnv sets
}

var (
	sqliteLocal = backend{name: "sqlite+local"}
	postgresS3  = backend{name: "postgres+s3", apply: func(t *testing.T, c *Config) {
		c.DSN = testenv.Postgres(t)
		c.BlobURL = testenv.S3(t)
	}}
)

// onEachBackend runs test as a subtest per backend.
func onEachBackend(t *testing.T, test func(t *testing.T, on backend)) {
	for _, b := range []backend{sqliteLocal, postgresS3} {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

type env struct {
	svc        *Service
	client     mediav1.MediaServiceClient
	peer       mediapeerv1.ChildDataServiceClient
	issuer     *auth.UserIssuer
	serviceKey ed25519.PrivateKey
	tempDir    string
	blobDir    string
	// stop stops the service (its server, workers and sweeper) before the
	// test ends; the test's cleanup does otherwise.
	stop func()
}

func newEnv(t *testing.T, on backend, mutate func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{
		DSN:     "sqlite:" + filepath.Join(dir, "media.db"),
		BlobURL: filepath.Join(dir, "blobs"),
		TempDir: filepath.Join(dir, "tmp"),
		Access: fakeAccess{roles: map[string]map[string]string{
			child: {"carol": "contributor", "gina": "guardian"},
		}},
		PollInterval: 50 * time.Millisecond,
		Logger:       logger,
	}
	if on.apply != nil {
		on.apply(t, &cfg)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcserver.New(grpcserver.Options{Logger: logger, Verifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served, ran := make(chan struct{}), make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(ctx, lis, time.Second) }()
	go func() { defer close(ran); _ = svc.Run(ctx) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		conn.Close()
		cancel()
		<-served
		<-ran
		svc.Close()
	})
	t.Cleanup(stop)
	return &env{svc: svc, client: mediav1.NewMediaServiceClient(conn), peer: mediapeerv1.NewChildDataServiceClient(conn),
		issuer: auth.NewUserIssuer(userKey), serviceKey: serviceKey, tempDir: cfg.TempDir, blobDir: cfg.BlobURL, stop: stop}
}

// as returns a context calling as user.
func (e *env) as(t *testing.T, user string) context.Context {
	t.Helper()
	tok, err := e.issuer.Issue(user, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload sends meta then data in chunks of chunk bytes.
func (e *env) upload(ctx context.Context, meta *mediav1.UploadMetadata, data []byte, chunk int) (*mediav1.MediaItem, error) {
	stream, err := e.client.UploadMedia(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: meta}}); err != nil {
		return stream.CloseAndRecv()
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: data[:n]}}); err != nil {
			return stream.CloseAndRecv() // the server's answer explains
		}
		data = data[n:]
	}
	return stream.CloseAndRecv()
}

// readAll reads an item's content (or a thumbnail) in a range.
func (e *env) readAll(ctx context.Context, name, thumbnail string, offset, length int64) (*mediav1.MediaItem, []byte, error) {
	stream, err := e.client.ReadMediaContent(ctx, &mediav1.ReadMediaContentRequest{Name: name, Thumbnail: thumbnail, Offset: offset, Length: length})
	if err != nil {
		return nil, nil, err
	}
	var item *mediav1.MediaItem
	var buf bytes.Buffer
	for i := 0; ; i++ {
		msg, err := stream.Recv()
		if err == io.EOF {
			return item, buf.Bytes(), nil
		}
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			item = msg.GetMediaItem()
		} else if msg.GetMediaItem() != nil {
			return nil, nil, errors.New("item sent again after the first message")
		}
		if len(msg.GetData()) > readChunk {
			return nil, nil, errors.New("chunk over 256 KiB")
		}
		buf.Write(msg.GetData())
	}
}

// wantCode fails unless err has code and, when reason is set, an ErrorInfo
// with that reason.
// noReason makes wantCode check the status code only.
const noReason = mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED

func wantCode(t *testing.T, err error, code codes.Code, reason mediav1.ErrorReason) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	if reason == noReason {
		return
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == errinfo.Reason(reason) && info.GetDomain() == errinfo.MediaDomain {
			return
		}
	}
	t.Fatalf("%v: no ErrorInfo with reason %s", err, reason)
}

func (e *env) waitState(t *testing.T, ctx context.Context, name string, want mediav1.MediaState) *mediav1.MediaItem {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		it, err := e.client.GetMediaItem(ctx, &mediav1.GetMediaItemRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if it.GetState() == want {
			return it
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %v (%s), want %v", name, it.GetState(), it.GetFailureReason(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countBlobs counts the objects in the service's blob store.
func (e *env) countBlobs(t *testing.T) int {
	t.Helper()
	if !strings.HasPrefix(e.blobDir, "s3://") {
		return countFiles(t, e.blobDir)
	}
	u, err := url.Parse(e.blobDir)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := u.User.Password()
	client, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(u.User.Username(), secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for obj := range client.ListObjects(t.Context(), strings.Trim(u.Path, "/"), minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

// countFiles counts regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func TestUploadProcessAndDedupe(t *testing.T) { onEachBackend(t, testUploadProcessAndDedupe) }

func testUploadProcessAndDedupe(t *testing.T, on backend) {
	e := newEnv(t, on, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	meta := &mediav1.UploadMetadata{Parent: child, Title: "Beach", Filename: "beach.jpg", SizeBytes: int64(len(data)), Sha256: hexSHA(data)}

	it, err := e.upload(ctx, meta, data, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if it.GetState() != mediav1.MediaState_MEDIA_STATE_PROCESSING {
		t.Errorf("state %v, want PROCESSING", it.GetState())
	}
	if it.GetKind() != mediav1.MediaKind_MEDIA_KIND_PHOTO || it.GetContentType() != "image/jpeg" {
		t.Errorf("kind %v type %s, want an inferred PHOTO of image/jpeg", it.GetKind(), it.GetContentType())
	}
	if it.GetOriginalSha256() != hexSHA(data) {
		t.Errorf("original_sha256 %s, want the uploaded bytes' %s", it.GetOriginalSha256(), hexSHA(data))
	}
	if it.GetContentSha256() == it.GetOriginalSha256() {
		t.Error("content_sha256 equals the original's: location not removed")
	}
	if !strings.HasPrefix(it.GetName(), child+"/media/") || it.GetUploadedBy() != "carol" {
		t.Errorf("name %s uploaded_by %s", it.GetName(), it.GetUploadedBy())
	}

	// The stored bytes hash to content_sha256 and carry no location.
	_, stored, err := e.readAll(ctx, it.GetName(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hexSHA(stored) != it.GetContentSha256() || int64(len(stored)) != it.GetSizeBytes() {
		t.Fatalf("stored %d bytes hashing to %s, item says %d and %s", len(stored), hexSHA(stored), it.GetSizeBytes(), it.GetContentSha256())
	}
	// What is stored is a rebuild, and rebuilding it again changes nothing.
	typ, _ := ingest.Sniff(stored)
	rb, err := ingest.Rebuild(bytes.NewReader(stored), int64(len(stored)), typ, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := rb.Bytes(); err != nil || !bytes.Equal(again, stored) {
		t.Errorf("rebuilding the stored bytes: %v; changed %v, want a fixed point", err, !bytes.Equal(again, stored))
	}

	// The worker makes it READY with thumbnails.
	ready := e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	if len(ready.GetThumbnails()) == 0 || ready.GetWidth() == 0 || ready.GetHeight() == 0 {
		t.Fatalf("ready item: %d thumbnails, %dx%d", len(ready.GetThumbnails()), ready.GetWidth(), ready.GetHeight())
	}
	first := ready.GetThumbnails()[0]
	_, small, err := e.readAll(ctx, it.GetName(), first.GetSize(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := ingest.Sniff(small); err != nil || typ.ContentType != "image/jpeg" {
		t.Errorf("thumbnail %s: %v %v", first.GetSize(), typ, err)
	}
	if _, _, err := e.readAll(ctx, it.GetName(), "huge", 0, 0); status.Code(err) != codes.NotFound {
		t.Errorf("unknown thumbnail: %v, want NOT_FOUND", err)
	}

	// The same bytes again answer with the same item.
	dup, err := e.upload(ctx, meta, data, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if dup.GetName() != it.GetName() {
		t.Errorf("second upload made %s, want the existing %s", dup.GetName(), it.GetName())
	}
	list, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetMediaItems()) != 1 {
		t.Errorf("%d items listed, want 1", len(list.GetMediaItems()))
	}
	// Nothing of the uploads is left in the temporary folder.
	if n := countFiles(t, e.tempDir); n != 0 {
		t.Errorf("%d files left in the temp dir", n)
	}
}

func TestUploadRefusals(t *testing.T) { onEachBackend(t, testUploadRefusals) }

func testUploadRefusals(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) { c.Limits.Photo = 2000 })
	ctx := e.as(t, "carol")
	html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")

	_, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, Filename: "cat.jpg", SizeBytes: int64(len(html))}, html, 1024)
	wantCode(t, err, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE)
	if !strings.Contains(status.Convert(err).Message(), "HTML") {
		t.Errorf("message %q does not say it looks like HTML", status.Convert(err).Message())
	}

	// A declared size over the limit is refused before any byte is stored:
	// the server answers after the metadata alone.
	stream, err := e.client.UploadMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_PHOTO, SizeBytes: 2001}}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.CloseAndRecv()
	wantCode(t, err, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE)
	_, err = e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_PHOTO, SizeBytes: 1 << 40}})
	wantCode(t, err, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE)

	// An inferred photo over the photo limit is refused once sniffed.
	data := readFile(t, "ingest/testdata/gps.jpg") // 3650 bytes > 2000
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 1024)
	wantCode(t, err, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE)

	plain := readFile(t, "ingest/testdata/plain.jpg")
	// Bytes beyond the declared size.
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(plain)) - 10}, plain, 100)
	wantCode(t, err, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE)
	// Fewer bytes than declared.
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(plain)) + 10}, plain, 100)
	wantCode(t, err, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_INCOMPLETE)
	// A wrong checksum.
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(plain)), Sha256: hexSHA(html)}, plain, 100)
	wantCode(t, err, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH)
	// A JPEG declared as a video.
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_VIDEO, SizeBytes: int64(len(plain))}, plain, 100)
	wantCode(t, err, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH)

	if n := e.countBlobs(t); n != 0 {
		t.Errorf("%d blob files stored by refused uploads", n)
	}
	if n := countFiles(t, e.tempDir); n != 0 {
		t.Errorf("%d temporary files left by refused uploads", n)
	}
	list, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil || len(list.GetMediaItems()) != 0 {
		t.Errorf("items after refusals: %v %v", list.GetMediaItems(), err)
	}
}

func TestAccess(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	plain := readFile(t, "ingest/testdata/plain.jpg")
	meta := &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(plain))}

	_, err := e.upload(e.as(t, "gina"), meta, plain, 100)
	wantCode(t, err, codes.PermissionDenied, noReason)
	_, err = e.client.CreateUploadSession(e.as(t, "gina"), &mediav1.CreateUploadSessionRequest{Metadata: meta})
	wantCode(t, err, codes.PermissionDenied, noReason)
	_, err = e.upload(e.as(t, "mallory"), meta, plain, 100)
	wantCode(t, err, codes.NotFound, noReason)

	it, err := e.upload(e.as(t, "carol"), meta, plain, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The guardian views, but does not edit or delete.
	if _, err := e.client.GetMediaItem(e.as(t, "gina"), &mediav1.GetMediaItemRequest{Name: it.GetName()}); err != nil {
		t.Errorf("guardian get: %v", err)
	}
	if _, _, err := e.readAll(e.as(t, "gina"), it.GetName(), "", 0, 0); err != nil {
		t.Errorf("guardian read: %v", err)
	}
	_, err = e.client.DeleteMediaItem(e.as(t, "gina"), &mediav1.DeleteMediaItemRequest{Name: it.GetName()})
	wantCode(t, err, codes.PermissionDenied, noReason)
	_, err = e.client.GetMediaItem(e.as(t, "mallory"), &mediav1.GetMediaItemRequest{Name: it.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
	_, err = e.client.ListMediaItems(e.as(t, "mallory"), &mediav1.ListMediaItemsRequest{Parent: child})
	wantCode(t, err, codes.NotFound, noReason)
}

// writeSession sends a WriteStart and chunks, then closes.
func (e *env) writeSession(ctx context.Context, name string, offset int64, data []byte) (*mediav1.UploadSession, error) {
	stream, err := e.client.WriteUploadSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{Start: &mediav1.WriteStart{Name: name, Offset: offset}}}); err != nil {
		return stream.CloseAndRecv()
	}
	for len(data) > 0 {
		n := min(700, len(data))
		if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: data[:n]}}); err != nil {
			return stream.CloseAndRecv()
		}
		data = data[n:]
	}
	return stream.CloseAndRecv()
}

func TestResumableSessionAndRangedRead(t *testing.T) {
	onEachBackend(t, testResumableSessionAndRangedRead)
}

func testResumableSessionAndRangedRead(t *testing.T, on backend) {
	e := newEnv(t, on, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_ARTWORK, Title: "Self-portrait", SizeBytes: int64(len(data)), Sha256: hexSHA(data)}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sess.GetName(), child+"/uploadSessions/") || sess.GetCommittedOffset() != 0 {
		t.Fatalf("session %v", sess)
	}

	// Part one.
	got, err := e.writeSession(ctx, sess.GetName(), 0, data[:1400])
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCommittedOffset() != 1400 {
		t.Fatalf("committed %d after part one, want 1400", got.GetCommittedOffset())
	}

	// A stream that drops mid-way: some bytes sent, then the connection goes.
	dropCtx, drop := context.WithCancel(ctx)
	stream, err := e.client.WriteUploadSession(dropCtx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{Start: &mediav1.WriteStart{Name: sess.GetName(), Offset: 1400}}})
	_ = stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: data[1400:2000]}})
	time.Sleep(100 * time.Millisecond)
	drop()

	// GetUploadSession says where to continue: after part one, plus the
	// dropped chunk if the server committed it before the drop.
	var cur *mediav1.UploadSession
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, err = e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		off := cur.GetCommittedOffset()
		if off != 1400 && off != 2000 {
			t.Fatalf("committed offset %d after the drop, want 1400 or 2000", off)
		}
		// A write from the wrong offset is refused with the right one; ABORTED
		// means the dropped write has not ended on the server yet.
		_, err = e.writeSession(ctx, sess.GetName(), off+5, data[off+5:off+10])
		if status.Code(err) != codes.Aborted || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH)
	off := cur.GetCommittedOffset()

	_, err = e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_INCOMPLETE)

	if got, err = e.writeSession(ctx, sess.GetName(), off, data[off:]); err != nil {
		t.Fatal(err)
	}
	if got.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("committed %d, want %d", got.GetCommittedOffset(), len(data))
	}
	it, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if it.GetOriginalSha256() != hexSHA(data) || it.GetKind() != mediav1.MediaKind_MEDIA_KIND_ARTWORK || it.GetTitle() != "Self-portrait" {
		t.Errorf("item %v", it)
	}
	// A finished session names its item, so a client that lost the answer
	// learns it; finishing again gives the same item; it takes no bytes.
	done, err := e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
	if err != nil || done.GetMediaItem() != it.GetName() || done.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("finished session: %v, %v; want media_item %s", done, err, it.GetName())
	}
	again, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil || again.GetName() != it.GetName() {
		t.Fatalf("second finish: %v, %v; want %s", again, err, it.GetName())
	}
	_, err = e.writeSession(ctx, sess.GetName(), int64(len(data)), []byte("more"))
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_FINISHED)

	// Ranged reads return exactly the requested bytes.
	_, full, err := e.readAll(ctx, it.GetName(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, part, err := e.readAll(ctx, it.GetName(), "", 100, 200)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, full[100:300]) {
		t.Errorf("range 100+200: got %d bytes, not the stored ones", len(part))
	}
	if first.GetName() != it.GetName() {
		t.Errorf("first message carries %q", first.GetName())
	}
	_, tail, err := e.readAll(ctx, it.GetName(), "", int64(len(full))-10, 1000)
	if err != nil || !bytes.Equal(tail, full[len(full)-10:]) {
		t.Errorf("tail read: %d bytes, %v", len(tail), err)
	}
	_, _, err = e.readAll(ctx, it.GetName(), "", int64(len(full))+1, 0)
	wantCode(t, err, codes.OutOfRange, noReason)

	// Cancel removes a session and its bytes.
	s2, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{Parent: child, SizeBytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: s2.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: s2.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
	e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	if n := countFiles(t, e.tempDir); n != 0 {
		t.Errorf("%d files left in the temp dir", n)
	}
}

func TestUpdateDeleteList(t *testing.T) { onEachBackend(t, testUpdateDeleteList) }

func testUpdateDeleteList(t *testing.T, on backend) {
	e := newEnv(t, on, nil)
	ctx := e.as(t, "carol")
	var names []string
	// The third, a picture of a worksheet, is filed as a document.
	kinds := []mediav1.MediaKind{0, 0, mediav1.MediaKind_MEDIA_KIND_DOCUMENT}
	for i, f := range []string{"plain.jpg", "plain.gif", "taken.jpg"} {
		data := readFile(t, "ingest/testdata/"+f)
		it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data)), Kind: kinds[i]}, data, 100)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, it.GetName())
	}
	// Pages of 2, newest first.
	p1, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child, PageSize: 2})
	if err != nil || len(p1.GetMediaItems()) != 2 || p1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v %v", p1, err)
	}
	p2, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child, PageSize: 2, PageToken: p1.GetNextPageToken()})
	if err != nil || len(p2.GetMediaItems()) != 1 || p2.GetNextPageToken() != "" {
		t.Fatalf("page 2: %v %v", p2, err)
	}
	if p2.GetMediaItems()[0].GetName() != names[0] || p1.GetMediaItems()[0].GetName() != names[2] {
		t.Errorf("order: %s ... %s", p1.GetMediaItems()[0].GetName(), p2.GetMediaItems()[0].GetName())
	}
	docs, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_DOCUMENT})
	if err != nil || len(docs.GetMediaItems()) != 1 || docs.GetMediaItems()[0].GetName() != names[2] {
		t.Errorf("documents: %v %v", docs, err)
	}
	_, err = e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_PHOTO, PageToken: p1.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument, noReason)

	// Processing changes the item (and its etag): let it finish first.
	for _, n := range names {
		e.waitState(t, ctx, n, mediav1.MediaState_MEDIA_STATE_READY)
	}
	it, err := e.client.GetMediaItem(ctx, &mediav1.GetMediaItemRequest{Name: names[0]})
	if err != nil {
		t.Fatal(err)
	}
	upd, err := e.client.UpdateMediaItem(ctx, &mediav1.UpdateMediaItemRequest{
		MediaItem:  &mediav1.MediaItem{Name: names[0], Title: "Drawing", Kind: mediav1.MediaKind_MEDIA_KIND_ARTWORK, Etag: it.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "kind"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetTitle() != "Drawing" || upd.GetKind() != mediav1.MediaKind_MEDIA_KIND_ARTWORK || upd.GetEtag() == it.GetEtag() {
		t.Errorf("updated: %v", upd)
	}
	_, err = e.client.UpdateMediaItem(ctx, &mediav1.UpdateMediaItemRequest{
		MediaItem: &mediav1.MediaItem{Name: names[0], Caption: "stale", Etag: it.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"caption"}}})
	wantCode(t, err, codes.Aborted, noReason)
	_, err = e.client.UpdateMediaItem(ctx, &mediav1.UpdateMediaItemRequest{
		MediaItem: &mediav1.MediaItem{Name: names[0], Kind: mediav1.MediaKind_MEDIA_KIND_VIDEO}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"kind"}}})
	wantCode(t, err, codes.InvalidArgument, noReason)

	_, err = e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: names[0], Etag: it.GetEtag()})
	wantCode(t, err, codes.Aborted, noReason)
	if _, err := e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: names[0], Etag: upd.GetEtag()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetMediaItem(ctx, &mediav1.GetMediaItemRequest{Name: names[0]})
	wantCode(t, err, codes.NotFound, noReason)
}

// TestTakenTime checks that the job reads when a picture or film was taken
// from the stored bytes, and that location removal left that in place.
func TestTakenTime(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	want := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC)
	for _, file := range []string{"taken.jpg", "taken.mp4", "plain.jpg"} {
		data := readFile(t, "ingest/testdata/"+file)
		it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 1000)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if it.GetTakenTime() != nil {
			t.Errorf("%s: taken time %v before processing; it is read by the job", file, it.GetTakenTime().AsTime())
		}
		ready := e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
		switch got := ready.GetTakenTime(); {
		case file == "plain.jpg" && got != nil:
			t.Errorf("%s: taken time %v from a file that does not say", file, got.AsTime())
		case file != "plain.jpg" && (got == nil || !got.AsTime().Equal(want)):
			t.Errorf("%s: taken time %v, want %v", file, got.AsTime(), want)
		}
	}
}

// TestLargestChunk sends a session write of one chunk as large as the
// contract allows (4 MiB): the message around it must fit too.
func TestLargestChunk(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := make([]byte, 4<<20)
	copy(data, readFile(t, "ingest/testdata/plain.jpg"))
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := e.client.WriteUploadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{Start: &mediav1.WriteStart{Name: sess.GetName()}}}); err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: data}})
	got, err := stream.CloseAndRecv()
	if err != nil || got.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("one 4 MiB chunk: %v, %v", got, err)
	}
}

// TestSessionBytesLost: a session whose bytes vanished (its file and its
// parts in the blob store: a hand-cleaned directory and bucket) is not
// resumed into zeros: it is dropped, and the client hears NOT_FOUND and
// starts over.
func TestSessionBytesLost(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/plain.jpg")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, sess.GetName(), 0, data); err != nil {
		t.Fatal(err)
	}
	id := sess.GetName()[strings.LastIndex(sess.GetName(), "/")+1:]
	if err := os.Remove(filepath.Join(e.tempDir, "upload-"+id)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(e.blobDir, "uploads", id)); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
	_, err = e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
	if n := countFiles(t, e.tempDir); n != 0 {
		t.Errorf("%d files in the upload directory, want none", n)
	}

	// A finished session has no bytes either, by design: cancelling it
	// forgets the session and keeps the item.
	s2, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, s2.GetName(), 0, data); err != nil {
		t.Fatal(err)
	}
	it, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: s2.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: s2.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetMediaItem(ctx, &mediav1.GetMediaItemRequest{Name: it.GetName()}); err != nil {
		t.Fatalf("the item after cancelling its finished session: %v", err)
	}
}

// TestCleanUploadStoredAsIs: an upload that holds nothing the rebuild
// leaves out is stored byte for byte, under the hash taken while it was
// received.
func TestCleanUploadStoredAsIs(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 100)
	if err != nil {
		t.Fatal(err)
	}
	if it.GetContentSha256() != hexSHA(data) || it.GetOriginalSha256() != hexSHA(data) || it.GetSizeBytes() != int64(len(data)) {
		t.Errorf("item %v; the upload hashes to %s", it, hexSHA(data))
	}
	if _, stored, err := e.readAll(ctx, it.GetName(), "", 0, 0); err != nil || !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes (%v), not the upload", len(stored), err)
	}
}

// TestRebuildSettings: a file the rebuild cannot read through is refused
// as MALFORMED, saying why (in the message and the ErrorInfo), and
// --keep-location (Config.KeepLocation) stores a photo's GPS position while
// still dropping its XMP.
func TestRebuildSettings(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	jpg := readFile(t, "ingest/testdata/plain.jpg")
	cut := jpg[:len(jpg)-2] // no end marker
	_, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(cut))}, cut, 100)
	wantCode(t, err, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_MALFORMED)
	var why string
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			why = info.GetMetadata()["reason"]
		}
	}
	if !strings.Contains(why, "end marker") || !strings.Contains(status.Convert(err).Message(), why) {
		t.Errorf("refusal %v says why %q", err, why)
	}

	keep := newEnv(t, sqliteLocal, func(c *Config) { c.KeepLocation = true })
	ctx = keep.as(t, "carol")
	gps := readFile(t, "ingest/testdata/gps.jpg")
	it, err := keep.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(gps))}, gps, 100)
	if err != nil {
		t.Fatal(err)
	}
	_, stored, err := keep.readAll(ctx, it.GetName(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(stored, []byte("Exif\x00\x00"))
	if i < 0 || !mediacheck.GPSLinked(stored[i+6:]) {
		t.Error("with KeepLocation the stored photo has no GPS directory")
	}
	if bytes.Contains(stored, []byte("xmpmeta")) || bytes.Contains(stored, []byte("Paris")) {
		t.Error("with KeepLocation the stored photo kept XMP or IPTC")
	}
}

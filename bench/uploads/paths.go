package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	mediaupload "github.com/kinbridge/kinbridge/pkg/upload"
)

// Paths, by their -paths name.
const (
	pathTus        = "tus"         // tus 1.0 on the gateway, one PATCH
	pathTusChunked = "tus-chunked" // tus 1.0 on the gateway, PATCHes of -tus-chunk bytes
	pathSession    = "session"     // media gRPC: CreateUploadSession, WriteUploadSession, FinishUploadSession
	pathREST       = "rest"        // POST /v1/{child}/media:upload on the gateway, the raw body
	pathStream     = "stream"      // media gRPC: UploadMedia, one client stream
)

var allPaths = []string{pathTus, pathTusChunked, pathSession, pathREST, pathStream}

// uploadConfig are the knobs of the paths.
type uploadConfig struct {
	tusChunk  int64 // bytes per PATCH of tus-chunked
	grpcChunk int   // bytes per gRPC message
}

// label says what a path sends, for the results.
func label(p string, c uploadConfig) string {
	switch p {
	case pathTus:
		return "tus, 1 PATCH"
	case pathTusChunked:
		return fmt.Sprintf("tus, %s PATCHes", sizeName(c.tusChunk))
	case pathSession:
		return fmt.Sprintf("gRPC session, %s msgs", sizeName(int64(c.grpcChunk)))
	case pathREST:
		return "REST media:upload"
	case pathStream:
		return fmt.Sprintf("gRPC UploadMedia, %s msgs", sizeName(int64(c.grpcChunk)))
	}
	return p
}

// target is what an upload goes to: a server with a child, and the token
// of a contributor of that child.
type target struct {
	gateway string // host:port
	media   mediav1.MediaServiceClient
	child   string // children/{child}
	token   string
}

// outcome is one upload.
type outcome struct {
	item     string        // children/{child}/media/{media}
	requests int           // HTTP requests or gRPC calls that carried bytes
	create   time.Duration // creating the upload (tus POST, CreateUploadSession), before the first byte
	first    time.Time     // when the first byte was sent
	sent     time.Time     // when the client handed over its last byte (gRPC session: when every byte was committed)
	done     time.Time     // when the item was returned
}

// upload sends file through path p.
func upload(ctx context.Context, p string, t *target, f *testFile, c uploadConfig) (outcome, error) {
	switch p {
	case pathTus:
		return uploadTus(ctx, t, f, f.size)
	case pathTusChunked:
		return uploadTus(ctx, t, f, c.tusChunk)
	case pathSession:
		return uploadSession(ctx, t, f, c.grpcChunk)
	case pathREST:
		return uploadREST(ctx, t, f)
	case pathStream:
		return uploadStream(ctx, t, f, c.grpcChunk)
	}
	return outcome{}, fmt.Errorf("unknown path %q", p)
}

// httpClient carries the REST uploads; no client-side timeout, the run's
// context bounds them.
var httpClient = &http.Client{Transport: &http.Transport{
	DialContext:        (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	DisableCompression: true,
	WriteBufferSize:    256 << 10,
	ReadBufferSize:     64 << 10,
}}

// timedBody is a request body that notes when its last byte was handed to
// the HTTP client.
type timedBody struct {
	r    io.Reader
	left int64
	last atomic.Int64 // nanoseconds since began, once left is 0
	at   time.Time
}

func newTimedBody(r io.Reader, n int64, began time.Time) *timedBody {
	return &timedBody{r: r, left: n, at: began}
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left -= int64(n); b.left == 0 && n > 0 {
		b.last.Store(int64(time.Since(b.at)))
	}
	return n, err
}

// done is when the last byte was handed over, since began; 0 if never.
func (b *timedBody) done() time.Duration { return time.Duration(b.last.Load()) }

// call sends one HTTP request and returns its response with the body (up
// to 64 KiB) read.
func call(ctx context.Context, method, u, token string, body io.Reader, size int64, headers ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the response: %w", method, u, err)
	}
	return resp, b, nil
}

func tusMetadata(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(out, ",")
}

// uploadTus creates a tus upload on the gateway and PATCHes the file in
// pieces of chunk bytes (one PATCH when chunk is the file's size). The
// PATCH that completes the upload also finishes it: its response names
// the item (Kinbridge-Media-Item).
func uploadTus(ctx context.Context, t *target, f *testFile, chunk int64) (outcome, error) {
	var o outcome
	began := time.Now()
	resp, body, err := call(ctx, http.MethodPost, "http://"+t.gateway+"/v1/uploads/", t.token, nil, 0,
		"Tus-Resumable", "1.0.0", "Upload-Length", strconv.FormatInt(f.size, 10),
		"Upload-Metadata", tusMetadata("child", t.child, "filename", "bench.mp4", "title", "Upload benchmark"))
	if err != nil {
		return o, err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return o, fmt.Errorf("tus create: %s %s", resp.Status, body)
	}
	base, _ := url.Parse("http://" + t.gateway + "/v1/uploads/")
	locURL, err := base.Parse(loc)
	if err != nil {
		return o, fmt.Errorf("tus create: Location %q: %w", loc, err)
	}
	o.create = time.Since(began)

	file, err := os.Open(f.path)
	if err != nil {
		return o, err
	}
	defer file.Close()
	began = time.Now()
	o.first = began
	for off := int64(0); off < f.size; {
		end := min(off+chunk, f.size)
		b := newTimedBody(io.NewSectionReader(file, off, end-off), end-off, began)
		resp, body, err := call(ctx, http.MethodPatch, locURL.String(), t.token, b, end-off,
			"Tus-Resumable", "1.0.0", "Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.FormatInt(off, 10))
		if err != nil {
			return o, err
		}
		o.requests++
		if resp.StatusCode != http.StatusNoContent {
			return o, fmt.Errorf("tus PATCH at %d: %s %s", off, resp.Status, body)
		}
		if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(end, 10) {
			return o, fmt.Errorf("tus PATCH at %d: Upload-Offset %q, want %d", off, got, end)
		}
		if end == f.size {
			o.done = time.Now()
			o.sent = began.Add(b.done())
			o.item = resp.Header.Get("Kinbridge-Media-Item")
			if o.item == "" {
				return o, errors.New("the PATCH that completed the upload named no item (Kinbridge-Media-Item)")
			}
		}
		off = end
	}
	return o, nil
}

// uploadREST posts the file as the raw body of one request.
func uploadREST(ctx context.Context, t *target, f *testFile) (outcome, error) {
	var o outcome
	file, err := os.Open(f.path)
	if err != nil {
		return o, err
	}
	defer file.Close()
	q := url.Values{"filename": {"bench.mp4"}, "title": {"Upload benchmark"}}
	began := time.Now()
	o.first = began
	b := newTimedBody(file, f.size, began)
	resp, body, err := call(ctx, http.MethodPost, "http://"+t.gateway+"/v1/"+t.child+"/media:upload?"+q.Encode(), t.token, b, f.size,
		"Content-Type", "application/octet-stream")
	if err != nil {
		return o, err
	}
	o.done, o.sent, o.requests = time.Now(), began.Add(b.done()), 1
	if resp.StatusCode != http.StatusOK {
		return o, fmt.Errorf("media:upload: %s %s", resp.Status, body)
	}
	var it struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &it); err != nil || it.Name == "" {
		return o, fmt.Errorf("media:upload: no item in %q", body)
	}
	o.item = it.Name
	return o, nil
}

// grpcDial connects to media without TLS, as everything here is loopback.
func grpcDial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func (t *target) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.token)
}

func (t *target) metadata(f *testFile) *mediav1.UploadMetadata {
	return &mediav1.UploadMetadata{Parent: t.child, Filename: "bench.mp4", Title: "Upload benchmark", SizeBytes: f.size}
}

// uploadSession creates a resumable session, writes every byte in one
// WriteUploadSession stream (pkg/upload's, as the SDK and the gateway
// send), and finishes it.
func uploadSession(ctx context.Context, t *target, f *testFile, chunk int) (outcome, error) {
	var o outcome
	began := time.Now()
	sess, err := t.media.CreateUploadSession(t.ctx(ctx), &mediav1.CreateUploadSessionRequest{Metadata: t.metadata(f)})
	if err != nil {
		return o, fmt.Errorf("CreateUploadSession: %w", err)
	}
	o.create = time.Since(began)
	file, err := os.Open(f.path)
	if err != nil {
		return o, err
	}
	defer file.Close()

	o.first = time.Now()
	o.requests = 1
	got, err := mediaupload.WriteSession(t.ctx(ctx), t.media, sess.GetName(), 0, file, make([]byte, chunk), nil)
	if err != nil {
		return o, fmt.Errorf("WriteUploadSession: %w", err)
	}
	if got.GetCommittedOffset() != f.size {
		return o, fmt.Errorf("WriteUploadSession committed %d of %d bytes", got.GetCommittedOffset(), f.size)
	}
	o.sent = time.Now()
	it, err := t.media.FinishUploadSession(t.ctx(ctx), &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		return o, fmt.Errorf("FinishUploadSession: %w", err)
	}
	o.done, o.item = time.Now(), it.GetName()
	return o, nil
}

// uploadStream sends the metadata and every byte in one UploadMedia
// stream; the item is its answer.
func uploadStream(ctx context.Context, t *target, f *testFile, chunk int) (outcome, error) {
	var o outcome
	file, err := os.Open(f.path)
	if err != nil {
		return o, err
	}
	defer file.Close()
	o.first = time.Now()
	stream, err := t.media.UploadMedia(t.ctx(ctx))
	if err != nil {
		return o, fmt.Errorf("UploadMedia: %w", err)
	}
	o.requests = 1
	sendErr := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: t.metadata(f)}})
	if sendErr == nil {
		_, sendErr = mediaupload.Send(file, make([]byte, chunk), func(b []byte) error {
			return stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: b}})
		}, nil)
	}
	o.sent = time.Now()
	it, err := stream.CloseAndRecv() // after a failed Send, this has the server's reason
	if err != nil {
		return o, fmt.Errorf("UploadMedia: %w", err)
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return o, fmt.Errorf("UploadMedia: %w", sendErr)
	}
	o.done, o.item = time.Now(), it.GetName()
	return o, nil
}

// storedItem is the part of an item (GET /v1/{item} on the gateway) that
// the check reads.
type storedItem struct {
	Name           string `json:"name"`
	SizeBytes      string `json:"sizeBytes"`
	ContentType    string `json:"contentType"`
	OriginalSha256 string `json:"originalSha256"`
}

// verify reads the item back and checks that it holds the file.
func verify(ctx context.Context, t *target, f *testFile, item string) (storedItem, error) {
	var it storedItem
	resp, body, err := call(ctx, http.MethodGet, "http://"+t.gateway+"/v1/"+item, t.token, nil, 0)
	if err != nil {
		return it, err
	}
	if resp.StatusCode != http.StatusOK {
		return it, fmt.Errorf("GET %s: %s %s", item, resp.Status, body)
	}
	if err := json.Unmarshal(body, &it); err != nil {
		return it, fmt.Errorf("GET %s: %w", item, err)
	}
	var problems []string
	if it.OriginalSha256 != f.sha256 {
		problems = append(problems, fmt.Sprintf("original_sha256 %s, the file's is %s", it.OriginalSha256, f.sha256))
	}
	if it.SizeBytes != strconv.FormatInt(f.size, 10) {
		problems = append(problems, fmt.Sprintf("size_bytes %s, the file has %d", it.SizeBytes, f.size))
	}
	if it.ContentType != "video/mp4" {
		problems = append(problems, fmt.Sprintf("content_type %q, want video/mp4", it.ContentType))
	}
	if len(problems) > 0 {
		return it, fmt.Errorf("%s does not hold the file: %s", item, strings.Join(problems, "; "))
	}
	return it, nil
}

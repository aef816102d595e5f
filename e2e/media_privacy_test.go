//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/pkg/upload"
)

// The privacy journeys, against a built `kinbridge`: an upload media
// refuses leaves nothing behind, and deleting a child deletes its media,
// even when media is down at the time. Each looks where the bytes live
// (the upload directory, the blob directory or S3 bucket, the media
// database) before and after, and polls until the work is done.

// mediaPlaces is where a suite keeps media: uploads in progress and the
// media database in the data dir, blobs there or in an S3 bucket.
type mediaPlaces struct {
	dataDir string
	blobURL string // "" for the data dir's blobs/
}

// onBlobStores runs journey once with blobs in the data dir and once in a
// fresh S3 bucket (MinIO via pkg/testenv: skipped when unreachable, unless
// KINBRIDGE_TEST_REQUIRE names s3).
func onBlobStores(t *testing.T, journey func(t *testing.T, at mediaPlaces, args []string)) {
	t.Run("local", func(t *testing.T) {
		journey(t, mediaPlaces{dataDir: t.TempDir()}, nil)
	})
	t.Run("s3", func(t *testing.T) {
		u := testenv.S3(t)
		journey(t, mediaPlaces{dataDir: t.TempDir(), blobURL: u}, []string{"--blob-url", u})
	})
}

// uploads lists the files in the upload directory with their sizes.
func (m mediaPlaces) uploads(t *testing.T) map[string]int64 {
	t.Helper()
	return testenv.Files(t, filepath.Join(m.dataDir, "uploads"))
}

// blobs lists the stored blobs: files of the blob directory, or objects
// (and unfinished multipart uploads) of the bucket.
func (m mediaPlaces) blobs(t *testing.T) []string {
	t.Helper()
	if m.blobURL == "" {
		return testenv.Blobs(t, filepath.Join(m.dataDir, "blobs"))
	}
	return testenv.Blobs(t, m.blobURL)
}

// rows counts rows of the media database, those matching where if set.
func (m mediaPlaces) rows(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	return m.rowsOf(t, "media", table, where, args...)
}

// rowsOf counts rows of service's database (progress, media or
// notification), those matching where if set.
func (m mediaPlaces) rowsOf(t *testing.T, service, table, where string, args ...any) int {
	t.Helper()
	return testenv.Rows(t, "sqlite:"+filepath.Join(m.dataDir, service+".db"), table, where, args...)
}

// nothingOfUploads reports what is left of uploads: "" when the upload
// directory, the blob store and the media database hold nothing of them.
func (m mediaPlaces) nothingOfUploads(t *testing.T) string {
	t.Helper()
	if f := m.uploads(t); len(f) != 0 {
		return "upload directory holds " + strings.Join(slices.Sorted(maps.Keys(f)), " ")
	}
	if b := m.blobs(t); len(b) != 0 {
		return "blob store holds " + strings.Join(b, " ")
	}
	for _, table := range []string{"upload_sessions", "media_items", "media_jobs", "blob_pins", "blob_refs"} {
		if n := m.rows(t, table, ""); n != 0 {
			return fmt.Sprintf("%s has %d rows", table, n)
		}
	}
	return ""
}

// testdata reads a sample of the media service's tests.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "services/media/ingest/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tusSend sends one tus request with a body (nil: none); chunked leaves
// out the Content-Length.
func tusSend(t *testing.T, method, loc, token string, body []byte, chunked bool, headers ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
		if chunked {
			rd = bufio.NewReader(rd) // a reader net/http cannot size
		}
	}
	req, err := http.NewRequest(method, loc, rd)
	if err != nil {
		t.Fatal(err)
	}
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refusal is one way media refuses an upload for what it is.
type refusal struct {
	name     string
	data     []byte
	declared int                 // the size declared; 0 for len(data)
	meta     map[string]string   // tus metadata beyond the child
	first    int                 // bytes sent and committed before the refusal
	atFinish bool                // refused when finished, not while sent
	chunked  bool                // tus: the refused PATCH has no Content-Length
	status   int                 // tus: the refusing response
	code     codes.Code          // gRPC: the refusing status
	reason   mediav1.ErrorReason // gRPC: its ErrorInfo reason
}

// TestMediaPrivacyRefusals: for every way media refuses an upload for what
// it is, through tus and through gRPC resumable sessions, the bytes sent
// before the refusal were in the upload directory, and after it nothing of
// the upload is left anywhere, and the upload answers 404 (tus HEAD and
// PATCH) or NOT_FOUND (GetUploadSession, a resumed write).
func TestMediaPrivacyRefusals(t *testing.T) {
	onBlobStores(t, func(t *testing.T, at mediaPlaces, args []string) {
		p := serve(t, at.dataDir, nil, append([]string{"--max-video-bytes", "3000"}, args...)...)
		f := newMediaFamily(t, at.dataDir, p.progress)
		media := mediav1.NewMediaServiceClient(dialGRPC(t, p.media))
		gps, video := testdata(t, "gps.jpg"), testdata(t, "gps.mp4") // gps.mp4 is over the 3000-byte video limit
		html := []byte("<!DOCTYPE html><html><body>" + strings.Repeat("not a photo ", 100) + "</body></html>")
		refusals := []refusal{
			{name: "type not allowed", data: html, meta: map[string]string{"filename": "cat.jpg"}, first: 300,
				status: 415, code: codes.InvalidArgument, reason: mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE},
			{name: "kind that does not fit", data: video, meta: map[string]string{"kind": "photo"}, first: 300,
				status: 400, code: codes.InvalidArgument, reason: mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH},
			{name: "over the limit of the sniffed kind", data: video, first: 300,
				status: 413, code: codes.OutOfRange, reason: mediav1.ErrorReason_ERROR_REASON_TOO_LARGE},
			{name: "bytes past the declared size", data: gps, declared: len(gps) - 10, first: 1000,
				status: 413, code: codes.OutOfRange, reason: mediav1.ErrorReason_ERROR_REASON_TOO_LARGE},
			{name: "chunked bytes past the declared size", data: gps, declared: len(gps) - 10, first: 1000, chunked: true,
				status: 413, code: codes.OutOfRange, reason: mediav1.ErrorReason_ERROR_REASON_TOO_LARGE},
			{name: "wrong sha256", data: gps, meta: map[string]string{"sha256": strings.Repeat("ab", 32)}, first: len(gps), atFinish: true,
				status: 400, code: codes.InvalidArgument, reason: mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH},
			{name: "malformed", data: gps[:len(gps)-2], first: len(gps) - 2, atFinish: true,
				status: 400, code: codes.InvalidArgument, reason: mediav1.ErrorReason_ERROR_REASON_MALFORMED},
		}
		for _, r := range refusals {
			declared := r.declared
			if declared == 0 {
				declared = len(r.data)
			}
			t.Run("tus/"+r.name, func(t *testing.T) {
				pairs := []string{"child", f.child}
				for k, v := range r.meta {
					pairs = append(pairs, k, v)
				}
				resp, body := tusCall(t, "POST", "http://"+p.gateway+"/v1/uploads/", f.teacher, nil, 0,
					"Upload-Length", strconv.Itoa(declared), "Upload-Metadata", tusMeta(pairs...))
				loc := resp.Header.Get("Location")
				if resp.StatusCode != http.StatusCreated || loc == "" {
					t.Fatalf("create: %d %s", resp.StatusCode, body)
				}
				if !strings.HasPrefix(loc, "http") {
					loc = "http://" + p.gateway + loc
				}
				// The upload is sent in two PATCHes; a refusal at finish
				// comes with the second (empty when all bytes came first).
				first := min(r.first, declared-1)
				if code := tusSend(t, "PATCH", loc, f.teacher, r.data[:first], false, "Upload-Offset", "0"); code != http.StatusNoContent {
					t.Fatalf("first PATCH: %d", code)
				}
				if before := at.uploads(t); len(before) != 1 || slices.Collect(maps.Values(before))[0] != int64(first) {
					t.Fatalf("before the refusal the upload directory holds %v, want one file of %d bytes", before, first)
				}
				if code := tusSend(t, "PATCH", loc, f.teacher, r.data[first:], r.chunked, "Upload-Offset", strconv.Itoa(first)); code != r.status {
					t.Fatalf("refused PATCH: %d, want %d", code, r.status)
				}
				if left := at.nothingOfUploads(t); left != "" {
					t.Fatalf("after the refusal: %s", left)
				}
				if code := tusSend(t, "HEAD", loc, f.teacher, nil, false); code != http.StatusNotFound {
					t.Errorf("HEAD after the refusal: %d", code)
				}
				if code := tusSend(t, "PATCH", loc, f.teacher, r.data[first:first+1], false, "Upload-Offset", strconv.Itoa(first)); code != http.StatusNotFound {
					t.Errorf("PATCH after the refusal: %d", code)
				}
			})
			if r.chunked {
				continue // a gRPC write has no Content-Length to leave out
			}
			t.Run("grpc/"+r.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(as(context.Background(), f.teacher), time.Minute)
				defer cancel()
				meta := &mediav1.UploadMetadata{Parent: f.child, SizeBytes: int64(declared), Filename: r.meta["filename"], Sha256: r.meta["sha256"]}
				if k := r.meta["kind"]; k != "" {
					meta.Kind = mediav1.MediaKind(mediav1.MediaKind_value["MEDIA_KIND_"+strings.ToUpper(k)])
				}
				sess, err := media.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: meta})
				if err != nil {
					t.Fatal(err)
				}
				if got, err := grpcWrite(ctx, media, sess.GetName(), 0, r.data[:r.first]); err != nil || got != int64(r.first) {
					t.Fatalf("first write: %d, %v", got, err)
				}
				if before := at.uploads(t); len(before) != 1 || slices.Collect(maps.Values(before))[0] != int64(r.first) {
					t.Fatalf("before the refusal the upload directory holds %v, want one file of %d bytes", before, r.first)
				}
				if r.atFinish {
					_, err = media.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
				} else {
					_, err = grpcWrite(ctx, media, sess.GetName(), int64(r.first), r.data[r.first:])
				}
				if status.Code(err) != r.code || errinfo.MediaReason(err) != r.reason {
					t.Fatalf("refusal: %v, want %v %s", err, r.code, r.reason)
				}
				if left := at.nothingOfUploads(t); left != "" {
					t.Fatalf("after the refusal: %s", left)
				}
				if _, err := media.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()}); status.Code(err) != codes.NotFound {
					t.Errorf("GetUploadSession after the refusal: %v", err)
				}
				if _, err := grpcWrite(ctx, media, sess.GetName(), int64(r.first), r.data[:1]); status.Code(err) != codes.NotFound {
					t.Errorf("resuming after the refusal: %v", err)
				}
			})
		}
	})
}

// grpcWrite writes data into a session from offset, in messages of 1000
// bytes, and returns the committed offset.
func grpcWrite(ctx context.Context, media mediav1.MediaServiceClient, name string, offset int64, data []byte) (int64, error) {
	sess, err := upload.WriteSession(ctx, media, name, offset, bytes.NewReader(data), make([]byte, 1000), nil)
	return sess.GetCommittedOffset(), err
}

// deletionFixture is a child with media of every kind, and another child
// holding the same photo, in one suite.
type deletionFixture struct {
	gone, kept mediaFamily
	keptItem   string
	keptBlobs  []string
	upload     string // the open tus upload of the child to delete
}

// newDeletionFixture uploads, for the kept child, a photo (waiting until
// its thumbnails are made, then taking the blob store's listing as what
// must stay); for the other, the same photo, a video through tus, and half
// of a photo through a tus upload left open, and records an assessment and
// a milestone, which its teacher follows.
func newDeletionFixture(t *testing.T, at mediaPlaces, gateway, progressAddr string) deletionFixture {
	t.Helper()
	fx := deletionFixture{gone: newMediaFamily(t, at.dataDir, progressAddr), kept: newMediaFamily(t, at.dataDir, progressAddr)}
	photo := testdata(t, "gps.jpg")
	upload := func(f mediaFamily, data []byte) string {
		code, body := restUpload(t, gateway, f.teacher, f.child, "", "", data)
		if code != http.StatusOK {
			t.Fatalf("upload for %s: %d %s", f.child, code, body)
		}
		var it restItem
		if err := json.Unmarshal(body, &it); err != nil {
			t.Fatal(err)
		}
		return it.Name
	}
	fx.keptItem = upload(fx.kept, photo)
	waitReady(t, gateway, fx.kept.teacher, fx.keptItem)
	fx.keptBlobs = at.blobs(t)
	waitReady(t, gateway, fx.gone.teacher, upload(fx.gone, photo))
	video := tusUpload(t, gateway, fx.gone.teacher, fx.gone.child, filepath.Join(repoRoot, "services/media/ingest/testdata/gps.mp4"))
	waitReady(t, gateway, fx.gone.teacher, video)
	fx.upload = tusCreateFile(t, gateway, fx.gone.teacher, fx.gone.child, "half.jpg", int64(len(photo)))
	if code := tusSend(t, "PATCH", fx.upload, fx.gone.teacher, photo[:2000], false, "Upload-Offset", "0"); code != http.StatusNoContent {
		t.Fatalf("PATCH of the open upload: %d", code)
	}
	if f := at.uploads(t); len(f) != 1 {
		t.Fatalf("upload directory before the deletion: %v", f)
	}
	if n := at.rows(t, "media_items", "child_id = $1", childID(fx.gone.child)); n != 2 {
		t.Fatalf("%d items of the child before the deletion", n)
	}
	if b := at.blobs(t); len(b) <= len(fx.keptBlobs) {
		t.Fatalf("the video added no blobs: %v", b)
	}
	// What else is kept of the child: records, a follower's settings, and
	// the notifications of all the above.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	progress := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	if _, err := progress.CreateAssessment(as(ctx, fx.gone.teacher), &progressv1.CreateAssessmentRequest{Parent: fx.gone.child,
		Assessment: &progressv1.Assessment{Subject: "Art", Title: "Clay", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_PROJECT,
			AssessedDate: "2026-11-30", Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 8, Possible: 10}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := progress.CreateMilestone(as(ctx, fx.gone.teacher), &progressv1.CreateMilestoneRequest{Parent: fx.gone.child,
		Milestone: &progressv1.Milestone{Title: "Rode a bike", Category: progressv1.MilestoneCategory_MILESTONE_CATEGORY_SOCIAL, AchievedDate: "2026-11-29"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := progress.UpdateGradingScale(as(ctx, fx.gone.admin), &progressv1.UpdateGradingScaleRequest{GradingScale: &progressv1.GradingScale{
		Name: fx.gone.child + "/gradingScale", Grades: []*progressv1.GradeMapping{{Letter: "A", Percent: 90}, {Letter: "B", Percent: 0}}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := apiCall(t, gateway, "POST", "/v1/users/me/subscriptions", fx.gone.teacher, "application/json",
		[]byte(`{"child":"`+fx.gone.child+`"}`)); code != http.StatusOK {
		t.Fatalf("subscribing: %d %s", code, body)
	}
	id := childID(fx.gone.child)
	for _, table := range []string{"children", "guardianships", "assessments", "milestones", "grading_scales"} {
		column := "child_id"
		if table == "children" {
			column = "id"
		}
		if n := at.rowsOf(t, "progress", table, column+" = $1", id); n == 0 {
			t.Fatalf("progress has no %s of the child before the deletion", table)
		}
	}
	if n := at.rowsOf(t, "notification", "subscriptions", "child_id = $1", id); n != 1 {
		t.Fatalf("%d subscriptions to the child before the deletion", n)
	}
	testenv.Eventually(t, "notifications of the child's records", func() string {
		if n := at.rowsOf(t, "notification", "notifications", "child_id = $1", id); n < 2 {
			return fmt.Sprintf("%d notifications of the child", n)
		}
		return ""
	})
	return fx
}

func childID(name string) string { return strings.TrimPrefix(name, "children/") }

// deleteChild deletes the child over REST as its admin.
func (fx deletionFixture) deleteChild(t *testing.T, gateway string) {
	t.Helper()
	if code, body := apiCall(t, gateway, "DELETE", "/v1/"+fx.gone.child, fx.gone.admin, "", nil); code != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s", fx.gone.child, code, body)
	}
}

// waitGone polls until nothing of the deleted child is left and the other
// child's photo is whole.
func (fx deletionFixture) waitGone(t *testing.T, at mediaPlaces, gateway string) {
	t.Helper()
	id := childID(fx.gone.child)
	testenv.Eventually(t, "the deleted child's media", func() string {
		if f := at.uploads(t); len(f) != 0 {
			return "upload directory holds " + strings.Join(slices.Sorted(maps.Keys(f)), " ")
		}
		if b := at.blobs(t); !slices.Equal(b, fx.keptBlobs) {
			return "blob store holds " + strings.Join(b, " ") + "; want only the other child's " + strings.Join(fx.keptBlobs, " ")
		}
		for _, table := range []string{"media_items", "upload_sessions", "media_jobs"} {
			if n := at.rows(t, table, "child_id = $1", id); n != 0 {
				return fmt.Sprintf("%s has %d rows of the child", table, n)
			}
		}
		if n := at.rows(t, "blob_refs", ""); n != len(fx.keptBlobs) {
			return fmt.Sprintf("blob_refs has %d rows for %d blobs", n, len(fx.keptBlobs))
		}
		if n := at.rows(t, "blob_pins", ""); n != 0 {
			return fmt.Sprintf("blob_pins has %d rows", n)
		}
		for _, table := range []string{"children", "guardianships", "assessments", "milestones", "grading_scales"} {
			column := "child_id"
			if table == "children" {
				column = "id"
			}
			if n := at.rowsOf(t, "progress", table, column+" = $1", id); n != 0 {
				return fmt.Sprintf("progress's %s has %d rows of the child", table, n)
			}
		}
		if n := at.rowsOf(t, "progress", "outbox_messages", ""); n != 0 {
			return fmt.Sprintf("progress's outbox still holds %d messages", n)
		}
		for _, table := range []string{"notifications", "subscriptions"} {
			if n := at.rowsOf(t, "notification", table, "child_id = $1", id); n != 0 {
				return fmt.Sprintf("notification's %s has %d rows of the child", table, n)
			}
		}
		return ""
	})
	if n := at.rowsOf(t, "notification", "notifications", "child_id = $1", childID(fx.kept.child)); n == 0 {
		t.Error("the other child's notifications went too")
	}
	if code := tusSend(t, "HEAD", fx.upload, fx.gone.teacher, nil, false); code != http.StatusNotFound {
		t.Errorf("HEAD of the deleted child's upload: %d", code)
	}
	if sum, _ := contentSHA256(t, gateway, fx.kept.teacher, fx.keptItem); sum == "" {
		t.Error("the other child's photo is unreadable")
	}
	if code, _ := apiCall(t, gateway, "GET", "/v1/"+fx.keptItem+":content?thumbnail=small", fx.kept.teacher, "", nil); code != http.StatusOK {
		t.Errorf("the other child's thumbnail: %d", code)
	}
}

// TestMediaPrivacyDeleteChild: deleting a child over REST deletes its
// photo, its video, their thumbnails and its open upload from the upload
// directory, the blob store and the media database; its records and
// guardianships from progress's database; its notifications and
// subscriptions from notification's. The same photo uploaded for another
// child stays, and so do that child's notifications.
func TestMediaPrivacyDeleteChild(t *testing.T) {
	onBlobStores(t, func(t *testing.T, at mediaPlaces, args []string) {
		p := serve(t, at.dataDir, nil, args...)
		fx := newDeletionFixture(t, at, p.gateway, p.progress)
		fx.deleteChild(t, p.gateway)
		fx.waitGone(t, at, p.gateway)
	})
}

// TestMediaPrivacyDeletionOutlivesMediaOutage: with the services in
// processes of their own, a child deleted while media is down is deleted
// from media once it is back: progress's outbox keeps the deletion and
// retries it (progress reaches media at --media-addr).
func TestMediaPrivacyDeletionOutlivesMediaOutage(t *testing.T) {
	at := mediaPlaces{dataDir: t.TempDir()}
	progressAddr, mediaAddr, notificationAddr, progressMetrics := freePort(t), freePort(t), freePort(t), freePort(t)
	start(t, "progress", at.dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", notificationAddr,
		"--media-addr", mediaAddr, "--metrics-listen", progressMetrics)
	start(t, "notification", at.dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")
	startMedia := func() *process {
		return start(t, "media", at.dataDir, nil, "--media-listen", mediaAddr, "--progress-addr", progressAddr,
			"--notification-addr", notificationAddr, "--metrics-listen", "")
	}
	media := startMedia()
	gw := start(t, "gateway", at.dataDir, nil, "--gateway-listen", "127.0.0.1:0", "--progress-addr", progressAddr,
		"--media-addr", mediaAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	fx := newDeletionFixture(t, at, gw.gateway, progressAddr)

	media.stop(t)
	failed := outboxFailures(t, progressMetrics)
	fx.deleteChild(t, gw.gateway)
	// Progress tries, and fails, to tell media.
	testenv.Eventually(t, "a failed delivery to media", func() string {
		if n := outboxFailures(t, progressMetrics); n <= failed {
			return fmt.Sprintf("%v failed deliveries, as before the deletion", n)
		}
		return ""
	})
	if n := at.rows(t, "media_items", "child_id = $1", childID(fx.gone.child)); n != 2 {
		t.Fatalf("media down, yet %d items of the child are left", n)
	}
	startMedia()
	fx.waitGone(t, at, gw.gateway)
}

// outboxFailures reads progress's failed outbox deliveries from its
// metrics.
func outboxFailures(t *testing.T, metricsAddr string) float64 {
	t.Helper()
	n, _ := metricValue(t, metricsAddr, "kinbridge_outbox_deliveries_total", "kinbridge_outbox_name", "progress", "kinbridge_outbox_outcome", "failed")
	return n
}

//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tusChunk is what one PATCH carries: the gateway hands each PATCH's body
// to media as one message, which media commits as one part.
const tusChunk = 256 << 10

// uploadMediaHostDies sends the first half of a photo by tus through gw1,
// kills every process of the media host that holds the upload (each media
// host has a private upload directory), then asks gw2 where the upload
// stands: it must stand exactly at the last offset acknowledged. The rest
// goes through gw2 from there, to the surviving media instance, which
// rebuilds the bytes from the parts in MinIO. The item must become READY
// with thumbnails, its original_sha256 must be the photo's, uploading the
// photo again must answer with the same item (media keeps one item per
// bytes), and the survivor's upload directory must keep nothing of the
// session. The killed host is restarted afterwards.
func uploadMediaHostDies(t *testing.T, ctx context.Context, c *Cluster, a *api) {
	photo := noisyJPEG(t)
	size := int64(len(photo))
	sum := sha256.Sum256(photo)
	want := hex.EncodeToString(sum[:])
	child := a.family(ctx)
	u := &tusUpload{t: t, a: a, photo: photo}

	create, body := u.do(ctx, a.gws[0], http.MethodPost, "/v1/uploads/", nil,
		"Upload-Length", strconv.FormatInt(size, 10),
		"Upload-Metadata", tusMetadata("child", child, "filename", "noise.jpg", "title", "Noise", "kind", "photo"))
	loc := create.Header.Get("Location")
	i := strings.Index(loc, "/v1/uploads/")
	if create.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("tus create: %d %v %s", create.StatusCode, create.Header, body)
	}
	u.path = loc[i:]
	_, sess, _ := strings.Cut(strings.TrimPrefix(u.path, "/v1/uploads/"), ".")

	chunks := (size + tusChunk - 1) / tusChunk
	half := chunks / 2 * tusChunk
	u.send(ctx, a.gws[0], 0, half)

	// The media host to kill is the one whose upload directory holds the
	// session's file; both may (round robin spreads PATCHes), and then
	// media1 goes: the other must carry on alone either way.
	uploadFile := func(host string) string {
		return filepath.Join(c.cfg.Dir, "hosts", host, "uploads", "upload-"+sess)
	}
	var holders []string
	for _, h := range []string{"media1", "media2"} {
		if _, err := os.Stat(uploadFile(h)); err == nil {
			holders = append(holders, h)
		}
	}
	victim, survivor := "media1", "media2"
	if len(holders) == 1 && holders[0] == "media2" {
		victim, survivor = "media2", "media1"
	}
	c.KillHost(ctx, victim)
	t.Logf("sent %d of %d bytes (%d PATCHes of %d KiB) through gw1; the session's file was on %v; killed every process of %s",
		half, size, half/tusChunk, tusChunk>>10, holders, victim)
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			if err := c.Restart(context.WithoutCancel(ctx), victim); err != nil {
				t.Errorf("restarting %s: %v", victim, err)
			}
		}
	}
	defer restart()

	off := u.head(ctx, a.gws[1])
	if off != half {
		t.Fatalf("after %s died, gw2 says %d bytes are committed; %d were acknowledged and nothing more was sent", victim, off, half)
	}
	item := u.send(ctx, a.gws[1], off, size)
	if item == "" {
		t.Fatal("the finishing PATCH named no item")
	}
	t.Logf("the rest went through gw2 from offset %d to %s alone (%d PATCHes resent after a failure); item %s", off, survivor, u.retries, item)

	// Finishing removed the bytes the survivor kept (markFinished), before
	// it answered.
	if _, err := os.Stat(uploadFile(survivor)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s's upload directory still holds the finished session's file (%v)", survivor, err)
	}

	got := waitReady(t, ctx, a, item)
	if got["originalSha256"] != want {
		t.Errorf("the item's original_sha256 is %v, the photo's %s: the bytes were not kept as sent", got["originalSha256"], want)
	}
	if got["contentType"] != "image/jpeg" {
		t.Errorf("the item's content type is %v, want image/jpeg", got["contentType"])
	}
	again := u.uploadWhole(ctx, a.gws[0], child)
	if again != item {
		t.Errorf("the same photo uploaded again in one request became %s, not %s: the resumed upload's bytes differ", again, item)
	}
	restart()
	backInRotation(t, ctx, c, a, victim, item)
}

// backInRotation waits until both gateways send calls to host again: each
// gateway's channel retries a dead instance with a growing backoff, and
// the next steps (the slowed hop on media1) need both instances in use.
// It reads item through one gateway at a time until host's count of
// GetMediaItem calls served grows, for up to a minute per gateway.
func backInRotation(t *testing.T, ctx context.Context, c *Cluster, a *api, host, item string) {
	t.Helper()
	scheme, _, _ := strings.Cut(a.gws[0], "://")
	metrics := scheme + "://" + c.Addr(host, portMetrics) + "/metrics"
	served := func() int {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, metrics, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.http.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", metrics, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "rpc_server_call_duration_seconds_count{") &&
				strings.Contains(line, `rpc_method="kinbridge.media.v1.MediaService/GetMediaItem"`) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += int(v)
			}
		}
		return n
	}
	start := time.Now()
	defer func() {
		t.Logf("both gateways call %s again %s after its restart", host, time.Since(start).Round(100*time.Millisecond))
	}()
	for i, gw := range a.gws {
		deadline := time.Now().Add(time.Minute)
		for {
			before := served()
			for range 4 { // round robin: two of them to host once it is back
				a.must(ctx, gw, "GET", "/v1/"+item, a.teacher, nil)
			}
			if served() > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gw%d sent no call to %s for a minute after it restarted", i+1, host)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// waitReady polls item until it is READY with thumbnails, up to 2 minutes.
func waitReady(t *testing.T, ctx context.Context, a *api, item string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := a.must(ctx, a.gws[1], "GET", "/v1/"+item, a.teacher, nil)
		thumbs, _ := got["thumbnails"].([]any)
		switch {
		case got["state"] == "MEDIA_STATE_READY" && len(thumbs) > 0:
			return got
		case got["state"] == "MEDIA_STATE_FAILED":
			t.Fatalf("item %s failed: %v", item, got["failureReason"])
		case time.Now().After(deadline):
			t.Fatalf("item %s is not READY with thumbnails after 2 minutes: %v", item, got)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// noisyJPEG is a 1 MiB-ish photo: seeded noise, so the encoder cannot
// shrink it, at the highest quality.
func noisyJPEG(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(17, 2))
	img := image.NewRGBA(image.Rect(0, 0, 832, 640))
	for y := range 640 {
		for x := range 832 {
			img.Set(x, y, color.RGBA{uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() <= 3*tusChunk {
		t.Fatalf("the photo is %d bytes, not more than 3 chunks of %d", buf.Len(), tusChunk)
	}
	return buf.Bytes()
}

func tusMetadata(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(out, ",")
}

// tusUpload is a tus 1.0 client over raw HTTP, as the teacher.
type tusUpload struct {
	t       *testing.T
	a       *api
	photo   []byte
	path    string // /v1/uploads/{id}
	acked   int64  // the highest offset a PATCH's answer acknowledged
	retries int
}

// do sends one tus request; the status is 0 when no answer came.
func (u *tusUpload) do(ctx context.Context, gw, method, path string, body []byte, headers ...string) (*http.Response, string) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, gw+path, bytes.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+u.a.teacher)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := u.a.http.Do(req)
	if err != nil {
		return &http.Response{Header: http.Header{}}, err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp, string(out)
}

// transient is an answer a tus client retries: none, a server or gateway
// failure (media being away), or 423 (someone else holds the session).
func transient(code int) bool { return code == 0 || code >= 500 || code == http.StatusLocked }

// head asks gw where the upload stands, retrying transient failures for up
// to a minute, and checks the answer: a chunk boundary, never below what
// was acknowledged, never past what was sent.
func (u *tusUpload) head(ctx context.Context, gw string) int64 {
	u.t.Helper()
	size := int64(len(u.photo))
	deadline := time.Now().Add(time.Minute)
	for {
		resp, body := u.do(ctx, gw, http.MethodHead, u.path, nil)
		if transient(resp.StatusCode) && time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			u.t.Fatalf("HEAD %s%s: %d %s", gw, u.path, resp.StatusCode, body)
		}
		off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || resp.Header.Get("Upload-Length") != strconv.FormatInt(size, 10) {
			u.t.Fatalf("HEAD %s%s: Upload-Offset %q, Upload-Length %q (want %d)", gw, u.path,
				resp.Header.Get("Upload-Offset"), resp.Header.Get("Upload-Length"), size)
		}
		if off < u.acked || off > min(u.acked+tusChunk, size) || (off%tusChunk != 0 && off != size) {
			u.t.Fatalf("HEAD %s%s: committed offset %d, but %d was acknowledged and one chunk of %d at most was in flight",
				gw, u.path, off, u.acked, tusChunk)
		}
		return off
	}
}

// send PATCHes bytes [from, to) through gw, one chunk at a time; after a
// transient failure it asks gw where the upload stands and resends from
// there, as tus clients do. It returns the item the upload became, when
// the last PATCH finished it.
func (u *tusUpload) send(ctx context.Context, gw string, from, to int64) string {
	u.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for off := from; off < to; {
		end := min(off+tusChunk, to)
		resp, body := u.do(ctx, gw, http.MethodPatch, u.path, u.photo[off:end],
			"Upload-Offset", strconv.FormatInt(off, 10), "Content-Type", "application/offset+octet-stream")
		switch {
		case resp.StatusCode == http.StatusNoContent:
			if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(end, 10) {
				u.t.Fatalf("PATCH [%d, %d) through %s acknowledged offset %s", off, end, gw, got)
			}
			u.acked, off = end, end
			if end == int64(len(u.photo)) {
				return resp.Header.Get("Kinbridge-Media-Item")
			}
		case transient(resp.StatusCode) && time.Now().Before(deadline):
			u.retries++
			time.Sleep(250 * time.Millisecond)
			off = u.head(ctx, gw)
			if off == int64(len(u.photo)) { // the failed PATCH finished it
				resp, _ := u.do(ctx, gw, http.MethodHead, u.path, nil)
				return resp.Header.Get("Kinbridge-Media-Item")
			}
		default:
			u.t.Fatalf("PATCH [%d, %d) through %s: %d %s", off, end, gw, resp.StatusCode, body)
		}
	}
	return ""
}

// uploadWhole uploads the photo in one request (media:upload) and returns
// the item's name.
func (u *tusUpload) uploadWhole(ctx context.Context, gw, child string) string {
	u.t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, gw+"/v1/"+child+"/media:upload?title=Noise&kind=photo", bytes.NewReader(u.photo))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.a.teacher)
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := u.a.http.Do(req)
	if err != nil {
		u.t.Fatalf("media:upload: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		u.t.Fatalf("media:upload: %d %v (%v)", resp.StatusCode, out, err)
	}
	name, _ := out["name"].(string)
	if name == "" {
		u.t.Fatalf("media:upload answered no item: %v", out)
	}
	return name
}

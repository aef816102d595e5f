package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// The tests in this file run `kinbridge media ...` in process against a
// real `serve all`: uploads that are interrupted and run again, uploads
// whose connection is cut, downloads, and refusals.

// kbOut runs one command line in process with ctx and returns what it
// printed on stdout and on stderr.
func kbOut(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mediaEnv points the media commands at the suite and at a state
// directory of the test's own, which it returns.
func mediaEnv(t *testing.T, s *suite) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("KINBRIDGE_MEDIA_ADDR", s.media)
	t.Setenv("KINBRIDGE_STATE_DIR", dir)
	return dir
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fakeMP4 writes an MP4 of size bytes (mediacheck.WriteMovie: pseudo-random
// samples the media service stores as they are).
func fakeMP4(t *testing.T, size int) string {
	t.Helper()
	var b bytes.Buffer
	if err := mediacheck.WriteMovie(&b, int64(size), [32]byte{'c', 'l', 'i'}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sports-day.mp4")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stateFiles lists the upload state files in dir.
func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// listMedia returns the child's items through the CLI's --json output.
func listMedia(t *testing.T, child, token string) []*mediav1.MediaItem {
	t.Helper()
	var resp mediav1.ListMediaItemsResponse
	if err := protojson.Unmarshal([]byte(mustKB(t, "media", "list", child, "--token", token, "--json")), &resp); err != nil {
		t.Fatal(err)
	}
	return resp.GetMediaItems()
}

func TestCLIMediaUploadGetList(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	states := mediaEnv(t, s)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	photo := "../../services/media/ingest/testdata/plain.jpg"
	doc := "../../services/media/thumb/testdata/anim.webp" // a picture with no thumbnail (an animated WebP)

	out, errOut, err := kbOut(context.Background(), "media", "upload", photo, "--child", child, "--token", teacher,
		"--title", "Portrait", "--caption", "Blue period", "--kind", "artwork")
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	name := field(t, out, "Name")
	for key, want := range map[string]string{"Kind": "artwork", "Title": "Portrait", "Caption": "Blue period", "Type": "image/jpeg",
		"Size": "298 B", "Original SHA-256": fileSHA256(t, photo), "Uploaded by": "teacher"} {
		if got := field(t, out, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	if !strings.HasPrefix(name, child+"/media/") {
		t.Fatalf("name %q", name)
	}
	if st := field(t, out, "State"); st != "processing" && st != "ready" && st != "failed" {
		t.Errorf("state %q", st)
	}
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("a finished upload left its state file: %q", files)
	}

	// The bare id names the child too; a picture may be filed as a
	// document (a scanned worksheet).
	id := strings.TrimPrefix(child, "children/")
	scan := mustKB(t, "media", "upload", doc, "--child", id, "--token", teacher, "--kind", "document", "--json")
	var item mediav1.MediaItem
	if err := protojson.Unmarshal([]byte(scan), &item); err != nil {
		t.Fatalf("--json is not a MediaItem: %v\n%s", err, scan)
	}
	if item.GetKind() != mediav1.MediaKind_MEDIA_KIND_DOCUMENT || item.GetContentType() != "image/webp" || item.GetOriginalSha256() != fileSHA256(t, doc) {
		t.Fatalf("document item %v", &item)
	}

	t.Run("the same file again is the same item", func(t *testing.T) {
		again := mustKB(t, "media", "upload", photo, "--child", child, "--token", teacher)
		if field(t, again, "Name") != name {
			t.Fatalf("a second item:\n%s", again)
		}
	})
	t.Run("the guardian lists and reads", func(t *testing.T) {
		rows := tableRows(t, mustKB(t, "media", "list", child, "--token", maria), "NAME")
		if len(rows) != 2 || rows[0][0] != item.GetName() || rows[1][0] != name || !slices.Equal(rows[1][1:5], []string{"artwork", "Portrait", "image/jpeg", "298 B"}) {
			t.Fatalf("rows %q", rows)
		}
		paged := mustKB(t, "media", "list", "--child", child, "--token", maria, "--page-size", "1", "--json")
		var resp mediav1.ListMediaItemsResponse
		if err := protojson.Unmarshal([]byte(paged), &resp); err != nil || len(resp.GetMediaItems()) != 2 {
			t.Fatalf("every page: %v %v", &resp, err)
		}
		rows = tableRows(t, mustKB(t, "media", "list", child, "--token", maria, "--kind", "document"), "NAME")
		if len(rows) != 1 || rows[0][0] != item.GetName() {
			t.Fatalf("documents %q", rows)
		}
		if out := mustKB(t, "media", "list", child, "--token", maria, "--kind", "video"); strings.TrimSpace(out) != "No media." {
			t.Fatalf("videos: %q", out)
		}
		got := mustKB(t, "media", "get", name, "--token", maria)
		if field(t, got, "Title") != "Portrait" || field(t, got, "Name") != name {
			t.Fatalf("get:\n%s", got)
		}
	})
	t.Run("the guardian downloads what was uploaded", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "portrait.jpg")
		got := mustKB(t, "media", "get", name, "--token", maria, "--output", dst)
		if !strings.HasPrefix(field(t, got, "Saved to"), dst+", 298 B") {
			t.Fatalf("get --output:\n%s", got)
		}
		if fileSHA256(t, dst) != fileSHA256(t, photo) {
			t.Fatal("the download differs from the file uploaded")
		}
		// To standard output, only the bytes (as stored: rebuilt).
		raw := mustKB(t, "media", "get", item.GetName(), "--token", maria, "--output", "-")
		if sum := sha256.Sum256([]byte(raw)); hex.EncodeToString(sum[:]) != item.GetContentSha256() {
			t.Fatalf("--output - printed %d bytes that are not the stored %d", len(raw), item.GetSizeBytes())
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".*.part"))
		if len(leftovers) != 0 {
			t.Fatalf("partial downloads left: %q", leftovers)
		}
	})
	t.Run("a thumbnail that is not there", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "thumb.jpg")
		_, err := kb(t, "media", "get", item.GetName(), "--token", maria, "--output", dst, "--thumbnail", "large")
		if err == nil || !strings.Contains(err.Error(), `no "large" thumbnail`) {
			t.Fatalf("got %v", err)
		}
		if _, serr := os.Stat(dst); !os.IsNotExist(serr) {
			t.Fatalf("a failed download left %s: %v", dst, serr)
		}
	})
}

func TestCLIMediaUploadRefusals(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	states := mediaEnv(t, s)
	photo := "../../services/media/ingest/testdata/plain.jpg"
	maria, olga, teacher := s.userToken(t, "maria", false), s.userToken(t, "olga", false), s.userToken(t, "teacher", false)

	_, err := kb(t, "media", "upload", photo, "--child", child, "--token", maria)
	if err == nil || !strings.HasPrefix(err.Error(), "permission denied: ") {
		t.Errorf("a guardian uploads: %v", err)
	}
	_, err = kb(t, "media", "upload", photo, "--child", child, "--token", olga)
	if err == nil || err.Error() != child+" not found" {
		t.Errorf("a stranger uploads: %v", err)
	}
	_, err = kb(t, "media", "upload", photo, "--child", "children/nosuchchild", "--token", teacher)
	if err == nil || err.Error() != "children/nosuchchild not found" {
		t.Errorf("a child that does not exist: %v", err)
	}
	if _, err := kb(t, "media", "list", child, "--token", olga); err == nil || err.Error() != child+" not found" {
		t.Errorf("a stranger lists: %v", err)
	}

	html := filepath.Join(t.TempDir(), "not-a-photo.jpg")
	if err := os.WriteFile(html, []byte("<html><script>alert(1)</script></html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = kb(t, "media", "upload", html, "--child", child, "--token", teacher)
	if err == nil || !strings.Contains(err.Error(), "the media service refused not-a-photo.jpg") || !strings.Contains(err.Error(), "only photos") {
		t.Errorf("HTML named like a photo: %v", err)
	}
	_, err = kb(t, "media", "upload", photo, "--child", child, "--token", teacher, "--kind", "video")
	if err == nil || !strings.Contains(err.Error(), "cannot be filed as a video") {
		t.Errorf("a photo as a video: %v", err)
	}
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("refused uploads left state files: %q", files)
	}
	if items := listMedia(t, child, teacher); len(items) != 0 {
		t.Errorf("refused uploads became items: %v", items)
	}
}

func TestCLIMediaRefusesBadInputBeforeAnyCall(t *testing.T) {
	addr, connections := countingListener(t)
	t.Setenv("KINBRIDGE_MEDIA_ADDR", addr)
	t.Setenv("KINBRIDGE_STATE_DIR", t.TempDir())
	t.Setenv("KINBRIDGE_TOKEN", "some-token")
	photo := "../../services/media/ingest/testdata/plain.jpg"
	empty := filepath.Join(t.TempDir(), "empty.jpg")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no child", []string{"media", "upload", photo}, "--child is required"},
		{"not a child", []string{"media", "upload", photo, "--child", "Ada"}, `"Ada" is not a child`},
		{"no file", []string{"media", "upload", "--child", "abc"}, "missing arguments"},
		{"two files", []string{"media", "upload", photo, photo, "--child", "abc"}, "unexpected arguments"},
		{"a file that is not there", []string{"media", "upload", "nope.jpg", "--child", "abc"}, "cannot read the file to upload"},
		{"a directory", []string{"media", "upload", ".", "--child", "abc"}, "is not a regular file"},
		{"an empty file", []string{"media", "upload", empty, "--child", "abc"}, "is empty: nothing to upload"},
		{"unknown kind", []string{"media", "upload", photo, "--child", "abc", "--kind", "painting"}, `--kind "painting" is not one of artwork, photo, video, document`},
		{"list without a child", []string{"media", "list"}, "missing arguments"},
		{"list with two children", []string{"media", "list", "abc", "--child", "def"}, "not both"},
		{"list with page size 0", []string{"media", "list", "abc", "--page-size", "0"}, "--page-size must be 1 to 1000"},
		{"list backwards", []string{"media", "list", "abc", "--from", "2026-04-01", "--to", "2026-03-01"}, "is after --to"},
		{"get a child", []string{"media", "get", "children/abc"}, "is not a media item"},
		{"thumbnail without output", []string{"media", "get", "children/abc/media/xyz", "--thumbnail", "small"}, "--thumbnail needs --output"},
		{"unknown thumbnail", []string{"media", "get", "children/abc/media/xyz", "--output", "x", "--thumbnail", "huge"}, `--thumbnail "huge" is not one of small, large`},
		{"unknown command", []string{"media", "delete"}, `unknown command "media delete"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kb(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("bad input reached the service: %d connections", n)
	}
}

// committed asks the media service how much of a session is committed.
func committed(t *testing.T, s *suite, token, session string) int64 {
	t.Helper()
	conn, err := grpc.NewClient(s.media, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token), 10*time.Second)
	defer cancel()
	sess, err := mediav1.NewMediaServiceClient(conn).GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: session})
	if err != nil {
		t.Fatalf("GetUploadSession %s: %v", session, err)
	}
	return sess.GetCommittedOffset()
}

func TestCLIMediaUploadResumesWhenRunAgain(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	states := mediaEnv(t, s)
	teacher := s.userToken(t, "teacher", false)
	const size = 6 << 20
	video := fakeMP4(t, size)
	upload := []string{"media", "upload", video, "--child", child, "--token", teacher, "--title", "Sports day", "--timeout", "1m"}

	// The first run goes through a network that stops carrying bytes
	// after 2.5 MiB; once the service has committed some of them, the run
	// is interrupted, as Ctrl-C would.
	proxy := testenv.NewProxy(t, s.media)
	proxy.TripAfter(5<<19, true, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		out, errOut string
		err         error
	}
	first := make(chan result, 1)
	go func() {
		out, errOut, err := kbOut(ctx, append(upload, "--media-addr", proxy.Addr())...)
		first <- result{out, errOut, err}
	}()
	var session string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if files := stateFiles(t, states); len(files) == 1 {
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			var st struct{ Session string }
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("state file %s: %v\n%s", files[0], err, b)
			}
			if session = st.Session; session != "" && committed(t, s, teacher, session) >= 1<<20 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state file with a session that has 1 MiB committed within 30s (session %q)", session)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	r := <-first
	if r.err == nil || !strings.HasPrefix(r.err.Error(), "interrupted. ") || !strings.Contains(r.err.Error(), "the same command again to resume") || r.out != "" {
		t.Fatalf("the interrupted run: %q, %v\n%s", r.out, r.err, r.errOut)
	}
	if files := stateFiles(t, states); len(files) != 1 {
		t.Fatalf("the interrupted run left %d state files, want 1", len(files))
	}
	proxy.Release() // the held connection drops, as the network gives up

	out, errOut, err := kbOut(context.Background(), upload...)
	if err != nil {
		t.Fatalf("the second run: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "Resuming the upload of sports-day.mp4 at ") || strings.Contains(errOut, " at 0 B of ") {
		t.Errorf("the second run did not say it resumes past the start:\n%s", errOut)
	}
	if got, want := field(t, out, "Original SHA-256"), fileSHA256(t, video); got != want {
		t.Errorf("original sha256 %s, want %s", got, want)
	}
	if field(t, out, "Title") != "Sports day" || field(t, out, "Kind") != "video" {
		t.Errorf("item:\n%s", out)
	}
	if items := listMedia(t, child, teacher); len(items) != 1 {
		t.Errorf("want one item, got %v", items)
	}
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("the finished upload left its state file: %q", files)
	}
}

func TestCLIMediaUploadSurvivesACutConnection(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	mediaEnv(t, s)
	teacher := s.userToken(t, "teacher", false)
	video := fakeMP4(t, 6<<20)
	// After 3 MiB the connection is cut and the service stays out of
	// reach for 2s: the CLI keeps asking where the upload stands until it
	// answers, then writes on from there.
	proxy := testenv.NewProxy(t, s.media)
	proxy.TripAfter(3<<20, false, 2*time.Second)

	out, errOut, err := kbOut(context.Background(), "media", "upload", video, "--child", child, "--token", teacher, "--media-addr", proxy.Addr())
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	// At least one of each: a retry may also meet the old stream still
	// holding the session (ABORTED) and say so once more.
	if !strings.Contains(errOut, "Upload interrupted after sending ") || !strings.Contains(errOut, "Still no answer about the upload: ") ||
		!strings.Contains(errOut, "; continuing from there.") {
		t.Errorf("the cut was not reported:\n%s", errOut)
	}
	if got, want := field(t, out, "Original SHA-256"), fileSHA256(t, video); got != want {
		t.Errorf("original sha256 %s, want %s", got, want)
	}
	if n := proxy.Connections(); n < 2 {
		t.Errorf("the upload never connected again: %d connections", n)
	}
	if items := listMedia(t, child, teacher); len(items) != 1 {
		t.Errorf("want one item, got %v", items)
	}
}

func TestMediaMeterLines(t *testing.T) {
	var b bytes.Buffer
	m := newMeter(&b, false)
	m.start("Uploading big.mp4", 100<<20, 30<<20, true)
	for n := int64(30 << 20); n <= 100<<20; n += 7 << 20 {
		m.set(n)
	}
	m.set(100 << 20)
	m.stop()
	// A resumed transfer has no heading line: "Resuming ..." said the size.
	want := "Uploading big.mp4: 44% (44.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 51% (51.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 65% (65.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 72% (72.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 86% (86.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 93% (93.0 MiB of 100.0 MiB)\n" +
		"Uploading big.mp4: 100% (100.0 MiB of 100.0 MiB)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	fresh := newMeter(&b, false)
	fresh.start("Uploading big.mp4", 100<<20, 0, true)
	fresh.set(5 << 20)
	if want := "Uploading big.mp4: 100.0 MiB\n"; b.String() != want {
		t.Errorf("a fresh transfer printed %q, want %q", b.String(), want)
	}
	b.Reset()
	q := newMeter(&b, true)
	q.start("Uploading big.mp4", 100<<20, 0, true)
	q.set(100 << 20)
	q.stop()
	if b.Len() != 0 {
		t.Errorf("--quiet printed %q", b.String())
	}
	small := newMeter(&b, false)
	small.start("Uploading a.jpg", 300, 0, true)
	small.set(300)
	small.stop()
	if b.Len() != 0 {
		t.Errorf("a small upload printed %q", b.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 298: "298 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 19: "1.5 MiB", 1 << 30: "1.0 GiB", 5 << 40: "5.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCLIMediaUploadFinishedMeanwhile: the remembered session was finished
// (the run that finished it lost the answer before it forgot the session):
// running the command again reports the item it became, uploads nothing
// and leaves one item.
func TestCLIMediaUploadFinishedMeanwhile(t *testing.T) {
	s := startSuite(t)
	states := mediaEnv(t, s)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	video := fakeMP4(t, 1<<20)
	data, err := os.ReadFile(video)
	if err != nil {
		t.Fatal(err)
	}
	sum := fileSHA256(t, video)

	// What the lost run did: a session, every byte, a finish.
	conn, err := grpc.NewClient(s.media, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := mediav1.NewMediaServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+teacher)
	sess, err := api.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data)), Sha256: sum}})
	if err != nil {
		t.Fatal(err)
	}
	s.writeSession(t, teacher, sess.GetName(), data)
	item, err := api.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	// ... and what it remembered before it was cut off.
	abs, err := filepath.Abs(video)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		t.Fatal(err)
	}
	// The state file as every version writes it: runs of different
	// versions resume each other's uploads.
	st := map[string]any{"path": abs, "size": fi.Size(), "mod_time_unix_nano": fi.ModTime().UnixNano(), "child": child,
		"session": sess.GetName(), "sha256": sum, "expire_time": sess.GetExpireTime().AsTime()}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Join([]string{abs, strconv.FormatInt(fi.Size(), 10), strconv.FormatInt(fi.ModTime().UnixNano(), 10), child}, "\x00")
	keySum := sha256.Sum256([]byte(key))
	if err := os.WriteFile(filepath.Join(states, hex.EncodeToString(keySum[:16])+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := kbOut(context.Background(), "media", "upload", video, "--child", child, "--token", teacher)
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "was already uploaded as "+item.GetName()) || strings.Contains(errOut, "Resuming") {
		t.Errorf("the run did not say the upload was done:\n%s", errOut)
	}
	if !strings.Contains(out, item.GetName()) {
		t.Errorf("the run printed another item:\n%s", out)
	}
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("%d state files left", len(files))
	}
	if items := listMedia(t, child, teacher); len(items) != 1 {
		t.Errorf("want one item, got %d", len(items))
	}
}

// TestCLICommandsImportNoService: the client commands are built on the SDK
// (client/); only the serve wiring imports services/.
func TestCLICommandsImportNoService(t *testing.T) {
	files, err := filepath.Glob("cli*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(path, "github.com/kinbridge/kinbridge/services/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

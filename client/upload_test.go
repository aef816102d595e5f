package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/client"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// family registers a child with maria as guardian and teacher as
// contributor, and returns the child's name.
func family(t *testing.T) string {
	t.Helper()
	admin := dial(t, "admin", true)
	ctx := context.Background()
	child, err := admin.Progress().CreateChild(ctx, &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada", BirthDate: "2017-05-02"}})
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]progressv1.Role{"maria": progressv1.Role_ROLE_GUARDIAN, "teacher": progressv1.Role_ROLE_CONTRIBUTOR} {
		if _, err := admin.Progress().CreateGuardianship(ctx, &progressv1.CreateGuardianshipRequest{
			Parent: child.GetName(), Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			t.Fatal(err)
		}
	}
	return child.GetName()
}

// movie returns an MP4 of size bytes (pseudo-random samples the media
// service stores as they are) with its hex SHA-256.
func movie(t *testing.T, size int64, seed byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	if err := mediacheck.WriteMovie(&b, size, [32]byte{seed}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes())
	return b.Bytes(), hex.EncodeToString(sum[:])
}

// recorder keeps what an upload reports.
type recorder struct {
	mu       sync.Mutex
	progress []client.UploadProgress
	events   []client.UploadEvent
}

func (r *recorder) options(o client.UploadOptions) client.UploadOptions {
	o.Progress = func(p client.UploadProgress) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.progress = append(r.progress, p)
	}
	o.Events = func(e client.UploadEvent) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, e)
	}
	return o
}

func (r *recorder) kinds() []client.UploadEventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var kinds []client.UploadEventKind
	for _, e := range r.events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func (r *recorder) event(kind client.UploadEventKind) (client.UploadEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == kind {
			return e, true
		}
	}
	return client.UploadEvent{}, false
}

// fast is the backoff of tests: the suite is on loopback.
var fast = client.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}

func TestUploadReportsProgressInOrder(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	const size = 5<<20 + 12345
	data, sum := movie(t, size, 1)
	var r recorder
	item, err := teacher.Upload(context.Background(), bytes.NewReader(data), size,
		&mediav1.UploadMetadata{Parent: child, Title: "Sports day", Filename: "sports.mp4"}, r.options(client.UploadOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if item.GetOriginalSha256() != sum || item.GetTitle() != "Sports day" || item.GetKind() != mediav1.MediaKind_MEDIA_KIND_VIDEO {
		t.Fatalf("item %v", item)
	}
	// Hashing, then sending, each from 0 to the size and never backwards.
	var phases []client.UploadPhase
	last := map[client.UploadPhase]int64{}
	for _, p := range r.progress {
		if p.Total != size {
			t.Fatalf("progress %+v: total is not the size", p)
		}
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		} else if p.Done < last[p.Phase] {
			t.Fatalf("progress went back: %+v after %d", p, last[p.Phase])
		}
		last[p.Phase] = p.Done
	}
	if !slices.Equal(phases, []client.UploadPhase{client.PhaseHashing, client.PhaseSending}) {
		t.Fatalf("phases %v", phases)
	}
	if last[client.PhaseHashing] != size || last[client.PhaseSending] != size {
		t.Fatalf("progress ended at %v, want %d in each phase", last, size)
	}
	if kinds := r.kinds(); !slices.Equal(kinds, []client.UploadEventKind{client.EventAllSent}) {
		t.Fatalf("events %v of an upload with nothing to report", kinds)
	}
}

func TestUploadSurvivesCutConnections(t *testing.T) {
	child := family(t)
	const size = 6 << 20
	data, sum := movie(t, size, 2)
	// After 3 MiB every connection is cut and the service is out of reach
	// for a while: the uploader asks where the upload stands until it
	// answers, then writes on from there.
	p := testenv.NewProxy(t, suite.media)
	p.TripAfter(3<<20, false, 500*time.Millisecond)
	teacher := dial(t, "teacher", false, client.WithMediaAddr(p.Addr()))
	var r recorder
	item, err := teacher.Upload(context.Background(), bytes.NewReader(data), size,
		&mediav1.UploadMetadata{Parent: child}, r.options(client.UploadOptions{Backoff: fast, MaxStalls: 50}))
	if err != nil {
		t.Fatal(err)
	}
	if item.GetOriginalSha256() != sum {
		t.Fatalf("item %v, want sha256 %s", item, sum)
	}
	retry, ok := r.event(client.EventRetrying)
	if !ok || retry.Sent <= 0 || status.Code(retry.Err) == codes.OK {
		t.Fatalf("no retry reported: %v", r.kinds())
	}
	cont, ok := r.event(client.EventContinuing)
	if !ok || cont.Offset <= 0 || cont.Offset > 3<<20 {
		t.Fatalf("continuing %+v (ok %v); events %v", cont, ok, r.kinds())
	}
	if n := p.Connections(); n < 2 {
		t.Fatalf("the upload never connected again: %d connections", n)
	}
	if last := r.progress[len(r.progress)-1]; last.Phase != client.PhaseSending || last.Done != size {
		t.Fatalf("last progress %+v", last)
	}
	items, err := dial(t, "maria", false).Media().ListMediaItems(context.Background(), &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil || len(items.GetMediaItems()) != 1 {
		t.Fatalf("want one item: %v, %v", items, err)
	}
}

// stateSession returns the session remembered in the one state file in
// dir, or "".
func stateSession(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != 1 {
		return ""
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Session string }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file %s: %v\n%s", files[0], err, b)
	}
	return st.Session
}

func TestUploadFileResumesInALaterRun(t *testing.T) {
	child := family(t)
	const size = 6 << 20
	data, sum := movie(t, size, 3)
	path := filepath.Join(t.TempDir(), "sports-day.mp4")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	states := t.TempDir()
	meta := &mediav1.UploadMetadata{Parent: child, Title: "Sports day"}

	// The first run goes through a network that stops carrying bytes
	// after 2.5 MiB; once the service has committed some of them, the run
	// is interrupted, as a crash or Ctrl-C would.
	p := testenv.NewProxy(t, suite.media)
	p.TripAfter(5<<19, true, 0)
	cut := dial(t, "teacher", false, client.WithMediaAddr(p.Addr()), client.WithTimeout(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			first <- err
			return
		}
		defer f.Close()
		_, err = cut.UploadFile(ctx, f, meta, client.UploadOptions{StateDir: states})
		first <- err
	}()
	teacher := dial(t, "teacher", false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if session := stateSession(t, states); session != "" {
			sess, err := teacher.Media().GetUploadSession(context.Background(), &mediav1.GetUploadSessionRequest{Name: session})
			if err != nil {
				t.Fatal(err)
			}
			if sess.GetCommittedOffset() >= 1<<20 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no remembered session with 1 MiB committed within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	err := <-first
	var stopped *client.UploadError
	if !errors.As(err, &stopped) || !errors.Is(err, context.Canceled) || stopped.Session == "" || stopped.Size != size {
		t.Fatalf("the interrupted run: %v", err)
	}
	if stateSession(t, states) != stopped.Session {
		t.Fatal("the interrupted run did not leave its session remembered")
	}
	p.Release()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r recorder
	item, err := teacher.UploadFile(context.Background(), f, meta, r.options(client.UploadOptions{StateDir: states}))
	if err != nil {
		t.Fatal(err)
	}
	resumed, ok := r.event(client.EventResumed)
	if !ok || resumed.Offset < 1<<20 || resumed.Session.GetName() != stopped.Session {
		t.Fatalf("the second run did not resume past the start: %+v, events %v", resumed, r.kinds())
	}
	if r.progress[0].Phase != client.PhaseSending {
		t.Fatalf("a resumed upload hashed the file again: %+v", r.progress[0])
	}
	if item.GetOriginalSha256() != sum || item.GetTitle() != "Sports day" {
		t.Fatalf("item %v", item)
	}
	if files, _ := filepath.Glob(filepath.Join(states, "*.json")); len(files) != 0 {
		t.Fatalf("the finished upload left its state: %q", files)
	}
}

func TestUploadRefusalIsTyped(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	states := t.TempDir()
	html := []byte("<html><script>alert(1)</script></html>")
	_, err := teacher.Upload(context.Background(), bytes.NewReader(html), int64(len(html)),
		&mediav1.UploadMetadata{Parent: child, Filename: "not-a-photo.jpg"}, client.UploadOptions{StateDir: states, ResumeKey: "not-a-photo"})
	var refused *client.RefusedError
	if !errors.As(err, &refused) || refused.Reason != mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE || status.Code(err) != codes.InvalidArgument || refused.IsChecksumMismatch() {
		t.Fatalf("got %v (%T)", err, err)
	}
	if files, _ := filepath.Glob(filepath.Join(states, "*.json")); len(files) != 0 {
		t.Fatalf("a refused upload left its state: %q", files)
	}
	items, err := teacher.Media().ListMediaItems(context.Background(), &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil || len(items.GetMediaItems()) != 0 {
		t.Fatalf("a refused upload became an item: %v, %v", items, err)
	}
}

// changing serves one set of bytes until it is told to serve another, as
// a file edited during an upload would.
type changing struct {
	mu       sync.Mutex
	now, new []byte
}

func (c *changing) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.NewReader(c.now).ReadAt(p, off)
}

func (c *changing) change() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.new
}

func TestUploadOfBytesThatChangedIsRefused(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	const size = 2 << 20
	before, _ := movie(t, size, 4)
	after, _ := movie(t, size, 5)
	src := &changing{now: before, new: after}
	_, err := teacher.Upload(context.Background(), src, size, &mediav1.UploadMetadata{Parent: child}, client.UploadOptions{
		Progress: func(p client.UploadProgress) {
			if p.Phase == client.PhaseSending {
				src.change() // hashed as it was, sent as it is now
			}
		}})
	var refused *client.RefusedError
	if !errors.As(err, &refused) || !refused.IsChecksumMismatch() {
		t.Fatalf("got %v (%T)", err, err)
	}
}

func TestUploadOfAShrinkingFileStops(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	const size = 2 << 20
	data, _ := movie(t, size, 6)
	src := &changing{now: data, new: data[:size/2]}
	_, err := teacher.Upload(context.Background(), src, size, &mediav1.UploadMetadata{Parent: child}, client.UploadOptions{
		Progress: func(p client.UploadProgress) {
			if p.Phase == client.PhaseSending {
				src.change()
			}
		}})
	if err == nil || !errors.Is(err, client.ErrShortSource) {
		t.Fatalf("got %v", err)
	}
}

// cutAfter cuts the proxy's connections once, when n bytes have been
// written through it.
type cutAfter struct {
	w    io.Writer
	p    *testenv.Proxy
	n    int64
	done bool
}

func (c *cutAfter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if c.n -= int64(n); c.n <= 0 && !c.done {
		c.done = true
		c.p.CutFor(100 * time.Millisecond)
	}
	return n, err
}

func TestDownloadResumesAfterACut(t *testing.T) {
	child := family(t)
	const size = 6 << 20
	data, sum := movie(t, size, 7)
	item, err := dial(t, "teacher", false).Upload(context.Background(), bytes.NewReader(data), size,
		&mediav1.UploadMetadata{Parent: child}, client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.NewProxy(t, suite.media)
	maria := dial(t, "maria", false, client.WithMediaAddr(p.Addr()))
	var got bytes.Buffer
	var retries []int64
	read, n, err := maria.Download(context.Background(), item.GetName(), &cutAfter{w: &got, p: p, n: 2 << 20}, client.DownloadOptions{
		Backoff:  fast,
		Retrying: func(done int64, err error, delay time.Duration) { retries = append(retries, done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(retries) == 0 || retries[0] < 2<<20 {
		t.Fatalf("retries after %v bytes: the cut was not felt", retries)
	}
	gotSum := sha256.Sum256(got.Bytes())
	if n != int64(got.Len()) || read.GetName() != item.GetName() || hex.EncodeToString(gotSum[:]) != read.GetContentSha256() || read.GetOriginalSha256() != sum {
		t.Fatalf("downloaded %d bytes (%d written) of %v", n, got.Len(), read)
	}
}

func TestBadNamesAreRefusedBeforeAnyCall(t *testing.T) {
	// Nothing listens there: a call would fail with UNAVAILABLE.
	c, err := client.New("127.0.0.1:1", client.WithToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, parent := range []string{"", "Ada", "children/Ada", "children/abc/media/x"} {
		_, err := c.Upload(ctx, bytes.NewReader([]byte("x")), 1, &mediav1.UploadMetadata{Parent: parent}, client.UploadOptions{})
		var bad *names.Error
		if !errors.As(err, &bad) {
			t.Errorf("parent %q: %v", parent, err)
		}
	}
	if _, _, err := c.Download(ctx, "children/abc", io.Discard, client.DownloadOptions{}); !errors.As(err, new(*names.Error)) {
		t.Errorf("download of a child: %v", err)
	}
}

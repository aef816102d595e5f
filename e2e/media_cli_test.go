//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kinbridge/kinbridge/client"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// The journeys of big uploads from the command line and straight through
// the Go SDK's resumable uploader: the connection cut twice mid-way, the CLI killed
// and run again. Each must end with an item whose original_sha256 is the
// file's. The size is tusBytes (1 GiB, or KINBRIDGE_E2E_TUS_BYTES).

// cliBytes is the size of a CLI upload: tusBytes, but at least 32 MiB,
// so the CLI's progress lines (one every tenth) come while bytes are
// still to be sent and a cut lands mid-upload.
func cliBytes(t *testing.T) int64 {
	t.Helper()
	return max(tusBytes(t), 32<<20)
}

// cliProcess is a `kinbridge` client command running as a process of its own.
type cliProcess struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	lines  chan string // stderr, line by line; closed when it ends
	done   chan error  // the exit, once stderr is read
}

// startCLI runs bin with args; env adds to (and overrides) this process's
// environment. It is killed when the test ends if it still runs.
func startCLI(t *testing.T, env []string, args ...string) *cliProcess {
	t.Helper()
	c := &cliProcess{cmd: exec.Command(bin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{},
		lines: make(chan string, 1000), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = c.stdout
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			c.stderr.Write(append(sc.Bytes(), '\n'))
			select {
			case c.lines <- sc.Text():
			default: // nobody follows the lines: the buffer keeps them
			}
		}
		close(c.lines)
		io.Copy(io.Discard, pipe)
		c.done <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
		}
		<-exited
	})
	return c
}

// progressRE matches the CLI's progress lines off a terminal:
// "Uploading big.mp4: 40% (409.6 MiB of 1.0 GiB)".
var progressRE = regexp.MustCompile(`^Uploading \S+: (\d+)% \(`)

// follow reads the CLI's stderr until it ends, calling onProgress with the
// percent of each progress line; it returns how many times the CLI said a
// connection broke and it tries again. Silence for 2 minutes fails the test.
func (c *cliProcess) follow(t *testing.T, onProgress func(pct int)) (retries int) {
	t.Helper()
	idle := time.NewTimer(2 * time.Minute)
	defer idle.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return retries
			}
			idle.Reset(2 * time.Minute)
			if m := progressRE.FindStringSubmatch(line); m != nil && onProgress != nil {
				pct, _ := strconv.Atoi(m[1])
				onProgress(pct)
			}
			if strings.Contains(line, ". Trying again in ") {
				retries++
			}
		case <-idle.C:
			t.Fatalf("the CLI printed nothing for 2 minutes; it printed:\n%s", c.stderr)
		}
	}
}

// wait returns the CLI's exit.
func (c *cliProcess) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(15 * time.Minute):
		t.Fatalf("the CLI did not end within 15 minutes; it printed:\n%s", c.stderr)
		return nil
	}
}

// item reads the MediaItem the CLI printed with --json.
func (c *cliProcess) item(t *testing.T) *mediav1.MediaItem {
	t.Helper()
	var it mediav1.MediaItem
	if err := protojson.Unmarshal([]byte(c.stdout.String()), &it); err != nil {
		t.Fatalf("the CLI's --json output is not a MediaItem: %v\n%s", err, c.stdout)
	}
	return &it
}

// cliEnv is the environment of a CLI upload: who, where, and a state
// directory of the test's own.
func cliEnv(token, mediaAddr, stateDir string) []string {
	return []string{"KINBRIDGE_TOKEN=" + token, "KINBRIDGE_MEDIA_ADDR=" + mediaAddr, "KINBRIDGE_STATE_DIR=" + stateDir}
}

// stateFiles lists the upload state files the CLI keeps in dir.
func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// mediaItems lists a child's items over gRPC.
func mediaItems(t *testing.T, mediaAddr, token, child string) []*mediav1.MediaItem {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := mediav1.NewMediaServiceClient(dialGRPC(t, mediaAddr)).ListMediaItems(as(ctx, token), &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetMediaItems()
}

// cutFor drops every connection through proxy and refuses new ones for a
// moment, as a flaky network would.
func cutFor(proxy *cutProxy, d time.Duration) {
	proxy.setCut(true)
	time.Sleep(d)
	proxy.setCut(false)
}

// checkItem checks an uploaded item against the file it came from.
func checkItem(t *testing.T, it *mediav1.MediaItem, sum string, size int64) {
	t.Helper()
	if it.GetOriginalSha256() != sum || it.GetSizeBytes() != size || it.GetContentType() != "video/mp4" {
		t.Fatalf("the item %v; want original_sha256 %s, %d bytes of video/mp4", it, sum, size)
	}
}

// TestCLIMediaUploadSurvivesCuts uploads a big video (1 GiB by default)
// with `kinbridge media upload` through a proxy that cuts the gRPC
// connection twice mid-way: the command retries from the committed
// offset by itself and completes.
func TestCLIMediaUploadSurvivesCuts(t *testing.T) {
	size := cliBytes(t)
	path, sum := bigMP4(t, t.TempDir(), size)
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	fam := newMediaFamily(t, dataDir, p.progress)
	proxy := newCutProxy(t, p.media)
	states := t.TempDir()

	c := startCLI(t, cliEnv(fam.teacher, proxy.lis.Addr().String(), states),
		"media", "upload", path, "--child", fam.child, "--title", "Sports day", "--json")
	cuts := []int{30, 60} // cut when the CLI reports more than these percentages
	retries := c.follow(t, func(pct int) {
		if len(cuts) > 0 && pct > cuts[0] {
			t.Logf("cutting the connection at %d%%", pct)
			cutFor(proxy, 300*time.Millisecond)
			cuts = cuts[1:]
		}
	})
	if err := c.wait(t); err != nil {
		t.Fatalf("kinbridge media upload: %v; it printed:\n%s", err, c.stderr)
	}
	if len(cuts) > 0 {
		t.Fatalf("the upload finished before the cuts at %v%%; it printed:\n%s", cuts, c.stderr)
	}
	if retries < 2 {
		t.Fatalf("the CLI tried again %d times, so the two cuts were not both felt; it printed:\n%s", retries, c.stderr)
	}
	checkItem(t, c.item(t), sum, size)
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("the finished upload left its state file: %q", files)
	}
	t.Logf("the CLI tried again %d times; it printed:\n%s", retries, c.stderr)
}

// TestCLIMediaUploadKilledAndRunAgain SIGKILLs `kinbridge media upload`
// mid-way; the same command run again says it resumes, sends the rest
// and the child has one item with the file's SHA-256.
func TestCLIMediaUploadKilledAndRunAgain(t *testing.T) {
	size := min(cliBytes(t), 256<<20)
	path, sum := bigMP4(t, t.TempDir(), size)
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	fam := newMediaFamily(t, dataDir, p.progress)
	states := t.TempDir()
	env := cliEnv(fam.teacher, p.media, states)
	upload := []string{"media", "upload", path, "--child", fam.child, "--title", "Sports day", "--json"}

	first := startCLI(t, env, upload...)
	killed := false
	first.follow(t, func(pct int) {
		if !killed && pct > 30 {
			t.Logf("killing the CLI at %d%%", pct)
			_ = first.cmd.Process.Kill()
			killed = true
		}
	})
	if err := first.wait(t); err == nil || !killed {
		t.Fatalf("the first run was not killed mid-way (exit %v); it printed:\n%s", err, first.stderr)
	}
	if files := stateFiles(t, states); len(files) != 1 {
		t.Fatalf("the killed run left %d state files, want 1", len(files))
	}
	if items := mediaItems(t, p.media, fam.teacher, fam.child); len(items) != 0 {
		t.Fatalf("an item exists before the upload finished: %v", items)
	}

	again := startCLI(t, env, upload...)
	again.follow(t, nil)
	if err := again.wait(t); err != nil {
		t.Fatalf("the second run: %v; it printed:\n%s", err, again.stderr)
	}
	if out := again.stderr.String(); !strings.Contains(out, "Resuming the upload of big.mp4 at ") || strings.Contains(out, " at 0 B of ") {
		t.Fatalf("the second run did not say it resumes past the start; it printed:\n%s", out)
	}
	checkItem(t, again.item(t), sum, size)
	if items := mediaItems(t, p.media, fam.teacher, fam.child); len(items) != 1 {
		t.Fatalf("want exactly one item, got %v", items)
	}
	if files := stateFiles(t, states); len(files) != 0 {
		t.Errorf("the finished upload left its state file: %q", files)
	}
	t.Logf("the second run printed:\n%s", again.stderr)
}

// TestSDKUploadSurvivesCuts uploads a big video (1 GiB by default) with
// the Go SDK's resumable uploader, across a proxy that cuts the connection
// twice: after each cut the uploader asks where the session stands and
// writes on from the committed offset.
func TestSDKUploadSurvivesCuts(t *testing.T) {
	size := tusBytes(t)
	path, sum := bigMP4(t, t.TempDir(), size)
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	fam := newMediaFamily(t, dataDir, p.progress)
	proxy := newCutProxy(t, p.media)
	c, err := client.New(p.progress, client.WithToken(fam.teacher), client.WithMediaAddr(proxy.lis.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	// Cut once a third and once two thirds of the bytes are sent, each
	// time while the write stream is busy.
	cuts := []int64{size * 3 / 10, size * 6 / 10}
	cutting := make(chan struct{}, len(cuts))
	retries := 0
	item, err := c.UploadFile(ctx, f, &mediav1.UploadMetadata{Parent: fam.child, Kind: mediav1.MediaKind_MEDIA_KIND_VIDEO, Title: "Sports day"}, client.UploadOptions{
		Backoff: client.Backoff{Base: 50 * time.Millisecond, Max: time.Second},
		Progress: func(p client.UploadProgress) {
			if p.Phase == client.PhaseSending && len(cuts) > 0 && p.Done > cuts[0] {
				t.Logf("cutting the connection with %d of %d bytes sent", p.Done, size)
				cuts = cuts[1:]
				go func() { cutFor(proxy, 300*time.Millisecond); cutting <- struct{}{} }()
			}
		},
		Events: func(e client.UploadEvent) {
			if e.Kind == client.EventRetrying {
				retries++
				t.Logf("retrying after %d bytes sent: %v", e.Sent, e.Err)
			}
		},
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if len(cuts) > 0 {
		t.Fatalf("all bytes were sent before the cuts at %v", cuts)
	}
	for range 2 {
		<-cutting // both cuts are over
	}
	if retries < 2 {
		t.Fatalf("only %d retries, so the two cuts were not both felt", retries)
	}
	checkItem(t, item, sum, size)
}

// TestREADMEMediaCLI runs the README's media CLI block as written, with
// the shell variables the blocks before it set.
func TestREADMEMediaCLI(t *testing.T) {
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil)
	fam := newMediaFamily(t, dataDir, p.progress)
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	maria, err := auth.NewUserIssuer(key).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := progressv1.NewProgressServiceClient(dialGRPC(t, p.progress)).CreateGuardianship(as(ctx, fam.admin), &progressv1.CreateGuardianshipRequest{
		Parent: fam.child, Guardianship: &progressv1.Guardianship{User: "maria", Role: progressv1.Role_ROLE_GUARDIAN}}); err != nil {
		t.Fatal(err)
	}
	const saved = "/tmp/sports-day.mp4" // where the block saves the download
	t.Cleanup(func() { os.Remove(saved) })
	env := append(cliEnv(fam.admin, p.media, t.TempDir()), "CHILD="+fam.child, "TEACHER="+fam.teacher, "MARIA="+maria)
	out := runScript(t, ctx, p.asWritten(readmeBlock(t, "media_cli")), env)

	items := mediaItems(t, p.media, fam.teacher, fam.child)
	if len(items) != 1 || items[0].GetTitle() != "Sports day" || items[0].GetContentType() != "video/mp4" {
		t.Fatalf("the block's upload: %v; it printed:\n%s", items, out)
	}
	for _, want := range []string{"NAME", items[0].GetName(), "Sports day", "video/mp4", "Saved to", saved} {
		if !strings.Contains(out, want) {
			t.Errorf("the block's output lacks %q:\n%s", want, out)
		}
	}
	info, err := os.Stat(saved)
	if err != nil || info.Size() != items[0].GetSizeBytes() {
		t.Fatalf("the download: %v, %v; want %d bytes", info, err, items[0].GetSizeBytes())
	}
}

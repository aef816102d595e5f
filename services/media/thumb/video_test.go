package thumb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// videoFixture describes a video in testdata as a viewer sees it.
type videoFixture struct {
	file        string
	contentType string
	w, h        int
	d           time.Duration
}

var (
	clipMP4  = videoFixture{"clip.mp4", TypeMP4, 480, 270, 2 * time.Second}
	clipMOV  = videoFixture{"clip-rotated.mov", TypeQuickTime, 270, 480, 2 * time.Second} // 480x270 turned by its matrix
	shortMP4 = videoFixture{"short.mp4", TypeMP4, 160, 90, 500 * time.Millisecond}
	clipWebM = videoFixture{"clip.webm", TypeWebM, 320, 240, 2 * time.Second}
	clip3GP  = videoFixture{"clip.3gp", Type3GP, 480, 270, 2 * time.Second}
)

// durationNear allows for the container's rounding of the last frame.
func durationNear(got, want time.Duration) bool {
	d := got - want
	return d > -150*time.Millisecond && d < 150*time.Millisecond
}

func TestVideoWithoutTools(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    videoFixture
		w, h int
		d    time.Duration
	}{
		// MP4 and QuickTime: read from 'moov' in Go, the turn included.
		{clipMP4, 480, 270, 2 * time.Second},
		{clipMOV, 270, 480, 2 * time.Second},
		{shortMP4, 160, 90, 500 * time.Millisecond},
		// WebM: nothing is read without ffprobe.
		{clipWebM, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.v.file, func(t *testing.T) {
			t.Parallel()
			_, data := fixture(t, tt.v.file)
			res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), tt.v.contentType, 1, nil, Limits{}, noTools)
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tt.w || res.Height != tt.h || !durationNear(res.Duration, tt.d) || (tt.d == 0) != (res.Duration == 0) {
				t.Errorf("got %dx%d %v, want %dx%d %v", res.Width, res.Height, res.Duration, tt.w, tt.h, tt.d)
			}
			if len(res.Thumbs) != 0 {
				t.Errorf("%d thumbnails without ffmpeg", len(res.Thumbs))
			}
		})
	}
}

// videoMoov builds a small MP4 whose picture track declares w x h.
func videoMoov(w, h uint16) []byte {
	ftyp := mkbox("ftyp", []byte("isom"), u32(0), []byte("isom"))
	moov := mkbox("moov", mvhd(0, 1000, 2000), trak("vide", tkhd(0, w, h, false)))
	return append(ftyp, moov...)
}

func TestVideoBomb(t *testing.T) {
	t.Parallel()
	// Declared dimensions over the limits refuse the video before ffmpeg
	// runs: a program that does not exist stands in for it.
	data := videoMoov(30000, 30000)
	never := WithTools(Tools{FFmpeg: "/nonexistent/ffmpeg"})
	_, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeMP4, 1, nil, Limits{}, never)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

// videoTools returns the ffmpeg tools, skipping the test without them (or
// failing it when KINBRIDGE_TEST_REQUIRE names "ffmpeg").
func videoTools(t *testing.T) Tools {
	t.Helper()
	return Tools{
		FFmpeg:  testenv.Tool(t, "ffmpeg"),
		FFprobe: testenv.Tool(t, "ffprobe"),
	}
}

func TestVideo(t *testing.T) {
	t.Parallel()
	all := videoTools(t)
	onlyFFmpeg := Tools{FFmpeg: all.FFmpeg}

	tests := []struct {
		name   string
		v      videoFixture
		tools  Tools
		source string // "file": MakeFromFile; "reader": Make with a temporary copy; "unknown": WithPath, nothing to read in Go
		thumbs map[string]image.Point
		wantD  bool // whether the duration is learned
	}{
		{"mp4", clipMP4, all, "file", map[string]image.Point{"small": {320, 180}, "large": {480, 270}}, true},
		{"mp4 through a copy", clipMP4, all, "reader", map[string]image.Point{"small": {320, 180}, "large": {480, 270}}, true},
		{"3gp", clip3GP, all, "file", map[string]image.Point{"small": {320, 180}, "large": {480, 270}}, true},
		{"turned mov", clipMOV, all, "file", map[string]image.Point{"small": {180, 320}, "large": {270, 480}}, true},
		{"webm", clipWebM, all, "file", map[string]image.Point{"small": {320, 240}, "large": {320, 240}}, true},
		{"webm through a copy", clipWebM, all, "reader", map[string]image.Point{"small": {320, 240}, "large": {320, 240}}, true},
		// Shorter than the poster position: the first frame is taken.
		{"short mp4", shortMP4, all, "file", map[string]image.Point{"small": {160, 90}, "large": {160, 90}}, true},
		// Without ffprobe: dimensions from 'moov' (turned), or from the
		// poster for WebM.
		{"turned mov, no ffprobe", clipMOV, onlyFFmpeg, "file", map[string]image.Point{"small": {180, 320}, "large": {270, 480}}, true},
		{"webm, no ffprobe", clipWebM, onlyFFmpeg, "file", map[string]image.Point{"small": {320, 240}, "large": {320, 240}}, false},
		// Duration unknown: the seek to 1 s finds nothing in a 0.5 s video,
		// and the first frame is taken on a second try.
		{"short mp4, length unknown", shortMP4, onlyFFmpeg, "unknown", map[string]image.Point{"small": {160, 90}, "large": {160, 90}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, data := fixture(t, tt.v.file)
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			opts := []Option{WithTools(tt.tools), WithTracerProvider(tp)}

			var res Result
			var err error
			switch tt.source {
			case "file":
				res, err = MakeFromFile(t.Context(), path, tt.v.contentType, 1, nil, Limits{}, opts...)
			case "reader":
				res, err = Make(t.Context(), bytes.NewReader(data), int64(len(data)), tt.v.contentType, 1, nil, Limits{}, opts...)
			case "unknown":
				res, err = Make(t.Context(), bytes.NewReader(nil), 0, tt.v.contentType, 1, nil, Limits{}, append(opts, WithPath(path))...)
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tt.v.w || res.Height != tt.v.h {
				t.Errorf("dimensions %dx%d, want %dx%d", res.Width, res.Height, tt.v.w, tt.v.h)
			}
			if tt.wantD && !durationNear(res.Duration, tt.v.d) || !tt.wantD && res.Duration != 0 {
				t.Errorf("duration %v, want %v (known: %t)", res.Duration, tt.v.d, tt.wantD)
			}
			for _, s := range DefaultSizes {
				img := decodeThumb(t, s.Name, res.Thumbs[s.Name])
				checkFits(t, s.Name, img, tt.v.w, tt.v.h, s.Max)
				if got := img.Bounds().Size(); got != tt.thumbs[s.Name] {
					t.Errorf("thumbnail %q is %v, want %v", s.Name, got, tt.thumbs[s.Name])
				}
			}
			// The programs run as children of the thumb.Make span.
			var execs int
			for _, s := range rec.Ended() {
				if s.Name() == "thumb.exec" {
					execs++
				}
			}
			if execs == 0 {
				t.Error("no thumb.exec span")
			}
		})
	}
}

func TestVideoNoCopyOverSpoolLimit(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	_, data := fixture(t, clipMP4.file)
	// Too large to copy and no path: no program runs, 'moov' still tells
	// the dimensions.
	res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeMP4, 1, nil, Limits{}, WithTools(tools), WithSpoolLimit(1024))
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 480 || res.Height != 270 || len(res.Thumbs) != 0 {
		t.Errorf("got %dx%d with %d thumbnails, want 480x270 and none", res.Width, res.Height, len(res.Thumbs))
	}
}

func TestVideoCorrupt(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	_, data := fixture(t, clipMP4.file)
	// The index survives, the pictures do not: the programs fail, and the
	// error quotes what they said.
	bad := bytes.Clone(data)
	for i := 48; i < len(bad)-2048; i++ {
		bad[i] = 0
	}
	_, err := Make(t.Context(), bytes.NewReader(bad), int64(len(bad)), TypeMP4, 1, nil, Limits{}, WithTools(tools))
	if err == nil || !strings.Contains(err.Error(), "ffmpeg") {
		t.Errorf("error %v, want ffmpeg's", err)
	}
	t.Logf("error, as expected: %v", err)

	// Not a video at all.
	junk := []byte("this is not a video, whatever its type says")
	if _, err := Make(t.Context(), bytes.NewReader(junk), int64(len(junk)), TypeWebM, 1, nil, Limits{}, WithTools(tools)); err == nil {
		t.Error("junk as WebM gave no error")
	} else {
		t.Logf("junk: %v", err)
	}
}

// TestExecHelpers covers the output bounds of run's buffers.
func TestExecHelpers(t *testing.T) {
	t.Parallel()
	var tb tailBuffer
	tb.max = 8
	for _, s := range []string{"abc", "defgh", "ijklmnopqrstuvwxyz", "0"} {
		if n, err := io.WriteString(&tb, s); n != len(s) || err != nil {
			t.Fatalf("tail write %q: %d, %v", s, n, err)
		}
	}
	if got := tb.String(); got != "tuvwxyz0" {
		t.Errorf("tail %q, want %q", got, "tuvwxyz0")
	}
	lines := tailBuffer{max: 20}
	_, _ = io.WriteString(&lines, "first line\nsecond\nthird\n\nfourth\n")
	// The first kept line was cut by the bound and is dropped.
	if got := lines.lastLines(2); got != "third | fourth" {
		t.Errorf("last lines %q, want %q", got, "third | fourth")
	}
	if got := lines.lastLines(9); got != "third | fourth" {
		t.Errorf("all lines %q, want %q", got, "third | fourth")
	}
	whole := tailBuffer{max: 100}
	_, _ = io.WriteString(&whole, "first line\nsecond\n")
	if got := whole.lastLines(9); got != "first line | second" {
		t.Errorf("all lines %q, want %q", got, "first line | second")
	}
	cb := cappedBuffer{max: 4}
	if _, err := cb.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Write([]byte("de")); err == nil || !cb.overflow {
		t.Error("writing past the cap succeeded")
	}
	if fmt.Sprint(cb.Len()) != "3" {
		t.Errorf("kept %d bytes, want 3", cb.Len())
	}
}

package thumb

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// noTools keeps a test independent of what is installed.
var noTools = WithTools(Tools{})

func TestMakeStill(t *testing.T) {
	t.Parallel()
	type thumb struct {
		w, h int
	}
	tests := []struct {
		file        string
		contentType string
		orientation int
		w, h        int              // reported, after orientation
		thumbs      map[string]thumb // with DefaultSizes
		corners     corners          // of every thumbnail
	}{
		// 40x20 stored pixels under each EXIF orientation: sides swap for
		// 5 to 8, and the quadrants land where a viewer would show them.
		{"orient-1.jpg", TypeJPEG, 1, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{red, lime, blue, white}},
		{"orient-2.jpg", TypeJPEG, 2, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{lime, red, white, blue}},
		{"orient-3.jpg", TypeJPEG, 3, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{white, blue, lime, red}},
		{"orient-4.jpg", TypeJPEG, 4, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{blue, white, red, lime}},
		{"orient-5.jpg", TypeJPEG, 5, 20, 40, map[string]thumb{"small": {20, 40}, "large": {20, 40}}, corners{red, blue, lime, white}},
		{"orient-6.jpg", TypeJPEG, 6, 20, 40, map[string]thumb{"small": {20, 40}, "large": {20, 40}}, corners{blue, red, white, lime}},
		{"orient-7.jpg", TypeJPEG, 7, 20, 40, map[string]thumb{"small": {20, 40}, "large": {20, 40}}, corners{white, lime, blue, red}},
		{"orient-8.jpg", TypeJPEG, 8, 20, 40, map[string]thumb{"small": {20, 40}, "large": {20, 40}}, corners{lime, white, red, blue}},
		// Out-of-range orientations mean "as stored".
		{"orient-1.jpg", TypeJPEG, 0, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{red, lime, blue, white}},
		{"orient-1.jpg", TypeJPEG, 9, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{red, lime, blue, white}},
		// 1600x1000 stored sideways: both sizes scale down, and turn.
		{"big-orient-6.jpg", TypeJPEG, 6, 1000, 1600, map[string]thumb{"small": {200, 320}, "large": {800, 1280}}, corners{blue, red, white, lime}},
		// The transparent top-left quadrant comes out white.
		{"alpha.png", TypePNG, 1, 700, 350, map[string]thumb{"small": {320, 160}, "large": {700, 350}}, corners{white, lime, blue, white}},
		// Only the first (red) frame of the animation.
		{"anim.gif", TypeGIF, 1, 400, 200, map[string]thumb{"small": {320, 160}, "large": {400, 200}}, corners{red, red, red, red}},
		{"lossy.webp", TypeWebP, 1, 640, 360, map[string]thumb{"small": {320, 180}, "large": {640, 360}}, corners{red, lime, blue, white}},
		{"lossless-alpha.webp", TypeWebP, 1, 100, 50, map[string]thumb{"small": {100, 50}, "large": {100, 50}}, corners{white, lime, blue, white}},
		// Parameters after the type are ignored.
		{"orient-1.jpg", "IMAGE/JPEG; q=1", 1, 40, 20, map[string]thumb{"small": {40, 20}, "large": {40, 20}}, corners{red, lime, blue, white}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/orientation=%d", tt.file, tt.orientation), func(t *testing.T) {
			t.Parallel()
			_, data := fixture(t, tt.file)
			res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), tt.contentType, tt.orientation, nil, Limits{}, noTools)
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tt.w || res.Height != tt.h {
				t.Errorf("dimensions %dx%d, want %dx%d", res.Width, res.Height, tt.w, tt.h)
			}
			if res.Duration != 0 {
				t.Errorf("duration %v for a still image", res.Duration)
			}
			if len(res.Thumbs) != len(tt.thumbs) {
				t.Errorf("got %d thumbnails, want %d", len(res.Thumbs), len(tt.thumbs))
			}
			for _, s := range DefaultSizes {
				img := decodeThumb(t, s.Name, res.Thumbs[s.Name])
				checkFits(t, s.Name, img, tt.w, tt.h, s.Max)
				want := tt.thumbs[s.Name]
				if got := img.Bounds().Size(); got != image.Pt(want.w, want.h) {
					t.Errorf("thumbnail %q is %v, want %dx%d", s.Name, got, want.w, want.h)
				}
				checkCorners(t, s.Name, img, tt.corners)
			}
		})
	}
}

func TestMakeFromFile(t *testing.T) {
	t.Parallel()
	path, _ := fixture(t, "orient-6.jpg")
	res, err := MakeFromFile(t.Context(), path, TypeJPEG, 6, []Size{{"tiny", 10}}, Limits{}, noTools)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 20 || res.Height != 40 {
		t.Errorf("dimensions %dx%d, want 20x40", res.Width, res.Height)
	}
	img := decodeThumb(t, "tiny", res.Thumbs["tiny"])
	if got := img.Bounds().Size(); got != image.Pt(5, 10) {
		t.Errorf("thumbnail is %v, want 5x10", got)
	}

	if _, err := MakeFromFile(t.Context(), "testdata/missing.jpg", TypeJPEG, 1, nil, Limits{}, noTools); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestMakeDimensionsOnly(t *testing.T) {
	t.Parallel()
	_, data := fixture(t, "big-orient-6.jpg")
	res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeJPEG, 6, []Size{}, Limits{}, noTools)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 1000 || res.Height != 1600 || len(res.Thumbs) != 0 || res.Thumbs == nil {
		t.Errorf("got %dx%d and %d thumbnails (nil map: %t), want 1000x1600, none, empty map",
			res.Width, res.Height, len(res.Thumbs), res.Thumbs == nil)
	}
}

func TestMakeRejects(t *testing.T) {
	t.Parallel()
	_, jpg := fixture(t, "orient-1.jpg")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		data        []byte
		contentType string
		sizes       []Size
		want        error // nil: any error
	}{
		{"unknown type", t.Context(), jpg, "image/tiff", nil, errors.ErrUnsupported},
		{"corrupt JPEG", t.Context(), jpg[:len(jpg)/2], TypeJPEG, nil, nil},
		{"not a PNG", t.Context(), jpg, TypePNG, nil, nil},
		{"empty", t.Context(), nil, TypeGIF, nil, nil},
		{"size without a name", t.Context(), jpg, TypeJPEG, []Size{{"", 10}}, nil},
		{"size without a bound", t.Context(), jpg, TypeJPEG, []Size{{"x", 0}}, nil},
		{"size named twice", t.Context(), jpg, TypeJPEG, []Size{{"x", 10}, {"x", 20}}, nil},
		{"cancelled", cancelled, jpg, TypeJPEG, nil, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Make(tt.ctx, bytes.NewReader(tt.data), int64(len(tt.data)), tt.contentType, 1, tt.sizes, Limits{}, noTools)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMakeAnimatedWebP(t *testing.T) {
	t.Parallel()
	_, data := fixture(t, "anim.webp")
	res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeWebP, 1, nil, Limits{}, noTools)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 40 || res.Height != 20 || len(res.Thumbs) != 0 {
		t.Errorf("got %dx%d with %d thumbnails, want 40x20 and none", res.Width, res.Height, len(res.Thumbs))
	}
}

func TestMakeRefusesOtherTypes(t *testing.T) {
	t.Parallel()
	pdf := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	for _, ct := range []string{"application/pdf", "image/heic-sequence", "image/svg+xml"} {
		if _, err := Make(t.Context(), bytes.NewReader(pdf), int64(len(pdf)), ct, 1, nil, Limits{}); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want errors.ErrUnsupported", ct, err)
		}
	}
}

// pngHeader crafts a PNG that declares w x h RGBA pixels, followed by a
// little deflate stream of zeros: a few hundred bytes that would inflate to
// w*h*4 bytes (40 GB for 100000x100000) if anyone decoded them.
func pngHeader(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, deflate, no filter, no interlace
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 64<<10))
	_ = zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegHeader crafts the start of a baseline JFIF JPEG declaring w x h.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xff, 0xd8} // SOI
	b = append(b, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	b = append(b, 0xff, 0xc0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	return append(b, make([]byte, 200)...)
}

// gifHeader crafts a GIF header whose logical screen is w x h.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0, 0, 0, 0x3b)
	return b
}

// webpHeader crafts an extended WebP (VP8X) whose canvas is w x h.
func webpHeader(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	vp8x = append(vp8x, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	body := append([]byte("WEBPVP8X"), 10, 0, 0, 0)
	body = append(body, vp8x...)
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(b, body...)
}

func TestDecompressionBomb(t *testing.T) {
	// Not parallel: the allocation count below must be this test's alone.
	tests := []struct {
		name        string
		data        []byte
		contentType string
		lim         Limits
		want        error // nil: any error, as long as it comes from the header
	}{
		{"PNG 100000x100000", pngHeader(t, 100000, 100000), TypePNG, Limits{}, ErrTooLarge},
		{"PNG strip 30000x10 over the side limit", pngHeader(t, 30000, 10), TypePNG, Limits{}, ErrTooLarge},
		{"PNG 8000x8000 over 50 MP", pngHeader(t, 8000, 8000), TypePNG, Limits{}, ErrTooLarge},
		{"PNG 200x200 over a custom limit", pngHeader(t, 200, 200), TypePNG, Limits{MaxPixels: 100 * 100}, ErrTooLarge},
		// image/png refuses this itself, as its size overflows.
		{"PNG 2147483647 square", pngHeader(t, 1<<31-1, 1<<31-1), TypePNG, Limits{}, nil},
		{"JPEG 65000x65000", jpegHeader(65000, 65000), TypeJPEG, Limits{}, ErrTooLarge},
		{"GIF 65535x65535", gifHeader(65535, 65535), TypeGIF, Limits{}, ErrTooLarge},
		{"WebP 16384x16384", webpHeader(16384, 16384), TypeWebP, Limits{}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > 1024 {
				t.Fatalf("the crafted file is %d bytes; it should be tiny", len(tt.data))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Make(t.Context(), bytes.NewReader(tt.data), int64(len(tt.data)), tt.contentType, 1, nil, tt.lim, noTools)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			// Decoding would need gigabytes; refusing from the header needs
			// a read buffer.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("allocated %d bytes before refusing", alloc)
			}
			t.Logf("refused in %v: %v", elapsed, err)
		})
	}
}

func TestFit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w, h, max, wantW, wantH int
	}{
		{40, 20, 320, 40, 20},          // never upscaled
		{320, 320, 320, 320, 320},      // exactly at the bound
		{1600, 1000, 1280, 1280, 800},  // landscape
		{1000, 1600, 1280, 800, 1280},  // portrait
		{1000, 1600, 320, 200, 320},    // portrait, small
		{640, 360, 320, 320, 180},      // 16:9
		{100000, 3, 320, 320, 1},       // a strip keeps a pixel
		{3, 100000, 320, 1, 320},       // a column too
		{1001, 999, 100, 100, 100},     // rounds to nearest
		{20000, 2500, 1280, 1280, 160}, // large sides do not overflow
	}
	for _, tt := range tests {
		w, h := fit(tt.w, tt.h, tt.max)
		if w != tt.wantW || h != tt.wantH {
			t.Errorf("fit(%d, %d, %d) = %dx%d, want %dx%d", tt.w, tt.h, tt.max, w, h, tt.wantW, tt.wantH)
		}
	}
}

// TestOrientExhaustive checks every orientation pixel by pixel against
// EXIF's own description of it as mirroring then turning, on a picture
// whose every pixel is distinct.
func TestOrientExhaustive(t *testing.T) {
	t.Parallel()
	const w, h = 5, 3
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 0, 0xff})
		}
	}
	// The displayed picture as rows of stored (x, y), from the EXIF
	// specification's drawings for a 5x3 picture.
	mirrorX := func(x, y int) (int, int) { return w - 1 - x, y }
	tests := []struct {
		orientation int
		from        func(x, y int) (int, int) // shown (x, y) -> stored (x, y)
	}{
		{1, func(x, y int) (int, int) { return x, y }},
		{2, mirrorX},
		{3, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }},
		{4, func(x, y int) (int, int) { return x, h - 1 - y }},
		// 5: mirrored, then shown turned a quarter anticlockwise.
		{5, func(x, y int) (int, int) { return mirrorX(w-1-y, x) }},
		// 6: shown turned a quarter clockwise.
		{6, func(x, y int) (int, int) { return y, h - 1 - x }},
		// 7: mirrored, then shown turned a quarter clockwise.
		{7, func(x, y int) (int, int) { return mirrorX(y, h-1-x) }},
		// 8: shown turned a quarter anticlockwise.
		{8, func(x, y int) (int, int) { return w - 1 - y, x }},
	}
	for _, tt := range tests {
		got := orient(src, tt.orientation)
		ow, oh := orientedSize(w, h, tt.orientation)
		if got.Bounds() != image.Rect(0, 0, ow, oh) {
			t.Fatalf("orientation %d: bounds %v, want %dx%d", tt.orientation, got.Bounds(), ow, oh)
		}
		for y := range oh {
			for x := range ow {
				sx, sy := tt.from(x, y)
				if c := got.RGBAAt(x, y); int(c.R) != sx || int(c.G) != sy {
					t.Errorf("orientation %d: shown (%d,%d) is stored (%d,%d), want (%d,%d)",
						tt.orientation, x, y, c.R, c.G, sx, sy)
				}
			}
		}
	}
}

func TestBoxShrink(t *testing.T) {
	t.Parallel()
	// A 5x3 picture shrunk by 2: blocks are averaged, and the ones cut by
	// the right and bottom edges average what they have.
	src := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.NRGBA{200, 100, 0, 255}), image.Point{}, draw.Src)
	src.SetNRGBA(0, 0, color.NRGBA{0, 0, 0, 255})
	// A transparent pixel must not darken its block.
	src.SetNRGBA(2, 0, color.NRGBA{0, 0, 0, 0})
	got := boxShrink(src, 2)
	if got.Bounds() != image.Rect(0, 0, 3, 2) {
		t.Fatalf("bounds %v, want 3x2", got.Bounds())
	}
	want := map[image.Point]color.RGBA{
		{0, 0}: {150, 75, 0, 255},  // one black pixel of four
		{1, 0}: {150, 75, 0, 191},  // one transparent of four, premultiplied
		{2, 0}: {200, 100, 0, 255}, // a 1x2 block
		{2, 1}: {200, 100, 0, 255}, // a 1x1 block
	}
	for p, c := range want {
		if g := got.RGBAAt(p.X, p.Y); g != c {
			t.Errorf("pixel %v = %v, want %v", p, g, c)
		}
	}

	// The YCbCr fast path agrees with the generic one for colours within
	// the RGB gamut (for the rare out-of-gamut ones, averaging before the
	// clamp of the conversion differs slightly, unseen at thumbnail size).
	ycc := image.NewYCbCr(image.Rect(0, 0, 9, 7), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(60 + i*2)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(110+i), uint8(145-i)
	}
	fast := boxShrink(ycc, 3)
	slow := boxShrink(struct{ image.Image }{ycc}, 3)
	for y := range fast.Rect.Dy() {
		for x := range fast.Rect.Dx() {
			f, s := fast.RGBAAt(x, y), slow.RGBAAt(x, y)
			if abs(int(f.R)-int(s.R)) > 3 || abs(int(f.G)-int(s.G)) > 3 || abs(int(f.B)-int(s.B)) > 3 {
				t.Errorf("pixel (%d,%d): YCbCr path %v, generic %v", x, y, f, s)
			}
		}
	}
}

func TestSpan(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	_, data := fixture(t, "orient-6.jpg")
	if _, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeJPEG, 6, nil, Limits{}, noTools, WithTracerProvider(tp)); err != nil {
		t.Fatal(err)
	}
	bomb := pngHeader(t, 100000, 100000)
	if _, err := Make(t.Context(), bytes.NewReader(bomb), int64(len(bomb)), TypePNG, 1, nil, Limits{}, noTools, WithTracerProvider(tp)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	ok, failed := spans[0], spans[1]
	for _, s := range spans {
		if s.Name() != "thumb.Make" {
			t.Errorf("span named %q, want thumb.Make", s.Name())
		}
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value
		}
		return m
	}
	a := attrs(ok)
	if a[attrContentType].AsString() != TypeJPEG || a[attrWidth].AsInt64() != 20 || a[attrHeight].AsInt64() != 40 || a[attrThumbs].AsInt64() != 2 {
		t.Errorf("span attributes %v, want image/jpeg 20x40 with 2 thumbnails", ok.Attributes())
	}
	if got := failed.Status().Code.String(); got != "Error" {
		t.Errorf("span of a refused bomb has status %s, want Error", got)
	}
}

// BenchmarkThumbnails24MP measures the default thumbnails of a decoded
// 24 MP photo (the size phones write), turned by orientation 6.
func BenchmarkThumbnails24MP(b *testing.B) {
	src := image.NewYCbCr(image.Rect(0, 0, 6000, 4000), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i)
	}
	j := &job{ctx: context.Background(), sizes: DefaultSizes}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.thumbnails(src, 6); err != nil {
			b.Fatal(err)
		}
	}
}

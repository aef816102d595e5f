package mediacheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// SamePicture returns an error unless stored shows the same picture (or
// plays the same film) as orig, to the pixel and to the sample:
//   - JPEG, PNG and WebP: both decoded with Go's decoders (WebP with
//     golang.org/x/image/webp), compared pixel by pixel; an animated WebP,
//     which no Go decoder reads, by its frames: the same frame headers and
//     the same coded frames (ALPH, VP8, VP8L payloads), in order;
//   - GIF: every frame, and its delay and disposal, compared;
//   - HEIC/HEIF: both converted to PNG by heif-convert, compared pixel by
//     pixel (the primary picture, with its rotation and mirroring applied);
//   - MP4, QuickTime, 3GP and WebM: the frame checksums ffmpeg computes for
//     the video streams (ffmpeg -map 0:v -f framemd5), and for the audio
//     streams when there are any, are the same. Other streams (subtitles,
//     data, timed metadata) are not part of the film: a rebuild drops them.
//
// When heif-convert or ffmpeg/ffprobe is missing the test is skipped, or
// fails when KINBRIDGE_TEST_REQUIRE names the tool (see testenv.Tool):
// call it after the checks that need no tool.
func SamePicture(t testing.TB, contentType string, orig, stored []byte) error {
	t.Helper()
	switch contentType {
	case "image/jpeg":
		return samePixels(orig, stored, func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) })
	case "image/png":
		return samePixels(orig, stored, func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) })
	case "image/webp":
		if webpAnimated(orig) {
			return sameWebPFrames(orig, stored)
		}
		return samePixels(orig, stored, func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) })
	case "image/gif":
		return sameGIF(orig, stored)
	case "image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence":
		return sameHEIF(t, orig, stored)
	case "video/mp4", "video/quicktime", "video/3gpp", "video/webm":
		return sameFilm(t, orig, stored)
	}
	return fmt.Errorf("SamePicture: no comparison for %q", contentType)
}

// samePixels decodes both files and compares their pixels.
func samePixels(orig, stored []byte, decode func([]byte) (image.Image, error)) error {
	a, err := decode(orig)
	if err != nil {
		return fmt.Errorf("decoding the original: %w", err)
	}
	b, err := decode(stored)
	if err != nil {
		return fmt.Errorf("decoding the stored copy: %w", err)
	}
	return compareImages(a, b)
}

// compareImages reports the first pixel that differs, in 16-bit RGBA.
func compareImages(a, b image.Image) error {
	if a.Bounds() != b.Bounds() {
		return fmt.Errorf("stored copy is %v, the original %v", b.Bounds(), a.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, aa := a.At(x, y).RGBA()
			br, bg, bb, ba := b.At(x, y).RGBA()
			if ar != br || ag != bg || ab != bb || aa != ba {
				return fmt.Errorf("pixel (%d,%d) is %04x%04x%04x%04x in the stored copy, %04x%04x%04x%04x in the original",
					x, y, br, bg, bb, ba, ar, ag, ab, aa)
			}
		}
	}
	return nil
}

// sameGIF compares every frame of two GIFs and how they are shown.
func sameGIF(orig, stored []byte) error {
	a, err := gif.DecodeAll(bytes.NewReader(orig))
	if err != nil {
		return fmt.Errorf("decoding the original: %w", err)
	}
	b, err := gif.DecodeAll(bytes.NewReader(stored))
	if err != nil {
		return fmt.Errorf("decoding the stored copy: %w", err)
	}
	if len(a.Image) != len(b.Image) {
		return fmt.Errorf("stored copy has %d frames, the original %d", len(b.Image), len(a.Image))
	}
	if a.Config.Width != b.Config.Width || a.Config.Height != b.Config.Height {
		return fmt.Errorf("stored copy is %dx%d, the original %dx%d", b.Config.Width, b.Config.Height, a.Config.Width, a.Config.Height)
	}
	if a.LoopCount != b.LoopCount {
		return fmt.Errorf("stored copy loops %d times, the original %d", b.LoopCount, a.LoopCount)
	}
	for i := range a.Image {
		if err := compareImages(a.Image[i], b.Image[i]); err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if a.Delay[i] != b.Delay[i] || a.Disposal[i] != b.Disposal[i] {
			return fmt.Errorf("frame %d: delay %d disposal %d, the original %d %d", i, b.Delay[i], b.Disposal[i], a.Delay[i], a.Disposal[i])
		}
	}
	return nil
}

// sameHEIF converts both pictures to PNG with heif-convert and compares
// the pixels.
func sameHEIF(t testing.TB, orig, stored []byte) error {
	t.Helper()
	bin := testenv.Tool(t, "heif-convert")
	if bin == "" {
		return nil // skipped
	}
	dir := t.TempDir()
	convert := func(name string, data []byte) (image.Image, error) {
		in := filepath.Join(dir, name+".heic")
		out := filepath.Join(dir, name+".png")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			return nil, err
		}
		if msg, err := runTool(bin, in, out); err != nil {
			return nil, fmt.Errorf("heif-convert %s: %v: %s", name, err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return nil, fmt.Errorf("heif-convert %s wrote no PNG: %v", name, err)
		}
		return png.Decode(bytes.NewReader(b))
	}
	a, err := convert("original", orig)
	if err != nil {
		return err
	}
	b, err := convert("stored", stored)
	if err != nil {
		return err
	}
	return compareImages(a, b)
}

// sameFilm compares the frame checksums of the video (and audio) streams.
func sameFilm(t testing.TB, orig, stored []byte) error {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	ffprobe := testenv.Tool(t, "ffprobe")
	if ffmpeg == "" || ffprobe == "" {
		return nil // skipped
	}
	dir := t.TempDir()
	paths := [2]string{filepath.Join(dir, "original"), filepath.Join(dir, "stored")}
	for i, data := range [][]byte{orig, stored} {
		if err := os.WriteFile(paths[i], data, 0o600); err != nil {
			return err
		}
	}
	var kinds [2]string
	for i, p := range paths {
		out, err := runTool(ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", p)
		if err != nil {
			return fmt.Errorf("ffprobe cannot read the %s file: %v: %s", filepath.Base(p), err, out)
		}
		var av []string
		// A stream with side data (a display matrix) prints more fields
		// after its type.
		for _, k := range strings.FieldsFunc(out, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' }) {
			if k == "video" || k == "audio" {
				av = append(av, k)
			}
		}
		kinds[i] = strings.Join(av, ",")
	}
	if kinds[0] != kinds[1] {
		return fmt.Errorf("stored copy has streams %q, the original %q", kinds[1], kinds[0])
	}
	maps := []string{"0:v"}
	if strings.Contains(kinds[0], "audio") {
		maps = append(maps, "0:a")
	}
	if !strings.Contains(kinds[0], "video") {
		return errors.New("the original has no video stream")
	}
	for _, m := range maps {
		var sums [2]string
		for i, p := range paths {
			out, err := runTool(ffmpeg, "-v", "error", "-i", p, "-map", m, "-f", "framemd5", "-")
			if err != nil {
				return fmt.Errorf("ffmpeg cannot decode %s of the %s file: %v: %s", m, filepath.Base(p), err, out)
			}
			sums[i] = out
		}
		if sums[0] != sums[1] {
			return fmt.Errorf("%s frames differ:\noriginal:\n%s\nstored:\n%s", m, sums[0], sums[1])
		}
	}
	return nil
}

// runTool runs a program with the tool timeout and returns its standard
// output (its standard error when it fails).
func runTool(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), err
	}
	return stdout.String(), nil
}

// webpAnimated reports whether a WebP's VP8X header sets the animation flag.
func webpAnimated(b []byte) bool {
	return len(b) >= 21 && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// sameWebPFrames compares two animated WebPs frame by frame: each ANMF's
// 16-byte header (position, size, duration, blending) and its coded image
// chunks, in order. Equal coded frames decode to equal pixels.
func sameWebPFrames(orig, stored []byte) error {
	a, err := webpFrames(orig)
	if err != nil {
		return fmt.Errorf("the original: %w", err)
	}
	b, err := webpFrames(stored)
	if err != nil {
		return fmt.Errorf("the stored copy: %w", err)
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d frames, the original has %d", len(b), len(a))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return fmt.Errorf("frame %d differs", i)
		}
	}
	return nil
}

// webpFrames returns, per ANMF chunk, its header followed by the type,
// size and payload of each ALPH, VP8 or VP8L sub-chunk.
func webpFrames(b []byte) ([][]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("not a WebP")
	}
	end := min(len(b), 8+int(binary.LittleEndian.Uint32(b[4:])))
	var frames [][]byte
	for off := 12; off+8 <= end; {
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 0 || n > end-off-8 {
			return nil, fmt.Errorf("chunk %q at %d runs past the file", b[off:off+4], off)
		}
		if string(b[off:off+4]) == "ANMF" && n >= 16 {
			body := b[off+8 : off+8+n]
			frame := append([]byte(nil), body[:16]...)
			for p := 16; p+8 <= len(body); {
				k := int(binary.LittleEndian.Uint32(body[p+4:]))
				if k < 0 || k > len(body)-p-8 {
					return nil, fmt.Errorf("frame chunk %q runs past its frame", body[p:p+4])
				}
				switch string(body[p : p+4]) {
				case "ALPH", "VP8 ", "VP8L":
					frame = append(frame, body[p:p+8+k]...)
				}
				p += 8 + k + k%2
			}
			frames = append(frames, frame)
		}
		off += 8 + n + n%2
	}
	if len(frames) == 0 {
		return nil, errors.New("no frames")
	}
	return frames, nil
}

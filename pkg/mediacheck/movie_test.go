package mediacheck

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestWriteMovie: the file has the asked size and holds only allowed
// structures, and ffprobe reads it as a video.
func TestWriteMovie(t *testing.T) {
	for _, size := range []int64{2000, 1 << 20} {
		var b bytes.Buffer
		if err := WriteMovie(&b, size, [32]byte{1}); err != nil {
			t.Fatal(err)
		}
		if int64(b.Len()) != size {
			t.Fatalf("wrote %d bytes, want %d", b.Len(), size)
		}
		if v := Structure(b.Bytes(), "video/mp4"); len(v) > 0 {
			t.Fatalf("size %d:\n%s", size, strings.Join(v, "\n"))
		}
		if ffprobe := testenv.Tool(t, "ffprobe"); ffprobe != "" {
			p := filepath.Join(t.TempDir(), "m.mp4")
			os.WriteFile(p, b.Bytes(), 0o600)
			out, err := runTool(ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", p)
			if err != nil || strings.TrimSpace(out) != "video" {
				t.Fatalf("ffprobe: %v %q", err, out)
			}
		}
	}
	if err := WriteMovie(&bytes.Buffer{}, 100, [32]byte{}); err == nil {
		t.Error("a size too small for the boxes was accepted")
	}
}

package thumb

import (
	"bytes"
	"errors"
	"image"
	"io/fs"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestHEICWithoutConverter(t *testing.T) {
	t.Parallel()
	_, data := fixture(t, "photo.heic")
	res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeHEIC, 1, nil, Limits{}, noTools)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 400 || res.Height != 200 || len(res.Thumbs) != 0 {
		t.Errorf("got %dx%d with %d thumbnails, want 400x200 (from 'ispe') and none", res.Width, res.Height, len(res.Thumbs))
	}
}

func TestHEICRefusals(t *testing.T) {
	t.Parallel()
	// heif-convert must never run on these: a program that does not exist
	// stands in for it, so running it would fail differently.
	never := WithTools(Tools{HeifConvert: "/nonexistent/heif-convert"})
	tests := []struct {
		name string
		data []byte
		want error // nil: any error
	}{
		{"bomb", heifFile(heifMeta(100000, 100000, 0)), ErrTooLarge},
		{"turned strip", heifFile(heifMeta(10, 30000, 1)), ErrTooLarge},
		{"no meta", heifFile(nil), nil},
		{"garbage", []byte("not a HEIF file at all"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Make(t.Context(), bytes.NewReader(tt.data), int64(len(tt.data)), TypeHEIC, 1, nil, Limits{}, never)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("heif-convert was run: %v", err)
			}
		})
	}
}

func TestHEIC(t *testing.T) {
	t.Parallel()
	conv := testenv.Tool(t, "heif-convert")
	tools := WithTools(Tools{HeifConvert: conv})
	path, data := fixture(t, "photo.heic")
	heifPath, _ := fixture(t, "photo.heif")
	makers := map[string]func() (Result, error){
		// A plain HEIF (generic brands only) takes the same path.
		"heif": func() (Result, error) {
			return MakeFromFile(t.Context(), heifPath, TypeHEIF, 6, nil, Limits{}, tools)
		},
		// In place, as the local blob store allows.
		"file": func() (Result, error) {
			return MakeFromFile(t.Context(), path, TypeHEIC, 6, nil, Limits{}, tools)
		},
		// Through a temporary copy, as for a remote blob.
		"reader": func() (Result, error) {
			return Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeHEIC, 6, nil, Limits{}, tools)
		},
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The EXIF orientation passed (6) is ignored: the HEIF container's
			// own rotation rules.
			res, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != 400 || res.Height != 200 {
				t.Errorf("dimensions %dx%d, want 400x200", res.Width, res.Height)
			}
			want := map[string]image.Point{"small": {320, 160}, "large": {400, 200}}
			for _, s := range DefaultSizes {
				img := decodeThumb(t, s.Name, res.Thumbs[s.Name])
				checkFits(t, s.Name, img, 400, 200, s.Max)
				if got := img.Bounds().Size(); got != want[s.Name] {
					t.Errorf("thumbnail %q is %v, want %v", s.Name, got, want[s.Name])
				}
				checkCorners(t, s.Name, img, corners{red, lime, blue, white})
			}
		})
	}

	t.Run("over the spool limit", func(t *testing.T) {
		t.Parallel()
		res, err := Make(t.Context(), bytes.NewReader(data), int64(len(data)), TypeHEIC, 1, nil, Limits{}, tools, WithSpoolLimit(10))
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 400 || len(res.Thumbs) != 0 {
			t.Errorf("got width %d and %d thumbnails, want 400 and none", res.Width, len(res.Thumbs))
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		t.Parallel()
		// A valid header over garbage: heif-convert fails, and says why.
		bad := heifFile(heifMeta(64, 64, 0))
		_, err := Make(t.Context(), bytes.NewReader(bad), int64(len(bad)), TypeHEIC, 1, nil, Limits{}, tools)
		if err == nil {
			t.Fatal("no error")
		}
		t.Logf("error, as expected: %v", err)
	})
}

package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestManifestMatchesFiles checks that manifest.json and files/ agree and
// that every line is well formed. It reads both from disk rather than
// through All, which panics on a mismatch.
func TestManifestMatchesFiles(t *testing.T) {
	raw, err := os.ReadFile("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	des, err := os.ReadDir("files")
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	for _, d := range des {
		onDisk[d.Name()] = true
	}
	listed := map[string]bool{}
	markers := map[string]string{}
	for _, e := range m.Entries {
		if listed[e.Name] {
			t.Errorf("%s: listed twice", e.Name)
		}
		listed[e.Name] = true
		if !onDisk[e.Name] {
			t.Errorf("%s: listed but not in files/", e.Name)
		}
		if e.ContentType == "" || e.Format == "" || e.Shape == "" {
			t.Errorf("%s: content_type, format and shape are required: %+v", e.Name, e)
		}
		if e.Expect != ExpectClean && e.Expect != ExpectRefused {
			t.Errorf("%s: expect %q is neither %q nor %q", e.Name, e.Expect, ExpectClean, ExpectRefused)
		}
		if e.Marker != "" {
			if want := "KBLOC-" + strings.TrimSuffix(e.Name, filepath.Ext(e.Name)); e.Marker != want {
				t.Errorf("%s: marker %q, want %q", e.Name, e.Marker, want)
			}
			if other, ok := markers[e.Marker]; ok {
				t.Errorf("%s: marker %q also used by %s", e.Name, e.Marker, other)
			}
			markers[e.Marker] = e.Name
		}
	}
	for name := range onDisk {
		if !listed[name] {
			t.Errorf("%s: in files/ but not in manifest.json", name)
		}
	}
	if names := Names(); len(names) != len(onDisk) {
		t.Errorf("embedded files/ has %d files, disk has %d", len(names), len(onDisk))
	}
}

// TestEntriesPlant checks that every input plants something the manifest
// can show: an input that plants nothing proves nothing.
func TestEntriesPlant(t *testing.T) {
	all := All()
	if len(all) == 0 {
		t.Fatal("empty corpus")
	}
	total := 0
	formats := map[string]int{}
	for _, e := range all {
		total += len(e.Data)
		formats[e.Format]++
		if e.Marker == "" && !e.Exiftool {
			t.Errorf("%s: neither a marker nor a position exiftool reports: it plants nothing", e.Name)
		}
		if e.Marker != "" && !e.HasMarker(e.Data) {
			t.Errorf("%s: marker %q is not in the file", e.Name, e.Marker)
		}
		if len(e.Data) > 16<<10 {
			t.Errorf("%s: %d bytes; corpus files stay a few KB", e.Name, len(e.Data))
		}
	}
	if total > 2<<20 {
		t.Errorf("corpus is %d bytes, want well under 2 MB", total)
	}
	for _, f := range []string{"jpeg", "png", "webp", "gif", "heic", "mp4", "webm"} {
		if formats[f] == 0 {
			t.Errorf("no %s entry", f)
		}
	}
	t.Logf("%d entries, %d bytes, per format %v", len(all), total, formats)
}

// TestImagesDecode checks that every clean JPEG, PNG and GIF still shows a
// picture to Go's decoders: the shapes hide a position, they do not break
// the image (those are the "refused" entries).
func TestImagesDecode(t *testing.T) {
	for _, e := range All() {
		if e.Expect != ExpectClean || !slices.Contains([]string{"jpeg", "png", "gif"}, e.Format) {
			continue
		}
		img, format, err := image.Decode(bytes.NewReader(e.Data))
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if format != e.Format || img.Bounds().Dx() != 16 || img.Bounds().Dy() != 16 {
			t.Errorf("%s: decodes as a %s of %v, want a 16x16 %s", e.Name, format, img.Bounds(), e.Format)
		}
	}
}

// TestToolsDecode checks with ffmpeg and heif-convert that every clean film
// and HEIF plays or decodes, when those tools are installed.
func TestToolsDecode(t *testing.T) {
	for _, tc := range []struct{ format, group, prog, pkg string }{
		{"mp4", "ffmpeg", "ffmpeg", "ffmpeg"},
		{"webm", "ffmpeg", "ffmpeg", "ffmpeg"},
		{"heic", "heif", "heif-convert", "libheif-examples"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			if _, err := exec.LookPath(tc.prog); err != nil {
				testenv.SkipOrFail(t, tc.group, tc.prog+" is not on PATH (apt-get install "+tc.pkg+")")
			}
			dir := t.TempDir()
			for _, e := range All() {
				if e.Format != tc.format || e.Expect != ExpectClean {
					continue
				}
				var cmd *exec.Cmd
				if tc.prog == "ffmpeg" {
					cmd = exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join("files", e.Name), "-f", "null", "-")
				} else {
					cmd = exec.Command("heif-convert", filepath.Join("files", e.Name), filepath.Join(dir, "out.png"))
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: %s: %v\n%s", e.Name, tc.prog, err, out)
				}
			}
		})
	}
}

// TestExiftoolReports runs exiftool -a -G1 -ee on the whole corpus: every
// entry marked exiftool must show the planted position. An entry that is
// not marked but shows it anyway is only logged (a newer exiftool may read
// more shapes).
func TestExiftoolReports(t *testing.T) {
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		testenv.SkipOrFail(t, "exiftool", "exiftool is not on PATH (apt-get install libimage-exiftool-perl)")
	}
	all := All()
	args := []string{"-a", "-G1", "-ee", "-j"}
	for _, e := range all {
		args = append(args, filepath.Join("files", e.Name))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("exiftool: %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("exiftool output: %v", err)
	}
	bySource := map[string]map[string]any{}
	for _, r := range res {
		bySource[filepath.Base(fmt.Sprint(r["SourceFile"]))] = r
	}
	for _, e := range all {
		r, ok := bySource[e.Name]
		if !ok {
			t.Errorf("%s: exiftool says nothing about it", e.Name)
			continue
		}
		found := positionTags(r)
		switch {
		case e.Exiftool && len(found) == 0:
			t.Errorf("%s: marked exiftool, but exiftool -a -G1 -ee reports no position (shape: %s)", e.Name, e.Shape)
		case !e.Exiftool && len(found) > 0:
			t.Logf("%s: not marked exiftool, but exiftool reports %v", e.Name, found)
		}
	}
}

// positionTags returns the tags of one exiftool -j record that show the
// planted position: a GPS coordinate (printed as "48 deg 51' ..." or as a
// decimal), the ISO 6709 string, or a place name.
func positionTags(r map[string]any) []string {
	var found []string
	for k, v := range r {
		if k == "SourceFile" || strings.HasPrefix(k, "System:") {
			continue
		}
		s := fmt.Sprint(v)
		for _, trace := range []string{"48 deg 51'", "48.8584", "+48.8584+002.2945", "Paris", "France"} {
			if strings.Contains(s, trace) {
				found = append(found, k+"="+s)
				break
			}
		}
	}
	slices.Sort(found)
	return found
}

// Command gen writes the corpus: every hand-built shape, made from the clean
// base files that make.sh has the tools write, plus copies of the shapes the
// tools write themselves, and manifest.json. Run it through make.sh:
//
//	go run ./internal/gen -in <folder of base files> -out <corpus folder>
//
// Its output depends only on its input, so regenerating from the same bases
// gives the same bytes.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/kinbridge/kinbridge/pkg/mediacheck/corpus"
)

// The position planted everywhere: the Eiffel Tower.
const (
	iso6709 = "+48.8584+002.2945/"
	place   = "Paris, France"
)

// shape is one corpus file: its manifest line and how to build it.
type shape struct {
	id       string // shape id: the file name without extension, and the marker's tail
	ext      string
	ctype    string
	format   string
	prose    string
	marker   bool   // the file holds marker(id)
	exiftool bool   // exiftool -a -G1 -ee reports the position
	refused  bool   // broken on purpose: the suite must answer 400
	tool     string // copied from this base file instead of built
	build    func(in *inputs, id string) []byte
}

type manifest struct {
	About    string         `json:"about"`
	Position string         `json:"position"`
	Entries  []corpus.Entry `json:"entries"`
}

// inputs reads the base files once.
type inputs struct {
	dir   string
	cache map[string][]byte
}

func (in *inputs) get(name string) []byte {
	if b, ok := in.cache[name]; ok {
		return bytes.Clone(b)
	}
	b, err := os.ReadFile(filepath.Join(in.dir, name))
	if err != nil {
		log.Fatal(err)
	}
	in.cache[name] = b
	return bytes.Clone(b)
}

// marker is the unique string planted in the file of shape id.
func marker(id string) string { return "KBLOC-" + id }

// payload is the text planted where a format has free text: the marker, the
// ISO 6709 position and the place.
func payload(id string) string { return marker(id) + " " + iso6709 + " " + place }

func main() {
	inDir := flag.String("in", "", "folder of base files written by make.sh")
	outDir := flag.String("out", ".", "corpus folder (files/ and manifest.json are written there)")
	flag.Parse()
	if *inDir == "" {
		log.Fatal("gen: -in is required")
	}
	in := &inputs{dir: *inDir, cache: map[string][]byte{}}
	files := filepath.Join(*outDir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		log.Fatal(err)
	}
	m := manifest{
		About: "Adversarial location corpus for the media suite; see corpus.go. " +
			"Regenerate with make.sh.",
		Position: iso6709 + " (Eiffel Tower), " + place,
	}
	seen := map[string]bool{}
	for _, s := range shapes() {
		if seen[s.id] {
			log.Fatalf("gen: shape %s twice", s.id)
		}
		seen[s.id] = true
		var data []byte
		if s.tool != "" {
			data = in.get(s.tool)
		} else {
			data = s.build(in, s.id)
		}
		if s.marker && !holdsMarker(data, marker(s.id)) {
			log.Fatalf("gen: %s does not hold its marker", s.id)
		}
		name := s.id + "." + s.ext
		if err := os.WriteFile(filepath.Join(files, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
		e := corpus.Entry{Name: name, ContentType: s.ctype, Format: s.format, Shape: s.prose,
			Exiftool: s.exiftool, Expect: "clean"}
		if s.marker {
			e.Marker = marker(s.id)
		}
		if s.refused {
			e.Expect = "refused"
		}
		m.Entries = append(m.Entries, e)
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	out = append(out, '\n')
	if err := os.WriteFile(filepath.Join(*outDir, "manifest.json"), out, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("gen: %d shapes\n", len(m.Entries))
}

// shapes lists the corpus in manifest order.
func shapes() []shape {
	var all []shape
	for _, f := range [][]shape{jpegShapes(), pngShapes(), webpShapes(), gifShapes(),
		heicShapes(), mp4Shapes(), webmShapes()} {
		all = append(all, f...)
	}
	for i := range all {
		if !strings.HasPrefix(all[i].id, all[i].format) && all[i].format != "mp4" {
			log.Fatalf("gen: shape %s does not start with its format %s", all[i].id, all[i].format)
		}
	}
	return all
}

func be16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func be32(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
func le16(v int) []byte { return []byte{byte(v), byte(v >> 8)} }
func le32(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func must(ok bool, what string) {
	if !ok {
		log.Fatalf("gen: %s", what)
	}
}

// holdsMarker reports whether data holds m in ASCII, UTF-16 or UTF-32 of
// either byte order (XMP may be written in any of them); corpus.Entry's
// HasMarker is the same test.
func holdsMarker(data []byte, m string) bool {
	for _, form := range [][]byte{[]byte(m), encodeUTF(m, 16, false), encodeUTF(m, 16, true),
		encodeUTF(m, 32, false), encodeUTF(m, 32, true)} {
		if bytes.Contains(data, form) {
			return true
		}
	}
	return false
}

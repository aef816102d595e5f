// Package corpus is the adversarial corpus the whole-stack media tests
// upload to prove that no position survives ingest: small pictures and
// films (16x16, one or two frames, a few KB each) that each plant the
// Eiffel Tower's position (48.8584 N, 2.2945 E, ISO 6709
// "+48.8584+002.2945/", "Paris", "France") in one shape of one format:
// ordinary EXIF/XMP/IPTC, header variants a lenient reader accepts, GPS
// IFDs reached through unusual links, metadata under case-variant or
// private names, data after an end marker or past a declared size, extra
// items and boxes, timed metadata tracks, and so on.
//
// manifest.json describes every file in files/ (see [Entry]). Hand-built
// files also carry a unique marker, "KBLOC-<shape>", next to the position:
// for shapes exiftool cannot parse it is the only evidence, and in any
// stored copy it is proof that the shape survived. make.sh regenerates the
// corpus with the tools and internal/gen; the tests here check that every
// input plants what the manifest says.
package corpus

import (
	"bytes"
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path"
	"unicode/utf16"
)

//go:embed files manifest.json
var content embed.FS

// The position planted in every file.
const (
	Latitude  = 48.8584
	Longitude = 2.2945
	ISO6709   = "+48.8584+002.2945/"
)

// What the suite must do with an entry (Entry.Expect).
const (
	// ExpectClean: the upload is stored, and the stored copy carries no
	// position and no marker.
	ExpectClean = "clean"
	// ExpectRefused: the structure is broken on purpose (a reader cannot
	// walk it completely), and the upload is refused with 400.
	ExpectRefused = "refused"
)

// Entry is one corpus file and its manifest line.
type Entry struct {
	// Name is the file's name in files/, e.g. "jpeg-exif-ff.jpg".
	Name string `json:"name"`
	// ContentType is the type to upload it as, e.g. "image/jpeg".
	ContentType string `json:"content_type"`
	// Format is the family: jpeg, png, webp, gif, heic, mp4 (MP4, MOV and
	// 3GP) or webm.
	Format string `json:"format"`
	// Shape says in one line where the position is planted.
	Shape string `json:"shape"`
	// Marker, when set, is a unique string planted with the position (see
	// HasMarker for the encodings it may appear in).
	Marker string `json:"marker,omitempty"`
	// Exiftool is true when `exiftool -a -G1 -ee` reports the planted
	// position in the input (ExifTool 12.57); false means the shape is
	// invisible to it and only Marker shows it.
	Exiftool bool `json:"exiftool"`
	// Expect is ExpectClean or ExpectRefused.
	Expect string `json:"expect"`
	// Data is the file's bytes (a fresh copy for each call of All).
	Data []byte `json:"-"`
}

// HasMarker reports whether b holds the entry's marker in ASCII/UTF-8 or in
// UTF-16 or UTF-32 of either byte order (XMP packets may be written in any
// of them). It is false for an entry without a marker.
func (e Entry) HasMarker(b []byte) bool {
	if e.Marker == "" {
		return false
	}
	for _, form := range MarkerForms(e.Marker) {
		if bytes.Contains(b, form) {
			return true
		}
	}
	return false
}

// MarkerForms returns m in every encoding a corpus file may hold it in.
func MarkerForms(m string) [][]byte {
	forms := [][]byte{[]byte(m)}
	for _, bo := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
		var u16, u32 []byte
		for _, u := range utf16.Encode([]rune(m)) {
			u16 = bo.AppendUint16(u16, u)
		}
		for _, r := range m {
			u32 = bo.AppendUint32(u32, uint32(r))
		}
		forms = append(forms, u16, u32)
	}
	return forms
}

type manifest struct {
	Entries []Entry `json:"entries"`
}

// All returns every entry with its bytes, in manifest order. The corpus is
// embedded and checked by this package's tests, so a manifest that does not
// match files/ is a build mistake: All panics on it.
func All() []Entry {
	raw, err := content.ReadFile("manifest.json")
	if err != nil {
		panic(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(fmt.Sprintf("corpus: manifest.json: %v", err))
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Data, err = content.ReadFile(path.Join("files", e.Name)); err != nil {
			panic(fmt.Sprintf("corpus: %s is listed but missing: %v", e.Name, err))
		}
	}
	return m.Entries
}

// Names lists the files embedded under files/, listed or not.
func Names() []string {
	des, err := content.ReadDir("files")
	if err != nil {
		panic(err)
	}
	names := make([]string, 0, len(des))
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

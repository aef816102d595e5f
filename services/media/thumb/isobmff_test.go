package thumb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// mkbox builds a box of type typ around the concatenated parts.
func mkbox(typ string, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = append(b, typ...)
	return append(b, body...)
}

// mkfull builds a FullBox.
func mkfull(typ string, version uint8, flags uint32, parts ...[]byte) []byte {
	hdr := binary.BigEndian.AppendUint32(nil, flags&0xffffff|uint32(version)<<24)
	return mkbox(typ, append([][]byte{hdr}, parts...)...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func ispe(w, h uint32) []byte { return mkfull("ispe", 0, 0, u32(w), u32(h)) }

// heifFile wraps a 'meta' box into a file, with 'mdat' after it as phones
// write them.
func heifFile(meta []byte) []byte {
	ftyp := mkbox("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
	return bytes.Join([][]byte{ftyp, meta, mkbox("mdat", make([]byte, 64))}, nil)
}

// heifMeta builds a 'meta' box whose primary item 1 is w x h, turned by rot
// quarter turns ('irot'), beside an item 2 with a small 'ispe' of its own
// (a thumbnail, listed first to make sure the primary's is the one read).
func heifMeta(w, h uint32, rot byte) []byte {
	ipco := mkbox("ipco", ispe(w, h), mkbox("irot", []byte{rot}), ispe(160, 120))
	// Version 0, 8-bit indices with the "essential" top bit on some.
	ipma := mkfull("ipma", 0, 0, u32(2),
		u16(2), []byte{1, 3},
		u16(1), []byte{2, 0x81, 0x82})
	return mkfull("meta", 0, 0,
		mkfull("hdlr", 0, 0, u32(0), []byte("pict"), make([]byte, 13)),
		mkfull("pitm", 0, 0, u16(1)),
		mkbox("iprp", ipco, ipma))
}

func TestParseHEIFMeta(t *testing.T) {
	t.Parallel()
	body := func(meta []byte) []byte { return meta[8:] }
	tests := []struct {
		name    string
		meta    []byte
		w, h    int
		wantErr bool
	}{
		{"plain", heifMeta(4032, 3024, 0), 4032, 3024, false},
		{"quarter turn", heifMeta(4032, 3024, 1), 3024, 4032, false},
		{"half turn", heifMeta(4032, 3024, 2), 4032, 3024, false},
		{"three quarters", heifMeta(4032, 3024, 3), 3024, 4032, false},
		{
			// Version 1 (32-bit item ids), flags 1 (16-bit indices), a
			// version 1 pitm, and the primary not the first item.
			"wide ipma",
			mkfull("meta", 0, 0,
				mkfull("pitm", 1, 0, u32(70000)),
				mkbox("iprp",
					mkbox("ipco", ispe(10, 10), ispe(8000, 6000)),
					mkfull("ipma", 1, 1, u32(2),
						u32(5), []byte{1}, u16(0x8001),
						u32(70000), []byte{1}, u16(0x8002)))),
			8000, 6000, false,
		},
		{"no pitm", mkfull("meta", 0, 0, mkbox("iprp", mkbox("ipco", ispe(1, 1)))), 0, 0, true},
		{"no ispe for the primary", mkfull("meta", 0, 0,
			mkfull("pitm", 0, 0, u16(9)),
			mkbox("iprp", mkbox("ipco", ispe(1, 1)), mkfull("ipma", 0, 0, u32(1), u16(1), []byte{1, 1}))), 0, 0, true},
		{"index out of range", mkfull("meta", 0, 0,
			mkfull("pitm", 0, 0, u16(1)),
			mkbox("iprp", mkbox("ipco", ispe(1, 1)), mkfull("ipma", 0, 0, u32(1), u16(1), []byte{1, 9}))), 0, 0, true},
		{"truncated", heifMeta(1, 1, 0)[:40], 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, err := parseHEIFMeta(body(tt.meta))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %t", err, tt.wantErr)
			}
			if w != tt.w || h != tt.h {
				t.Errorf("got %dx%d, want %dx%d", w, h, tt.w, tt.h)
			}
		})
	}
}

func TestHeifSizeFixture(t *testing.T) {
	t.Parallel()
	_, data := fixture(t, "photo.heic")
	w, h, err := heifSize(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if w != 400 || h != 200 {
		t.Errorf("got %dx%d, want 400x200", w, h)
	}
}

func TestFindTopLevel(t *testing.T) {
	t.Parallel()
	// A 64-bit-sized box before the wanted one must be skipped by its
	// large size, and a size past the end refused.
	large := append(u32(1), []byte("mdat")...)
	large = append(large, u64(16+100)...)
	large = append(large, make([]byte, 100)...)
	file := append(large, mkbox("moov", []byte("body"))...)
	got, err := findTopLevel(bytes.NewReader(file), int64(len(file)), "moov", 1<<10)
	if err != nil || string(got) != "body" {
		t.Errorf("got %q, %v; want \"body\"", got, err)
	}
	if _, err := findTopLevel(bytes.NewReader(file), int64(len(file)), "moov", 2); err == nil {
		t.Error("a box over the read limit was read")
	}
	bad := append(u32(1<<30), []byte("mdat")...)
	if _, err := findTopLevel(bytes.NewReader(bad), int64(len(bad)), "moov", 1<<10); !errors.Is(err, errBadBox) {
		t.Errorf("a box past the end of the file: error %v, want errBadBox", err)
	}
	if _, err := findTopLevel(bytes.NewReader(nil), 0, "moov", 1<<10); err == nil {
		t.Error("an empty file has no moov, yet no error")
	}
}

// tkhd builds a track header: version 0 or 1, 16.16 sizes, and a matrix
// that turns the picture a quarter turn when rotated.
func tkhd(version uint8, w, h uint16, rotated bool) []byte {
	var head []byte
	if version == 1 {
		head = make([]byte, 32)
	} else {
		head = make([]byte, 20)
	}
	mid := make([]byte, 16)
	one, minus := uint32(0x00010000), uint32(0xffff0000)
	m := [9]uint32{one, 0, 0, 0, one, 0, 0, 0, 0x40000000}
	if rotated {
		m = [9]uint32{0, one, 0, minus, 0, 0, 0, 0, 0x40000000}
	}
	var mb []byte
	for _, v := range m {
		mb = append(mb, u32(v)...)
	}
	return mkfull("tkhd", version, 3, head, mid, mb, u32(uint32(w)<<16), u32(uint32(h)<<16))
}

func trak(handler string, tk []byte) []byte {
	hdlr := mkfull("hdlr", 0, 0, u32(0), []byte(handler), make([]byte, 13))
	return mkbox("trak", tk, mkbox("mdia", hdlr))
}

func mvhd(version uint8, timescale uint32, dur uint64) []byte {
	if version == 1 {
		return mkfull("mvhd", 1, 0, u64(0), u64(0), u32(timescale), u64(dur), make([]byte, 80))
	}
	return mkfull("mvhd", 0, 0, u32(0), u32(0), u32(timescale), u32(uint32(dur)), make([]byte, 80))
}

func TestParseMoov(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		moov    []byte
		w, h    int
		d       time.Duration
		wantErr bool
	}{
		{"plain", mkbox("moov", mvhd(0, 1000, 2500), trak("vide", tkhd(0, 1920, 1080, false))), 1920, 1080, 2500 * time.Millisecond, false},
		{"turned", mkbox("moov", mvhd(0, 600, 1200), trak("vide", tkhd(0, 1920, 1080, true))), 1080, 1920, 2 * time.Second, false},
		{"version 1, sound track first", mkbox("moov", mvhd(1, 90000, 90000*60), trak("soun", tkhd(1, 0, 0, false)), trak("vide", tkhd(1, 640, 480, false))), 640, 480, time.Minute, false},
		{"fragmented", mkbox("moov", mvhd(0, 1000, 0), mkbox("mvex", mkfull("mehd", 0, 0, u32(4000))), trak("vide", tkhd(0, 320, 240, false))), 320, 240, 4 * time.Second, false},
		{"unknown duration", mkbox("moov", mvhd(0, 1000, 0xffffffff), trak("vide", tkhd(0, 320, 240, false))), 320, 240, 0, false},
		{"sound only", mkbox("moov", mvhd(0, 1000, 3000), trak("soun", tkhd(0, 0, 0, false))), 0, 0, 3 * time.Second, false},
		{"nothing", mkbox("moov", mkbox("udta")), 0, 0, 0, true},
		{"zero timescale", mkbox("moov", mvhd(0, 0, 3000)), 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, d, err := parseMoov(tt.moov[8:])
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %t", err, tt.wantErr)
			}
			if w != tt.w || h != tt.h || d != tt.d {
				t.Errorf("got %dx%d %v, want %dx%d %v", w, h, d, tt.w, tt.h, tt.d)
			}
		})
	}
}

func TestParseProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		json  string
		want  probeResult
		isErr bool
	}{
		{"plain", `{"streams":[{"width":480,"height":270,"tags":{}}],"format":{"duration":"2.000000"}}`,
			probeResult{480, 270, 2 * time.Second, true}, false},
		{"display matrix", `{"streams":[{"width":480,"height":270,"side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],"format":{"duration":"1.5"}}`,
			probeResult{270, 480, 1500 * time.Millisecond, true}, false},
		{"rotate tag of old ffmpeg", `{"streams":[{"width":480,"height":270,"tags":{"rotate":"270"}}],"format":{"duration":"N/A"}}`,
			probeResult{270, 480, 0, true}, false},
		{"half turn", `{"streams":[{"width":480,"height":270,"side_data_list":[{"rotation":180}]}],"format":{}}`,
			probeResult{480, 270, 0, true}, false},
		{"sound only", `{"streams":[],"format":{"duration":"3.0"}}`, probeResult{0, 0, 3 * time.Second, false}, false},
		{"not JSON", `moov atom not found`, probeResult{}, true},
	}
	for _, tt := range tests {
		got, err := parseProbe([]byte(tt.json))
		if (err != nil) != tt.isErr || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v, error: %t", tt.name, got, err, tt.want, tt.isErr)
		}
	}
}

// FuzzParseHEIFMeta feeds arbitrary 'meta' bodies to the HEIC reader, which
// reads uploads: it must never panic nor read out of bounds.
func FuzzParseHEIFMeta(f *testing.F) {
	f.Add(heifMeta(4032, 3024, 1)[8:])
	if data, err := os.ReadFile(filepath.Join("testdata", "photo.heic")); err == nil {
		if meta, err := findTopLevel(bytes.NewReader(data), int64(len(data)), "meta", maxMetaBox); err == nil {
			f.Add(meta)
		}
	}
	f.Fuzz(func(t *testing.T, meta []byte) {
		w, h, err := parseHEIFMeta(meta)
		if err == nil && (w < 0 || h < 0) {
			t.Errorf("negative dimensions %dx%d", w, h)
		}
	})
}

// FuzzParseMoov does the same for the MP4 index reader.
func FuzzParseMoov(f *testing.F) {
	f.Add(mkbox("moov", mvhd(1, 90000, 90000*60), trak("vide", tkhd(1, 640, 480, true)))[8:])
	for _, name := range []string{"clip.mp4", "clip-rotated.mov"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			if moov, err := findTopLevel(bytes.NewReader(data), int64(len(data)), "moov", maxMoov); err == nil {
				f.Add(moov)
			}
		}
	}
	f.Fuzz(func(t *testing.T, moov []byte) {
		w, h, d, err := parseMoov(moov)
		if err == nil && (w < 0 || h < 0 || d < 0) {
			t.Errorf("negative result %dx%d %v", w, h, d)
		}
	})
}

// FuzzFindTopLevel walks arbitrary files, as findTopLevel does every upload.
func FuzzFindTopLevel(f *testing.F) {
	f.Add(heifFile(heifMeta(10, 10, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = findTopLevel(bytes.NewReader(data), int64(len(data)), "meta", 1<<20)
		_, _, _ = heifSize(bytes.NewReader(data), int64(len(data)))
	})
}

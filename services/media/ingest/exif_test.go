package ingest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// tiffBuilder lays out hand-made TIFF blocks for edge cases no camera
// writes.
type tiffBuilder struct {
	b  []byte
	bo binary.ByteOrder
}

type tEntry struct {
	tag, typ uint16
	count    uint32
	value    uint32
}

func newTIFF(bo binary.ByteOrder, size int) *tiffBuilder {
	t := &tiffBuilder{b: make([]byte, size), bo: bo}
	if bo == binary.LittleEndian {
		copy(t.b, "II*\x00")
	} else {
		copy(t.b, "MM\x00*")
	}
	bo.PutUint32(t.b[4:], 8)
	return t
}

// ifd writes an IFD at off with a next link.
func (t *tiffBuilder) ifd(off uint32, next uint32, es ...tEntry) {
	t.bo.PutUint16(t.b[off:], uint16(len(es)))
	for i, e := range es {
		p := off + 2 + 12*uint32(i)
		t.bo.PutUint16(t.b[p:], e.tag)
		t.bo.PutUint16(t.b[p+2:], e.typ)
		t.bo.PutUint32(t.b[p+4:], e.count)
		if e.typ == 3 && e.count == 1 {
			t.bo.PutUint16(t.b[p+8:], uint16(e.value))
		} else {
			t.bo.PutUint32(t.b[p+8:], e.value)
		}
	}
	t.bo.PutUint32(t.b[off+2+12*uint32(len(es)):], next)
}

var (
	orient6 = tEntry{tagOrientation, 3, 1, 6}
	gpsAt   = func(off uint32) tEntry { return tEntry{tagGPSIFD, 4, 1, off} }
	exifAt  = func(off uint32) tEntry { return tEntry{tagExifIFD, 4, 1, off} }
	// A GPS IFD with a latitude stored out of line at 300.
	gpsIFD = []tEntry{{0x0001, 2, 2, 'N'}, {0x0002, 5, 3, 300}}
)

func TestCleanEXIF(t *testing.T) {
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	tests := []struct {
		name  string
		build func() []byte
	}{
		{"gps in IFD0", func() []byte {
			b := newTIFF(be, 400)
			b.ifd(8, 0, orient6, exifAt(100), gpsAt(200))
			b.ifd(100, 0, tEntry{0x9003, 2, 4, 0x31323334})
			b.ifd(200, 0, gpsIFD...)
			copy(b.b[300:], []byte{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1})
			return b.b
		}},
		{"gps in IFD1 and Exif IFD, little endian", func() []byte {
			b := newTIFF(le, 400)
			b.ifd(8, 60, orient6, exifAt(100))
			b.ifd(60, 0, gpsAt(200))
			b.ifd(100, 0, gpsAt(200), tEntry{0x9003, 2, 4, 0})
			b.ifd(200, 0, gpsIFD...)
			return b.b
		}},
		{"cycles", func() []byte {
			b := newTIFF(be, 400)
			b.ifd(8, 8, orient6, exifAt(8), gpsAt(200))
			b.ifd(200, 200, gpsIFD...)
			return b.b
		}},
		{"two gps links in one IFD", func() []byte {
			b := newTIFF(be, 400)
			b.ifd(8, 0, orient6, gpsAt(200), gpsAt(200))
			b.ifd(200, 0, gpsIFD...)
			return b.b
		}},
		{"gps link out of range", func() []byte {
			b := newTIFF(be, 100)
			b.ifd(8, 0, orient6, gpsAt(0xFFFFFFF0))
			return b.b
		}},
		{"gps IFD overlapping IFD0", func() []byte {
			b := newTIFF(be, 100)
			b.ifd(8, 0, orient6, gpsAt(8))
			return b.b
		}},
		{"IFD0 without next link at end of block", func() []byte {
			b := newTIFF(be, 8+2+24+4)
			b.ifd(8, 0, orient6, gpsAt(0))
			return b.b[:8+2+24]
		}},
		{"gps link with a wrong type", func() []byte {
			b := newTIFF(be, 100)
			b.ifd(8, 0, orient6, tEntry{tagGPSIFD, 2, 4, 0x41424344})
			return b.b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.build()
			if !gpsLinked(b) {
				t.Fatal("test block has no GPS link")
			}
			n := len(b)
			cleanEXIF(b)
			if len(b) != n {
				t.Fatal("length changed")
			}
			if gpsLinked(b) {
				t.Fatal("GPS link left")
			}
			if bytes.Contains(b, []byte{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51}) {
				t.Fatal("GPS value left")
			}
			if tt.name != "gps IFD overlapping IFD0" {
				if o, ok := tiffOrientation(b); !ok || o != 6 {
					t.Fatalf("orientation = %d, %v; want 6", o, ok)
				}
			}
			again := bytes.Clone(b)
			cleanEXIF(again)
			if !bytes.Equal(again, b) {
				t.Fatal("second clean changed the block")
			}
		})
	}
}

func TestCleanEXIFRemovesEntry(t *testing.T) {
	b := newTIFF(binary.BigEndian, 400)
	b.ifd(8, 60, orient6, gpsAt(200), tEntry{0x0131, 2, 4, 0x41424300})
	b.ifd(60, 0)
	b.ifd(200, 0, gpsIFD...)
	cleanEXIF(b.b)
	tf, ifd0, _ := parseTIFF(b.b)
	n, _, _ := tf.ifd(ifd0)
	if n != 2 {
		t.Fatalf("IFD0 has %d entries, want 2", n)
	}
	if e := tf.entry(ifd0, 1); e.tag != 0x0131 || e.value != 0x41424300 {
		t.Fatalf("entry after the GPS link not moved up intact: %+v", e)
	}
	if tf.next(ifd0, n) != 60 {
		t.Fatal("next-IFD link not moved with the entries")
	}
	if g, _, _ := tf.ifd(200); g != 0 {
		t.Fatal("GPS IFD not zeroed")
	}
}

func TestCleanEXIFUnparseable(t *testing.T) {
	for _, b := range [][]byte{
		[]byte("XX*\x00\x08\x00\x00\x00garbage"),
		[]byte("MM\x00*\x00\x00\xff\xff\x00\x00"), // IFD0 outside
		[]byte("MM\x00*\x00\x00\x00\x09\x00"),     // no room for the entry count
		[]byte("II*"),
	} {
		c := bytes.Clone(b)
		cleanEXIF(c)
		if !bytes.Equal(c, make([]byte, len(b))) {
			t.Errorf("unparseable block %q not zeroed: %q", b, c)
		}
	}
}

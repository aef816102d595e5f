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

// TestEXIFKept: a rebuilt EXIF block holds orientation and capture time
// and, only with KeepLocation, IFD0's GPS directory; nothing else of the
// source survives, whatever links it.
func TestEXIFKept(t *testing.T) {
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	makeTag := tEntry{0x010F, 2, 4, 0} // "Make", a tag that is not kept
	for _, bo := range []binary.ByteOrder{le, be} {
		src := newTIFF(bo, 512)
		// IFD0 at 8 links the Exif IFD (100) and GPS (200), and IFD1 (260).
		src.ifd(8, 260, makeTag, orient6, exifAt(100), gpsAt(200))
		// The Exif IFD links a second GPS IFD, as careless writers do.
		src.ifd(100, 0, tEntry{tagDateTimeOriginal, 2, 20, 400}, gpsAt(200))
		copy(src.b[400:], "2026:05:14 09:30:00\x00")
		src.ifd(200, 0, gpsIFD...)
		bo.PutUint32(src.b[300:], 48)
		bo.PutUint32(src.b[304:], 1)
		// IFD1 (a thumbnail's directory) with its own GPS link.
		src.ifd(260, 0, gpsAt(200))

		for _, keep := range []bool{false, true} {
			k, ok := readEXIF(src.b, keep)
			if !ok {
				t.Fatal("readEXIF refused a readable block")
			}
			out := k.tiff()
			if k.orientation != 6 || k.taken.IsZero() {
				t.Errorf("kept %+v, want orientation 6 and a taken time", k)
			}
			if !bytes.HasPrefix(out, []byte("MM\x00*")) {
				t.Fatalf("rebuilt block starts %q", out[:4])
			}
			if got := gpsLinked(out); got != keep {
				t.Errorf("KeepLocation=%v: GPS linked in the rebuilt block = %v", keep, got)
			}
			if bytes.Contains(out, []byte{0x01, 0x0F}) {
				t.Error("a tag that is not kept (Make) survived")
			}
			if o, _ := tiffOrientation(out); o != 6 {
				t.Errorf("orientation of the rebuilt block %d", o)
			}
			if !tiffTakenTime(out).Equal(k.taken) {
				t.Errorf("taken time of the rebuilt block %v, want %v", tiffTakenTime(out), k.taken)
			}
			if tr, ifd0, _ := parseTIFF(out); tr.next(ifd0, int(be.Uint16(out[ifd0:]))) != 0 {
				t.Error("the rebuilt block links an IFD1")
			}
			again, _ := readEXIF(out, keep)
			if !bytes.Equal(again.tiff(), out) {
				t.Error("rebuilding the rebuilt block changed it")
			}
		}
	}
	if _, ok := readEXIF([]byte("not a TIFF block"), false); ok {
		t.Error("readEXIF accepted a block without a TIFF header")
	}
	if k, _ := readEXIF(newTIFF(le, 64).b, false); !k.empty() || k.tiff() == nil {
		t.Errorf("an empty IFD0 kept %+v", k)
	}
}

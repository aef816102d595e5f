package ingest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// fragBox is a box of a test file: type, header offset, payload, end.
type fragBox struct {
	typ           string
	at, data, end int
}

// fragKids lists the boxes in f[from:to] (32-bit sizes only).
func fragKids(f []byte, from, to int) []fragBox {
	var out []fragBox
	for off := from; off+8 <= to; {
		n := int(binary.BigEndian.Uint32(f[off:]))
		if n < 8 || off+n > to {
			break
		}
		out = append(out, fragBox{string(f[off+4 : off+8]), off, off + 8, off + n})
		off += n
	}
	return out
}

// fragTrafAt is a track fragment of a test file: its tfhd and truns.
type fragTrafAt struct {
	moof  int
	tfhd  int
	truns []int
}

// fragTrafs lists the track fragments of f in file order.
func fragTrafs(f []byte) []fragTrafAt {
	var out []fragTrafAt
	for _, m := range fragKids(f, 0, len(f)) {
		if m.typ != "moof" {
			continue
		}
		for _, tr := range fragKids(f, m.data, m.end) {
			if tr.typ != "traf" {
				continue
			}
			t := fragTrafAt{moof: m.at, tfhd: -1}
			for _, k := range fragKids(f, tr.data, tr.end) {
				switch k.typ {
				case "tfhd":
					t.tfhd = k.at
				case "trun":
					t.truns = append(t.truns, k.at)
				}
			}
			out = append(out, t)
		}
	}
	return out
}

// fragRun is where a run's samples lie: from, bytes.
type fragRun struct{ pos, n int }

// fragRuns finds where every run's samples lie in f, as the standard
// says (ISO/IEC 14496-12 8.8.7, 8.8.8); sizes from trun, tfhd or trex.
func fragRuns(t *testing.T, f []byte) []fragRun {
	t.Helper()
	trex := map[uint32]int{}
	if mvex := mvFind(f, "moov", "mvex"); mvex >= 0 {
		for _, b := range fragKids(f, mvex+8, mvex+int(binary.BigEndian.Uint32(f[mvex:]))) {
			if b.typ == "trex" {
				trex[binary.BigEndian.Uint32(f[b.data+4:])] = int(binary.BigEndian.Uint32(f[b.data+16:]))
			}
		}
	}
	var out []fragRun
	implicit, moof := 0, -1
	for _, tr := range fragTrafs(f) {
		if tr.moof != moof {
			moof, implicit = tr.moof, tr.moof
		}
		h := f[tr.tfhd+8:]
		flags := binary.BigEndian.Uint32(h) & 0xFFFFFF
		base, at := implicit, 8
		if flags&1 != 0 {
			base, at = int(binary.BigEndian.Uint64(h[8:])), 16
		} else if flags&0x20000 != 0 {
			base = moof
		}
		for _, bit := range []uint32{2, 8} {
			if flags&bit != 0 {
				at += 4
			}
		}
		size, ok := trex[binary.BigEndian.Uint32(h[4:])]
		if flags&0x10 != 0 {
			size, ok = int(binary.BigEndian.Uint32(h[at:])), true
		}
		next := base
		for _, r := range tr.truns {
			p := f[r+8:]
			rf := binary.BigEndian.Uint32(p) & 0xFFFFFF
			count := int(binary.BigEndian.Uint32(p[4:]))
			hdr, per := 8, 0
			if rf&1 != 0 {
				next = base + int(int32(binary.BigEndian.Uint32(p[8:])))
				hdr += 4
			}
			if rf&4 != 0 {
				hdr += 4
			}
			for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
				if rf&bit != 0 {
					per += 4
				}
			}
			n := 0
			if rf&0x200 != 0 {
				skip := 0
				if rf&0x100 != 0 {
					skip = 4
				}
				for i := range count {
					n += int(binary.BigEndian.Uint32(p[hdr+i*per+skip:]))
				}
			} else if !ok {
				t.Fatal("a run without sample sizes")
			} else {
				n = count * size
			}
			out = append(out, fragRun{next, n})
			next += n
		}
		implicit = next
	}
	return out
}

// fragSetRuns writes the offsets of f so that its runs, in file order, lie
// at runs: a base_data_offset becomes the moof, data offsets follow.
func fragSetRuns(t *testing.T, f []byte, runs []fragRun) {
	t.Helper()
	i, implicit, moof := 0, 0, -1
	for _, tr := range fragTrafs(f) {
		if tr.moof != moof {
			moof, implicit = tr.moof, tr.moof
		}
		flags := binary.BigEndian.Uint32(f[tr.tfhd+8:]) & 0xFFFFFF
		base := implicit
		if flags&1 != 0 {
			binary.BigEndian.PutUint64(f[tr.tfhd+16:], uint64(moof))
			base = moof
		} else if flags&0x20000 != 0 {
			base = moof
		}
		implicit = base
		for _, r := range tr.truns {
			if binary.BigEndian.Uint32(f[r+8:])&1 == 0 {
				t.Fatal("a run without a data offset")
			}
			binary.BigEndian.PutUint32(f[r+16:], uint32(int32(runs[i].pos-base)))
			implicit = runs[i].pos + runs[i].n
			i++
		}
	}
	if i != len(runs) {
		t.Fatalf("%d runs, want %d", i, len(runs))
	}
}

// fragMoved is runs with the bytes from at moved by delta.
func fragMoved(runs []fragRun, at, delta int) []fragRun {
	moved := make([]fragRun, len(runs))
	for i, r := range runs {
		if r.pos >= at {
			r.pos += delta
		}
		moved[i] = r
	}
	return moved
}

// fragPlant appends child to the last box on path (see mvPlant) and
// moves the runs after it.
func fragPlant(t *testing.T, f, child []byte, path ...string) []byte {
	t.Helper()
	runs := fragRuns(t, f)
	offs := mvPath(t, f, path...)
	at := offs[len(offs)-1] + int(binary.BigEndian.Uint32(f[offs[len(offs)-1]:]))
	out := mvPlant(t, f, child, path...)
	fragSetRuns(t, out, fragMoved(runs, at, len(child)))
	return out
}

// fragInsertTop inserts top-level boxes before the box at path.
func fragInsertTop(t *testing.T, f, boxes []byte, path string) []byte {
	t.Helper()
	runs := fragRuns(t, f)
	at := mvPath(t, f, path)[0]
	out := mvInsert(f, at, boxes)
	fragSetRuns(t, out, fragMoved(runs, at, len(boxes)))
	return out
}

// fragImplicit removes every tfhd's base_data_offset: each traf's base is
// then the moof for the first and the end of the previous one's data.
func fragImplicit(t *testing.T, f []byte) []byte {
	t.Helper()
	runs := fragRuns(t, f)
	out := bytes.Clone(f)
	trafs := fragTrafs(f)
	for i := len(trafs) - 1; i >= 0; i-- {
		h := trafs[i].tfhd
		if out[h+11]&1 == 0 {
			continue
		}
		out[h+11] &^= 1
		at := h + 16
		out = append(out[:at:at], out[at+8:]...)
		runs = fragMoved(runs, at+8, -8)
		// Shrink tfhd, its traf and its moof (all start before h, so
		// where they are in f).
		grow := []int{h, trafs[i].moof}
		m := trafs[i].moof
		for _, tr := range fragKids(f, m+8, m+int(binary.BigEndian.Uint32(f[m:]))) {
			if tr.at < h && h < tr.end {
				grow = append(grow, tr.at)
			}
		}
		for _, o := range grow {
			binary.BigEndian.PutUint32(out[o:], binary.BigEndian.Uint32(out[o:])-8)
		}
	}
	fragSetRuns(t, out, runs)
	return out
}

// fragNoDataOffset makes every trun of f (one per traf, as ffmpeg
// writes them) start at its traf's base_data_offset, holding no
// data_offset of its own.
func fragNoDataOffset(t *testing.T, f []byte) []byte {
	t.Helper()
	runs := fragRuns(t, f)
	out := bytes.Clone(f)
	trafs := fragTrafs(f)
	for i := len(trafs) - 1; i >= 0; i-- {
		if len(trafs[i].truns) != 1 || out[trafs[i].tfhd+11]&1 == 0 {
			t.Fatal("want one trun per traf and a base_data_offset")
		}
		r := trafs[i].truns[0]
		out[r+11] &^= 1
		out = append(out[:r+16:r+16], out[r+20:]...)
		runs = fragMoved(runs, r+20, -4)
		grow := []int{r, trafs[i].moof}
		m := trafs[i].moof
		for _, tr := range fragKids(f, m+8, m+int(binary.BigEndian.Uint32(f[m:]))) {
			if tr.at < r && r < tr.end {
				grow = append(grow, tr.at)
			}
		}
		for _, o := range grow {
			binary.BigEndian.PutUint32(out[o:], binary.BigEndian.Uint32(out[o:])-4)
		}
	}
	for i, tr := range fragTrafs(out) {
		binary.BigEndian.PutUint64(out[tr.tfhd+16:], uint64(runs[i].pos))
	}
	return out
}

// fragShapes are the fragmented fixtures with positions and boxes planted
// where the rebuild must drop them.
func fragShapes(t *testing.T) map[string][2][]byte {
	shapes := map[string][2][]byte{}
	unknown := mvBox("Zzzz", plantISO6709)
	udta := mvBox("udta", mvBox("\xa9xyz", qtText(plantISO6709)))
	aux := append(mvBox("saiz", []byte{0, 0, 0, 0, 0, 0, 0, 0}, plantISO6709), mvBox("saio", make([]byte, 8), plantISO6709)...)
	top := bytes.Join([][]byte{
		mvBox("styp", []byte("msdh\x00\x00\x00\x00msdhmsix")),
		mvBox("sidx", make([]byte, 24), plantISO6709),
		mvBox("emsg", make([]byte, 4), []byte("urn:gps\x00"), plantISO6709),
		mvBox("prft", make([]byte, 16)),
		mvBox("uuid", make([]byte, 16), plantXMP),
	}, nil)
	for _, name := range []string{"frag.mp4", "frag-nobase.mp4"} {
		f := fixture(t, name)
		shapes[name] = [2][]byte{f, f}
		shapes[name+" unknown in moof"] = [2][]byte{f, fragPlant(t, f, unknown, "moof")}
		shapes[name+" udta in traf"] = [2][]byte{f, fragPlant(t, f, udta, "moof@1", "traf")}
		shapes[name+" saiz, saio in traf"] = [2][]byte{f, fragPlant(t, f, aux, "moof", "traf@1")}
		shapes[name+" sidx, styp, emsg, prft, uuid"] = [2][]byte{f, fragInsertTop(t, f, top, "moof")}
		all := fragPlant(t, f, unknown, "moof")
		all = fragPlant(t, all, udta, "moof@1", "traf@2")
		all = fragInsertTop(t, all, top, "moof@1")
		shapes[name+" all at once"] = [2][]byte{f, append(all, "tail +48.8584+002.2945/"...)}
	}
	nobase := fixture(t, "frag-nobase.mp4")
	shapes["implicit bases"] = [2][]byte{nobase, fragImplicit(t, nobase)}
	shapes["runs without data offsets"] = [2][]byte{nobase, fragNoDataOffset(t, nobase)}
	return shapes
}

// TestRebuildFragmented: a fragmented MP4 stays fragmented, with the same
// frames, made only of allowed boxes, without the planted positions or
// the subtitle track, and is a fixed point.
func TestRebuildFragmented(t *testing.T) {
	for name, c := range fragShapes(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref, orig := c[0], c[1]
			if len(findLocation(orig)) == 0 {
				t.Fatal("the fixture holds no position")
			}
			// The planted file must play as the fixture does, or the test
			// proves nothing about offsets.
			if err := mediacheck.SamePicture(t, "video/mp4", ref, orig); err != nil {
				t.Fatalf("the planted file does not play as the fixture: %v", err)
			}
			out, rb := rebuilt(t, orig, Options{})
			if rb.Unchanged() {
				t.Error("Unchanged() is true for a file the rebuild changed")
			}
			checkMovie(t, ref, out)
			if _, rb2 := rebuilt(t, out, Options{}); !rb2.Unchanged() {
				t.Error("Unchanged() is false for the rebuilt file rebuilt again")
			}
			if err := mediacheck.SamePicture(t, "video/mp4", ref, out); err != nil {
				t.Errorf("not the same film: %v", err)
			}
			if v := mediacheck.Structure(out, "video/mp4"); len(v) > 0 {
				t.Errorf("structures not allowed:\n%s", strings.Join(v, "\n"))
			}
			for _, s := range []string{"sidx", "styp", "emsg", "prft", "mfra", "tfra", "saiz", "saio", "48.8584"} {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("rebuilt movie holds %q", s)
				}
			}
			if n := bytes.Count(out, []byte("moof")); n != bytes.Count(ref, []byte("moof")) {
				t.Errorf("%d moof boxes, want %d", n, bytes.Count(ref, []byte("moof")))
			}
			if n := bytes.Count(out, []byte("trex")); n != 2 {
				t.Errorf("%d trex boxes, want 2 (video, audio)", n)
			}
		})
	}
}

func TestRebuildFragmentedRefuses(t *testing.T) {
	f := fixture(t, "frag.mp4")
	trun := mvPath(t, f, "moof", "traf", "trun")[2]
	set := func(off int, v uint32) []byte {
		g := bytes.Clone(f)
		binary.BigEndian.PutUint32(g[off:], v)
		return g
	}
	mdat := mvPath(t, f, "mdat")[0]
	moof := mvPath(t, f, "moof")[0]
	tests := map[string][]byte{
		"encrypted sample entry": mvPatch(f, mvPath(t, f, "moov", "trak", "mdia", "minf", "stbl", "stsd", "avc1")[6]+4, "encv"),
		"encrypted fragment":     fragPlant(t, f, mvBox("senc", make([]byte, 8)), "moof", "traf"),
		"moof before moov":       mvInsert(f, mvPath(t, f, "moov")[0], mvBox("moof", mvBox("mfhd", make([]byte, 8)))),
		"moof without mfhd":      mvPatch(f, mvPath(t, f, "moof", "mfhd")[1]+4, "mfhx"),
		"traf without tfhd":      mvPatch(f, mvPath(t, f, "moof", "traf", "tfhd")[2]+4, "tfhx"),
		"run outside mdat":       set(trun+16, 0x7fff0000),
		"run before the file":    set(trun+16, uint32(0x100000000-moof-100)),
		"run past its mdat":      set(trun+16, uint32(mdat+int(binary.BigEndian.Uint32(f[mdat:]))-moof-10)),
		"trun lists too many":    set(trun+12, 1000),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}

package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The WebM tests craft variants of the fixtures and check rebuilt files
// through a small EBML tree of their own: parsed by tparse, written back by
// tbytes.

// tnode is one element of a parsed WebM: masters have kids, others data.
type tnode struct {
	id            uint32
	data          []byte
	kids          []*tnode
	off, dataOff  int64 // where the element and its payload start in the file
	unknown, leaf bool  // unknown: written with an unknown size; leaf: kids unused
}

// tMasters are the master elements tparse descends into.
var tMasters = map[uint32]bool{
	0x1A45DFA3: true, 0x18538067: true, 0x114D9B74: true, 0x4DBB: true, 0x1549A966: true,
	0x1654AE6B: true, 0xAE: true, 0xE0: true, 0xE1: true, 0x55B0: true, 0x1C53BB6B: true,
	0xBB: true, 0xB7: true, 0x1F43B675: true, 0xA0: true, 0x1254C367: true, 0x7373: true,
	0x67C8: true, 0x1941A469: true, 0x61A7: true, 0x1043A770: true, 0x45B9: true, 0xB6: true,
	0x80: true, 0x6D80: true, 0x6240: true,
}

// tparse parses the elements of b (all of known size), base being b's
// offset in the file.
func tparse(t testing.TB, b []byte, base int64) []*tnode {
	t.Helper()
	var ns []*tnode
	for p := 0; p < len(b); {
		id, k := ebmlID(b[p:])
		if k == 0 {
			t.Fatalf("bad element ID at byte %d", base+int64(p))
		}
		size, m := ebmlVint(b[p+k:])
		if m == 0 || size < 0 || size > int64(len(b)-p-k-m) {
			t.Fatalf("element %X at byte %d: bad or unknown size %d", id, base+int64(p), size)
		}
		n := &tnode{id: id, off: base + int64(p), dataOff: base + int64(p+k+m)}
		payload := b[p+k+m : p+k+m+int(size)]
		if tMasters[id] {
			n.kids = tparse(t, payload, n.dataOff)
		} else {
			n.data, n.leaf = payload, true
		}
		ns = append(ns, n)
		p += k + m + int(size)
	}
	return ns
}

// tbytes writes elements back, masters with fresh sizes.
func tbytes(ns []*tnode) []byte {
	var b []byte
	for _, n := range ns {
		payload := n.data
		if !n.leaf {
			payload = tbytes(n.kids)
		}
		if n.unknown {
			b = append(append(b, webmIDBytes(n.id)...), 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
			b = append(b, payload...)
			continue
		}
		b = append(append(b, webmHeader(n.id, int64(len(payload)))...), payload...)
	}
	return b
}

// tall returns the elements reached from ns by the path of IDs.
func tall(ns []*tnode, path ...uint32) []*tnode {
	for i, id := range path {
		var next []*tnode
		for _, n := range ns {
			switch {
			case n.id != id:
			case i == len(path)-1:
				next = append(next, n)
			default:
				next = append(next, n.kids...)
			}
		}
		ns = next
	}
	return ns
}

// tuint is a leaf's value as an unsigned integer.
func tuint(n *tnode) uint64 {
	var v uint64
	for _, c := range n.data {
		v = v<<8 | uint64(c)
	}
	return v
}

// tids lists the IDs of ns.
func tids(ns []*tnode) []uint32 {
	var ids []uint32
	for _, n := range ns {
		ids = append(ids, n.id)
	}
	return ids
}

const where = "+48.8584+002.2945/"

// webmLeaks are strings of the hostile fixture that must not survive.
var webmLeaks = []string{"48.8584", "2.2945", "where.txt", "text/plain", "We are at", "WEBVTT", "LOCATION", "Lavf"}

// checkWebM checks the shape of a rebuilt WebM: the EBML header's seven
// elements, one Segment of known size up to the end of the file holding
// SeekHead, Info, Tracks, Clusters and Cues in that order and nothing else,
// a SeekHead and Cues that point where they should, and only allowlisted
// children (no Void, CRC-32, names or unknown elements) where the test
// looks. It returns the tree.
func checkWebM(t *testing.T, out []byte) []*tnode {
	t.Helper()
	top := tparse(t, out, 0)
	if got := tids(top); !slices.Equal(got, []uint32{0x1A45DFA3, 0x18538067}) {
		t.Fatalf("top level %X, want the EBML header and one Segment", got)
	}
	if got := tids(top[0].kids); !slices.Equal(got, []uint32{0x4286, 0x42F7, 0x42F2, 0x42F3, 0x4282, 0x4287, 0x4285}) {
		t.Errorf("EBML header children %X", got)
	}
	if doc := tall(top, 0x1A45DFA3, 0x4282); len(doc) != 1 || string(doc[0].data) != "webm" {
		t.Errorf("DocType is not webm")
	}
	seg := top[1]
	var order []uint32
	for _, n := range seg.kids {
		if len(order) == 0 || order[len(order)-1] != n.id {
			order = append(order, n.id)
		}
	}
	if !slices.Equal(order, []uint32{0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1F43B675, 0x1C53BB6B}) &&
		!slices.Equal(order, []uint32{0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1F43B675}) {
		t.Errorf("Segment children %X, want SeekHead, Info, Tracks, Clusters, [Cues]", order)
	}
	at := map[int64]*tnode{}
	for _, n := range seg.kids {
		at[n.off-seg.dataOff] = n
	}
	for _, s := range tall(seg.kids, 0x114D9B74, 0x4DBB) {
		id, pos := tall(s.kids, 0x53AB), tall(s.kids, 0x53AC)
		if len(id) != 1 || len(pos) != 1 {
			t.Fatalf("Seek without SeekID or SeekPosition")
		}
		if n := at[int64(tuint(pos[0]))]; n == nil || !bytes.Equal(webmIDBytes(n.id), id[0].data) {
			t.Errorf("Seek for %X points at %d, where no such element starts", id[0].data, tuint(pos[0]))
		}
	}
	for _, tp := range tall(seg.kids, 0x1C53BB6B, 0xBB) {
		cueTime := tuint(tall(tp.kids, 0xB3)[0])
		for _, p := range tall(tp.kids, 0xB7, 0xF1) {
			c := at[int64(tuint(p))]
			if c == nil || c.id != 0x1F43B675 {
				t.Errorf("CueClusterPosition %d is not a Cluster", tuint(p))
				continue
			}
			if ts := tuint(tall(c.kids, 0xE7)[0]); ts > cueTime {
				t.Errorf("cue at %d points at a cluster starting at %d", cueTime, ts)
			}
		}
	}
	if got := tids(tall(seg.kids, 0x1549A966)[0].kids); slices.ContainsFunc(got, func(id uint32) bool {
		return id != 0x2AD7B1 && id != 0x4489 && id != 0x4461
	}) {
		t.Errorf("Info children %X, want only TimestampScale, Duration, DateUTC", got)
	}
	for _, te := range tall(seg.kids, 0x1654AE6B, 0xAE) {
		if typ := tuint(tall(te.kids, 0x83)[0]); typ != 1 && typ != 2 {
			t.Errorf("kept a track of type %d", typ)
		}
		if slices.Contains(tids(te.kids), 0x536E) {
			t.Errorf("kept a track Name")
		}
	}
	for _, c := range tall(seg.kids, 0x1F43B675) {
		for _, n := range c.kids {
			if n.id != 0xE7 && n.id != 0xA3 && n.id != 0xA0 {
				t.Errorf("Cluster child %X kept", n.id)
			}
		}
	}
	return top
}

// framemd5 hashes the decoded frames of a stream ("v" or "a") with ffmpeg,
// after seeking to ss seconds when ss is not empty; "" without ffmpeg.
func framemd5(t *testing.T, path, stream, ss string, frames int) string {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ""
	}
	args := []string{"-v", "error"}
	if ss != "" {
		args = append(args, "-ss", ss)
	}
	args = append(args, "-i", path, "-map", "0:"+stream)
	if frames > 0 {
		args = append(args, "-frames:"+stream, "1")
	}
	out, err := exec.Command(bin, append(args, "-f", "framemd5", "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// sameMedia checks that the rebuilt file decodes to the same frames as the
// original, stream by stream.
func sameMedia(t *testing.T, name string, orig, out []byte, streams ...string) {
	t.Helper()
	a, b := writeTemp(t, "orig-"+name, orig), writeTemp(t, "out-"+name, out)
	for _, s := range streams {
		if framemd5(t, a, s, "", 0) != framemd5(t, b, s, "", 0) {
			t.Errorf("stream %s decodes differently after the rebuild", s)
		}
	}
}

// ffprobeStreams lists the codecs and chapters ffprobe finds, or ok false
// without ffprobe.
func ffprobeStreams(t *testing.T, path string) (codecs []string, chapters int, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		return nil, 0, false
	}
	out, err := exec.Command(bin, "-v", "error", "-show_streams", "-show_chapters", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var res struct {
		Streams  []struct{ Codec_name, Codec_type string }
		Chapters []any
		Format   struct{ Tags map[string]string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Streams {
		codecs = append(codecs, s.Codec_type+":"+s.Codec_name)
	}
	for k, v := range res.Format.Tags {
		if k != "creation_time" {
			t.Errorf("ffprobe finds a format tag %s=%q", k, v)
		}
	}
	return codecs, len(res.Chapters), true
}

// rebuildWebMClean rebuilds in and checks the result: no leak of the
// fixtures' strings, the shape checkWebM wants, the same frames as in
// (streams "v", "a"), and a fixed point. It returns the rebuilt file.
func rebuildWebMClean(t *testing.T, name string, in []byte, streams ...string) []byte {
	t.Helper()
	out, _ := rebuilt(t, in, Options{})
	for _, leak := range webmLeaks {
		if bytes.Contains(out, []byte(leak)) {
			t.Errorf("%q left in the rebuilt file", leak)
		}
	}
	if found := findLocation(out); len(found) > 0 {
		t.Errorf("location left: %v", found)
	}
	checkWebM(t, out)
	if tags, ok := ffprobeLocation(t, writeTemp(t, name, out)); ok && len(tags) > 0 {
		t.Errorf("ffprobe finds location: %v", tags)
	}
	sameMedia(t, name, in, out, streams...)
	again, _ := rebuilt(t, out, Options{})
	if !bytes.Equal(again, out) {
		t.Errorf("rebuilding the rebuilt file changed it (%d -> %d bytes)", len(out), len(again))
	}
	return out
}

func TestRebuildWebMHostile(t *testing.T) {
	orig := fixture(t, "hostile.webm")
	for _, leak := range []string{where, "where.txt", "We are at"} {
		if !bytes.Contains(orig, []byte(leak)) {
			t.Fatalf("the fixture lacks %q", leak)
		}
	}
	out := rebuildWebMClean(t, "hostile.webm", orig, "v", "a")
	top := tparse(t, out, 0)
	seg := top[1].kids
	if n := len(tall(seg, 0x1654AE6B, 0xAE)); n != 2 {
		t.Errorf("%d tracks kept, want video and audio", n)
	}
	if n := len(tall(seg, 0x1C53BB6B, 0xBB)); n == 0 {
		t.Error("no Cues: seeking needs them")
	}
	want := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC)
	if _, rb := rebuilt(t, orig, Options{}); !rb.Info.TakenTime.Equal(want) {
		t.Errorf("Info.TakenTime = %v, want %v", rb.Info.TakenTime, want)
	}
	if got := Inspect(bytes.NewReader(out), int64(len(out)), typeWebM).TakenTime; !got.Equal(want) {
		t.Errorf("TakenTime(rebuilt) = %v, want %v", got, want)
	}

	path := writeTemp(t, "out.webm", out)
	if codecs, chapters, ok := ffprobeStreams(t, path); ok {
		if !slices.Equal(codecs, []string{"video:vp8", "audio:opus"}) || chapters != 0 {
			t.Errorf("ffprobe finds streams %v and %d chapters, want vp8 and opus only", codecs, chapters)
		}
	}
	origPath := writeTemp(t, "orig.webm", orig)
	for _, ss := range []string{"0.5", "1.2", "1.7"} {
		if framemd5(t, origPath, "v", ss, 1) != framemd5(t, path, "v", ss, 1) {
			t.Errorf("seeking to %s s finds another frame than in the original", ss)
		}
	}
}

// tElem is a leaf element for planting.
func tElem(id uint32, data string) *tnode { return &tnode{id: id, data: []byte(data), leaf: true} }

func TestRebuildWebMPlanted(t *testing.T) {
	orig := fixture(t, "hostile.webm")
	top := tparse(t, orig[:len(orig)-len(fixture(t, "gps.webm"))], 0)
	seg := top[1]
	// Unknown IDs (and, where ffmpeg writes none, Void and CRC-32) holding
	// the position, in each kept master element.
	unknown := func() *tnode { return tElem(0x3FA5C3, "u"+where) }
	for _, n := range append(tall(seg.kids, 0x1549A966), append(tall(seg.kids, 0x1654AE6B, 0xAE),
		append(tall(seg.kids, 0x1654AE6B, 0xAE, 0xE0), tall(seg.kids, 0x1F43B675)...)...)...) {
		n.kids = append([]*tnode{unknown(), tElem(0xEC, "v"+where)}, n.kids...)
		n.kids = append(n.kids, unknown())
	}
	// The old SeekHead no longer points at anything: ffmpeg would follow it.
	seg.kids = slices.DeleteFunc(seg.kids, func(n *tnode) bool { return n.id == 0x114D9B74 })
	seg.kids = append([]*tnode{unknown()}, seg.kids...)
	top[0].kids = append(top[0].kids, unknown()) // in the EBML header
	// A BlockGroup of the video track, with unknown children.
	c := tall(seg.kids, 0x1F43B675)[0]
	for i, n := range c.kids {
		if n.id == 0xA3 && n.data[0] == 0x81 {
			bg := &tnode{id: 0xA0, kids: []*tnode{unknown(), {id: 0xA1, data: n.data, leaf: true}, tElem(0xA4, where), tElem(0x9B, "\x64")}}
			c.kids[i] = bg
			break
		}
	}
	in := tbytes(top)
	if !bytes.Contains(in, []byte("u"+where)) {
		t.Fatal("nothing planted")
	}
	out := rebuildWebMClean(t, "planted.webm", in, "v", "a")
	bgs := tall(tparse(t, out, 0), 0x18538067, 0x1F43B675, 0xA0)
	if len(bgs) == 0 {
		t.Error("no BlockGroup kept")
	}
	for _, bg := range bgs {
		if slices.ContainsFunc(tids(bg.kids), func(id uint32) bool {
			return id != 0xA1 && id != 0x9B && id != 0xFB && id != 0x75A2 && id != 0x75A1
		}) {
			t.Errorf("BlockGroup children %X", tids(bg.kids))
		}
	}
}

// TestRebuildWebMLive rebuilds what browsers' MediaRecorder writes: a
// Segment and Clusters of unknown size, without SeekHead or Cues, here with
// Tags after the last Cluster, which end it.
func TestRebuildWebMLive(t *testing.T) {
	// ffmpeg's live mode: a Segment of unknown size, Clusters of known size.
	rebuildWebMClean(t, "live.webm", fixture(t, "live.webm"), "v", "a")

	// MediaRecorder's shape, crafted from hostile.webm: Clusters of unknown
	// size too, no SeekHead or Cues, Tags after the last Cluster.
	orig := fixture(t, "hostile.webm")
	top := tparse(t, orig[:len(orig)-len(fixture(t, "gps.webm"))], 0)
	seg := top[1]
	seg.unknown = true
	var kids []*tnode
	for _, n := range seg.kids {
		switch n.id {
		case 0x114D9B74, 0x1C53BB6B, 0x1254C367:
			continue // SeekHead, Cues, Tags: Tags moved to the end below
		case 0x1F43B675:
			n.unknown = true
		}
		kids = append(kids, n)
	}
	seg.kids = append(kids, tall(seg.kids, 0x1254C367)...)
	in := tbytes(top)
	if p := writeTemp(t, "live.webm", in); framemd5(t, p, "v", "", 0) != framemd5(t, writeTemp(t, "orig.webm", orig), "v", "", 0) {
		t.Fatal("ffmpeg does not read the crafted live recording as the original")
	}
	out := rebuildWebMClean(t, "recorder.webm", in, "v", "a")
	if n, m := len(tall(tparse(t, out, 0), 0x18538067, 0x1F43B675)), len(tall(kids, 0x1F43B675)); n != m {
		t.Errorf("%d clusters, want %d", n, m)
	}

	// A second EBML header and Segment end a Segment of unknown size.
	out2, _ := rebuilt(t, append(bytes.Clone(in), fixture(t, "gps.webm")...), Options{})
	if !bytes.Equal(out2, out) {
		t.Errorf("a second EBML header and Segment changed the rebuilt file")
	}
}

func TestRebuildWebMRefuses(t *testing.T) {
	plain := fixture(t, "plain.webm")
	top := tparse(t, plain, 0)
	seg := top[1]
	build := func(edit func(top []*tnode)) []byte {
		c := tparse(t, plain, 0)
		edit(c)
		return tbytes(c)
	}
	// sizeAt is where an element's size vint starts.
	sizeAt := func(n *tnode) int { return int(n.off) + len(webmIDBytes(n.id)) }
	corrupt := func(at int, b ...byte) []byte {
		c := bytes.Clone(plain)
		copy(c[at:], b)
		return c
	}
	info := tall(seg.kids, 0x1549A966)[0]
	block := tall(seg.kids, 0x1F43B675, 0xA3)[0]
	if plain[sizeAt(info.kids[0])]&0x80 == 0 || plain[sizeAt(seg)] != 0x01 {
		t.Fatal("the test expects a 1-byte size in Info's first child, an 8-byte size for the Segment")
	}
	past := binary.BigEndian.AppendUint64(nil, uint64(len(plain)))
	past[0] = 0x01
	tests := map[string][]byte{
		"no Segment": plain[:seg.off],
		"no Tracks": build(func(top []*tnode) {
			top[1].kids = slices.DeleteFunc(top[1].kids, func(n *tnode) bool { return n.id == 0x1654AE6B })
		}),
		"only a subtitle track": build(func(top []*tnode) {
			tall(top[1].kids, 0x1654AE6B, 0xAE, 0x83)[0].data = []byte{0x11}
		}),
		"cut in a cluster":                plain[:len(plain)-10],
		"element past its parent":         corrupt(sizeAt(info.kids[0]), 0x80|0x7E),
		"Segment past the file":           corrupt(sizeAt(seg), past...),
		"invalid size vint":               corrupt(sizeAt(info), 0x00),
		"invalid ID":                      corrupt(int(info.kids[0].off), 0x00),
		"5-byte ID":                       corrupt(int(info.kids[0].off), 0x08),
		"block for a track not in Tracks": corrupt(int(block.dataOff), 0x89),
		"Info of unknown size": build(func(top []*tnode) {
			tall(top[1].kids, 0x1549A966)[0].unknown = true
		}),
		"two track numbers": build(func(top []*tnode) {
			te := tall(top[1].kids, 0x1654AE6B, 0xAE)[0]
			te.kids = append(te.kids, tElem(0xD7, "\x02"))
		}),
		"cluster without timestamp": build(func(top []*tnode) {
			c := tall(top[1].kids, 0x1F43B675)[0]
			c.kids = slices.DeleteFunc(c.kids, func(n *tnode) bool { return n.id == 0xE7 })
		}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Rebuild(bytes.NewReader(data), int64(len(data)), typeWebM, Options{})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Rebuild = %v, want ErrMalformed", err)
			}
			if r := Reason(err); r == "" || r == err.Error() || !strings.Contains(r, "WebM") {
				t.Errorf("Reason(%v) = %q", err, r)
			}
		})
	}
}

func TestWebMHeaderSizes(t *testing.T) {
	for _, n := range []int64{0, 1, 126, 127, 128, 16382, 16383, 1 << 21, 1<<56 - 2} {
		h := webmHeader(0xA3, n)
		size, k := ebmlVint(h[1:])
		if k == 0 || size != n || 1+k != len(h) {
			t.Errorf("webmHeader(%d) = % X reads back as %d", n, h, size)
		}
	}
	b := webmAppendUint(nil, 0xF1, 0x1234)
	if !bytes.Equal(b, []byte{0xF1, 0x82, 0x12, 0x34}) {
		t.Errorf("webmAppendUint = % X", b)
	}
	if got := binary.BigEndian.Uint32(webmIDBytes(0x1A45DFA3)); got != 0x1A45DFA3 {
		t.Errorf("webmIDBytes = %X", got)
	}
}

// TestRebuildWebMVorbisComments: a Vorbis track's CodecPrivate keeps its
// identification and setup headers, and its comment header (vendor and
// free-form tags such as LOCATION=...) is emptied; the sound is the same.
func TestRebuildWebMVorbisComments(t *testing.T) {
	orig := fixture(t, "vorbis.webm")
	out, _ := rebuilt(t, orig, Options{})
	if !bytes.Contains(orig, []byte("Xiph.Org")) || bytes.Contains(out, []byte("Xiph.Org")) {
		t.Error("the Vorbis vendor string was not removed (or the fixture has none)")
	}
	sameMedia(t, "vorbis.webm", orig, out, "v", "a")

	planted := []byte("\x03vorbis\x04\x00\x00\x00Xiph\x01\x00\x00\x00\x1b\x00\x00\x00LOCATION=+48.8584+002.2945/\x01")
	id, setup := []byte("\x01vorbis-identification"), bytes.Repeat([]byte("\x05vorbis-setup"), 30)
	private := append([]byte{2, byte(len(id)), byte(len(planted))}, id...)
	private = append(append(private, planted...), setup...)
	kept, ok := keepVorbisPrivate(private)
	if !ok || bytes.Contains(kept, []byte("LOCATION")) || !bytes.Contains(kept, id) || !bytes.HasSuffix(kept, setup) {
		t.Fatalf("keepVorbisPrivate = %q, %v", kept, ok)
	}
	if again, _ := keepVorbisPrivate(kept); !bytes.Equal(again, kept) {
		t.Error("not a fixed point")
	}
	for _, other := range [][]byte{[]byte("OpusHead\x01\x02"), {2, 200, 1}, private[:10]} {
		if _, ok := keepVorbisPrivate(other); ok {
			t.Errorf("%q taken for Vorbis headers", other)
		}
	}
}

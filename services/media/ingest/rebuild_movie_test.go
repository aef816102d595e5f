package ingest

import (
	"bytes"
	"encoding/binary"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// mvBox is a box of type typ holding the concatenated parts.
func mvBox(typ string, parts ...[]byte) []byte {
	p := bytes.Join(parts, nil)
	return append(bmffHeader(typ, int64(len(p))), p...)
}

// mvPayload is where the children of the box of type typ at off start.
func mvPayload(f []byte, off int, typ string) int {
	switch typ {
	case "stsd", "dref":
		return off + 16
	case "avc1", "s263":
		return off + 8 + 78
	case "mp4a":
		if binary.BigEndian.Uint16(f[off+16:]) == 1 {
			return off + 8 + 44
		}
		return off + 8 + 28
	}
	return off + 8
}

// mvPath finds the boxes along path, each the first of its type inside
// the previous one ("trak@1" is the second trak), and returns their
// offsets. The fixtures use 32-bit sizes only.
func mvPath(t *testing.T, f []byte, path ...string) []int {
	t.Helper()
	var offs []int
	from, to := 0, len(f)
	for _, el := range path {
		typ, nth := el, 0
		if i := strings.IndexByte(el, '@'); i >= 0 {
			typ = el[:i]
			nth, _ = strconv.Atoi(el[i+1:])
		}
		found := -1
		for off := from; off+8 <= to; {
			n := int(binary.BigEndian.Uint32(f[off:]))
			if n == 1 {
				n = int(binary.BigEndian.Uint64(f[off+8:]))
			}
			if n < 8 {
				break
			}
			if string(f[off+4:off+8]) == typ {
				if nth == 0 {
					found = off
					break
				}
				nth--
			}
			off += n
		}
		if found < 0 {
			panic("no " + el + " in " + strings.Join(path, "/"))
		}
		offs = append(offs, found)
		from, to = mvPayload(f, found, typ), found+int(binary.BigEndian.Uint32(f[found:]))
	}
	return offs
}

// mvPlant appends child to the payload of the last box on path, grows
// the boxes along it and moves the chunk offsets past it.
func mvPlant(t *testing.T, f, child []byte, path ...string) []byte {
	t.Helper()
	offs := mvPath(t, f, path...)
	last := offs[len(offs)-1]
	at := last + int(binary.BigEndian.Uint32(f[last:]))
	out := append(append(bytes.Clone(f[:at]), child...), f[at:]...)
	for _, o := range offs {
		binary.BigEndian.PutUint32(out[o:], binary.BigEndian.Uint32(out[o:])+uint32(len(child)))
	}
	mvMoveChunks(out, at, len(child)) // once the boxes can be walked again
	return out
}

// mvInsert inserts b at byte at, between top-level boxes, and moves the
// chunk offsets past it.
func mvInsert(f []byte, at int, b []byte) []byte {
	out := append(append(bytes.Clone(f[:at]), b...), f[at:]...)
	mvMoveChunks(out, at, len(b))
	return out
}

// mvMoveChunks adds delta to every chunk offset at or past at.
func mvMoveChunks(f []byte, at, delta int) {
	for i := 0; ; i++ {
		stco := mvFind(f, "moov", "trak@"+strconv.Itoa(i), "mdia", "minf", "stbl", "stco")
		if stco < 0 {
			return
		}
		for k := range int(binary.BigEndian.Uint32(f[stco+12:])) {
			p := f[stco+16+4*k:]
			if o := binary.BigEndian.Uint32(p); int(o) >= at {
				binary.BigEndian.PutUint32(p, uint32(int(o)+delta))
			}
		}
	}
}

// mvFind is the offset of the last box on path, -1 if there is none.
func mvFind(f []byte, path ...string) (off int) {
	defer func() {
		if recover() != nil {
			off = -1
		}
	}()
	offs := mvPath(&testing.T{}, f, path...)
	return offs[len(offs)-1]
}

// mvPatch returns f with the 4 bytes at off set to s.
func mvPatch(f []byte, off int, s string) []byte {
	f = bytes.Clone(f)
	copy(f[off:off+4], s)
	return f
}

var (
	plantISO6709 = []byte("+48.8584+002.2945/")
	plantXMP     = []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,17.6E"/></rdf:RDF></x:xmpmeta>`)
)

// qtText is a QuickTime user data text: length, language, text.
func qtText(s []byte) []byte {
	return append([]byte{0, byte(len(s)), 0x15, 0xC7}, s...)
}

// mdtaLocation is an Apple metadata box naming the position the way
// iPhones do.
func mdtaLocation() []byte {
	key := []byte("com.apple.quicktime.location.ISO6709")
	keys := mvBox("keys", []byte{0, 0, 0, 0, 0, 0, 0, 1}, binary.BigEndian.AppendUint32(nil, uint32(8+len(key))), []byte("mdta"), key)
	item := mvBox("\x00\x00\x00\x01", mvBox("data", []byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte("+48.8584+002.2945+035.000/")))
	hdlr := mvBox("hdlr", make([]byte, 8), []byte("mdta"), make([]byte, 13))
	return mvBox("meta", hdlr, keys, mvBox("ilst", item))
}

// movShapes are shapes.mov with location planted where cameras, phones
// and editors put it, and some where nobody does.
func movShapes(t *testing.T) map[string][]byte {
	mov := fixture(t, "shapes.mov")
	unknown := mvBox("Zzzz", plantISO6709)
	udta := mvBox("udta", mvBox("\xa9xyz", qtText(plantISO6709)), mvBox("XMP_", plantXMP))
	loci := mvBox("loci", []byte{0, 0, 0, 0, 0x15, 0xC7, 'P', 'a', 'r', 'i', 's', 0, 0}, []byte{0, 0x00, 0x24, 0x5A, 0x30, 0x00, 0x30, 0xD8, 0x5A, 0x00, 0, 0, 0, 0}, []byte("Earth\x00\x00"))
	// The UUID Adobe registered for XMP in ISO media files.
	xmpUUID := []byte{0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC}
	xmpBox := mvBox("uuid", xmpUUID, plantXMP)
	shapes := map[string][]byte{
		"as made":          mov,
		"trak udta":        mvPlant(t, mov, udta, "moov", "trak"),
		"mdia udta":        mvPlant(t, mov, udta, "moov", "trak", "mdia"),
		"loci":             mvPlant(t, mov, loci, "moov", "udta"),
		"mdta keys":        mvPlant(t, mov, mdtaLocation(), "moov"),
		"mdta keys trak":   mvPlant(t, mov, mdtaLocation(), "moov", "trak@1"),
		"xmp uuid in moov": mvPlant(t, mov, xmpBox, "moov"),
		"xmp uuid at top":  append(bytes.Clone(mov), xmpBox...),
		"trailing bytes":   append(bytes.Clone(mov), []byte("tail +48.8584+002.2945/")...),
		"trailing 5 bytes": append(bytes.Clone(mov), "+48.8"...),
		// A duplicate container: players read the first moov.
		"second moov": append(bytes.Clone(mov), mvBox("moov", udta)...),
	}
	for _, path := range [][]string{
		{"moov"}, {"moov", "trak"}, {"moov", "trak", "mdia"}, {"moov", "trak", "mdia", "minf"},
		{"moov", "trak", "mdia", "minf", "dinf"}, {"moov", "trak", "mdia", "minf", "stbl"},
		{"moov", "trak", "mdia", "minf", "stbl", "stsd", "avc1"},
		{"moov", "trak@1", "mdia", "minf", "stbl", "stsd", "mp4a"},
		{"moov", "trak@1", "mdia", "minf", "stbl", "stsd", "mp4a", "wave"},
		{"moov", "trak", "edts"},
	} {
		shapes["unknown in "+strings.Join(path, "/")] = mvPlant(t, mov, unknown, path...)
	}
	// Apple's self-referencing alias instead of a URL.
	shapes["alias data reference"] = mvPatch(mov, mvPath(t, mov, "moov", "trak", "mdia", "minf", "dinf", "dref")[5]+16+4, "alis")
	// Legacy QuickTime: no ftyp, a wide atom before mdat.
	legacy := bytes.Clone(mov[mvPath(t, mov, "moov")[0]:])
	mvMoveChunks(legacy, 0, -mvPath(t, mov, "moov")[0])
	shapes["legacy QuickTime"] = mvInsert(legacy, mvPath(t, legacy, "mdat")[0], mvBox("wide"))
	all := mov
	for _, p := range [][]string{{"moov", "trak"}, {"moov", "trak", "mdia"}, {"moov", "trak@1"}} {
		all = mvPlant(t, all, udta, p...)
		all = mvPlant(t, all, unknown, p...)
	}
	all = mvPlant(t, all, mdtaLocation(), "moov")
	all = mvPlant(t, all, loci, "moov", "udta")
	all = mvPlant(t, all, xmpBox, "moov")
	shapes["all at once"] = append(all, []byte("tail +48.8584+002.2945/")...)
	return shapes
}

// metadataTrack turns the subtitle track of shapes.mp4 into a timed
// metadata track of handler h and sample description typ, at the same size
// (offsets stay valid): the subtitle's sample, holding the position, stands
// for GPS samples.
func metadataTrack(t *testing.T, h, typ string) []byte {
	f := fixture(t, "shapes.mp4")
	hdlr := mvPath(t, f, "moov", "trak@2", "mdia", "hdlr")[3]
	f = mvPatch(f, hdlr+16, h)
	entry := mvPath(t, f, "moov", "trak@2", "mdia", "minf", "stbl", "stsd")[5] + 16
	return mvPatch(f, entry+4, typ)
}

func TestRebuildMovieShapes(t *testing.T) {
	cases := movShapes(t)
	cases["shapes.mp4 (faststart, XMP uuid before mdat, tx3g track)"] = fixture(t, "shapes.mp4")
	cases["gps.3gp"] = fixture(t, "gps.3gp")
	cases["gpmd track"] = metadataTrack(t, "meta", "gpmd")
	cases["camm track"] = metadataTrack(t, "camm", "camm")
	cases["mebx track"] = metadataTrack(t, "meta", "mebx")
	for name, orig := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // the external tools take most of the time
			if len(findLocation(orig)) == 0 {
				t.Fatal("the fixture holds no position")
			}
			out, rb := rebuilt(t, orig, Options{})
			checkMovie(t, orig, out)
			if want := movieCreation(mvhdOf(t, orig)); !rb.Info.TakenTime.Equal(want) {
				t.Errorf("Info.TakenTime = %v, want %v", rb.Info.TakenTime, want)
			}
			if !bytes.Equal(mvhdOf(t, orig), mvhdOf(t, out)) {
				t.Error("mvhd changed")
			}
			if (string(orig[4:8]) == "ftyp") != (string(out[4:8]) == "ftyp") {
				t.Errorf("the upload starts with %q, the rebuilt movie with %q", orig[4:8], out[4:8])
			}
		})
	}
}

// mvhdOf is the payload of a movie's mvhd.
func mvhdOf(t *testing.T, f []byte) []byte {
	o := mvPath(t, f, "moov", "mvhd")[1]
	return f[o+8 : o+int(binary.BigEndian.Uint32(f[o:]))]
}

// checkMovie checks a rebuilt movie: no position or other planted trace,
// no box type we drop, the same decoded video and audio, only video and
// audio streams, and a fixed point.
func checkMovie(t *testing.T, orig, out []byte) {
	t.Helper()
	if found := findLocation(out); len(found) > 0 {
		t.Errorf("location left after the rebuild: %v", found)
	}
	for _, s := range []string{"xmpmeta", "ISO6709", "udta", "XMP_", "uuid", "Zzzz", "keys", "ilst", "tail", "free", "wide",
		"gpmd", "camm", "mebx", "tmcd", "tx3g", "tref", "GPS", "Lavf", "Earth"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("rebuilt movie holds %q", s)
		}
	}
	path := writeTemp(t, "out.mov", out)
	if loc, ok := exiftoolLocation(t, path); ok && len(loc) > 0 {
		t.Errorf("exiftool still finds location: %v", loc)
	}
	if tags, ok := ffprobeLocation(t, path); ok && len(tags) > 0 {
		t.Errorf("ffprobe still finds location: %v", tags)
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		src := writeTemp(t, "orig.mov", orig)
		if a, b := movieFramemd5(t, src), movieFramemd5(t, path); a != b {
			t.Errorf("decoded streams differ:\n%s\nrebuilt:\n%s", a, b)
		}
		if cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"); true {
			if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
				t.Errorf("ffmpeg decoding the rebuilt movie: %v %s", err, msg)
			}
		}
		probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", path).Output()
		if err != nil {
			t.Fatalf("ffprobe: %v", err)
		}
		for _, ty := range strings.Fields(string(probe)) {
			if ty != "video" && ty != "audio" {
				t.Errorf("rebuilt movie has a %s stream", ty)
			}
		}
	}
	again, _ := rebuilt(t, out, Options{})
	if !bytes.Equal(again, out) {
		t.Errorf("rebuilding the rebuilt movie changed it (%d -> %d bytes); want a fixed point", len(out), len(again))
	}
}

// movieFramemd5 decodes a movie's video and audio and returns the checksum of
// each frame.
func movieFramemd5(t *testing.T, path string) string {
	t.Helper()
	b, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-map", "0:a?",
		"-flags", "+bitexact", "-fflags", "+bitexact", "-f", "framemd5", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg framemd5 %s: %v", path, err)
	}
	return string(b)
}

// TestRebuildMovieCutShort: a movie whose mdat was cut short at the end of
// the file (a recording stopped, a download lost its end) keeps what is
// there; the mdat header still declares the original size, so the
// rebuilt file is cut the same way and a fixed point.
func TestRebuildMovieCutShort(t *testing.T) {
	mp4 := fixture(t, "shapes.mp4")
	cut := mp4[:len(mp4)-100]
	out, _ := rebuilt(t, cut, Options{})
	if found := findLocation(out); len(found) > 0 {
		t.Errorf("location left after the rebuild: %v", found)
	}
	again, _ := rebuilt(t, out, Options{})
	if !bytes.Equal(again, out) {
		t.Error("not a fixed point")
	}
	m := mvPath(t, out, "mdat")[0]
	if got, want := binary.BigEndian.Uint32(out[m:]), binary.BigEndian.Uint32(mp4[mvPath(t, mp4, "mdat")[0]:]); got != want {
		t.Errorf("mdat declares %d bytes, want %d as in the upload", got, want)
	}
	if int(binary.BigEndian.Uint32(out[m:])) <= len(out)-m {
		t.Error("the rebuilt mdat is not cut short")
	}
	// An mdat of size 0 runs to the end of the file.
	zero := bytes.Clone(mp4)
	binary.BigEndian.PutUint32(zero[mvPath(t, mp4, "mdat")[0]:], 0)
	out, _ = rebuilt(t, zero, Options{})
	checkMovie(t, mp4, out)
}

func TestRebuildMovieRefuses(t *testing.T) {
	mov := fixture(t, "shapes.mov")
	mp4 := fixture(t, "shapes.mp4")
	stco := mvPath(t, mov, "moov", "trak", "mdia", "minf", "stbl", "stco")[5]
	url := mvPath(t, mov, "moov", "trak", "mdia", "minf", "dinf", "dref")[5] + 16
	tkhd := mvPath(t, mov, "moov", "trak", "tkhd")[2]
	set := func(f []byte, off int, v uint32) []byte {
		f = bytes.Clone(f)
		binary.BigEndian.PutUint32(f[off:], v)
		return f
	}
	mvex := mvBox("mvex", mvBox("trex", make([]byte, 24)))
	tests := map[string][]byte{
		"encrypted":              mvPatch(mov, mvPath(t, mov, "moov", "trak", "mdia", "minf", "stbl", "stsd", "avc1")[6]+4, "encv"),
		"two mvex":               mvPlant(t, mvPlant(t, mov, mvex, "moov"), mvex, "moov"),
		"no moov":                mvPatch(mov, mvPath(t, mov, "moov")[0]+4, "moox"),
		"moov cut short":         mp4[:mvPath(t, mp4, "moov", "trak@1")[1]],
		"chunk outside mdat":     set(mov, stco+16, 8),
		"chunk past its mdat":    set(mov, stco+16, uint32(len(mov)-2)),
		"external data":          set(mov, url+8, 0),
		"box past its parent":    set(mov, tkhd, 2000),
		"stco lists too many":    set(mov, stco+12, 1000),
		"no video or audio":      mvPatch(mvPatch(mov, mvPath(t, mov, "moov", "trak", "mdia", "hdlr")[3]+16, "zzzz"), mvPath(t, mov, "moov", "trak@1", "mdia", "hdlr")[3]+16, "zzzz"),
		"stray bytes in a track": mvPlant(t, mov, []byte{1, 2, 3}, "moov", "trak"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}

// virtualFile is a file of byte parts and runs of zeros, for movies
// larger than memory.
type virtualFile []struct {
	b     []byte
	zeros int64
}

func (v virtualFile) size() int64 {
	var n int64
	for _, p := range v {
		n += int64(len(p.b)) + p.zeros
	}
	return n
}

func (v virtualFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, part := range v {
		size := int64(len(part.b)) + part.zeros
		if off >= size {
			off -= size
			continue
		}
		k := int(min(int64(len(p)-n), size-off))
		if part.b != nil {
			copy(p[n:n+k], part.b[off:])
		} else {
			clear(p[n : n+k])
		}
		n += k
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// co64 rewrites the containers of moov so that each stco becomes a co64
// with its offsets moved by delta.
func co64(t *testing.T, b []byte, delta uint64) []byte {
	var out []byte
	for off := 0; off < len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		typ, p := string(b[off+4:off+8]), b[off+8:off+n]
		switch typ {
		case "moov", "trak", "mdia", "minf", "stbl":
			out = append(out, mvBox(typ, co64(t, p, delta))...)
		case "stco":
			c := binary.BigEndian.Uint32(p[4:])
			q := bytes.Clone(p[:8])
			for i := range c {
				q = binary.BigEndian.AppendUint64(q, uint64(binary.BigEndian.Uint32(p[8+4*i:]))+delta)
			}
			out = append(out, mvBox("co64", q)...)
		default:
			out = append(out, b[off:off+n]...)
		}
		off += n
	}
	return out
}

// TestRebuildMovieLarge rebuilds a 5 GiB movie (mostly zeros, never held
// in memory) whose samples lie past 4 GiB: offsets stay 64-bit, moved for
// the dropped boxes.
func TestRebuildMovieLarge(t *testing.T) {
	mp4 := fixture(t, "shapes.mp4")
	ftyp := mp4[:mvPath(t, mp4, "moov")[0]]
	mdat := mvPath(t, mp4, "mdat")[0]
	payload := mp4[mdat+8:]
	const gap = 5 << 30
	// ftyp, moov, free, mdat with a 64-bit size: gap zeros, then the
	// samples; the moov's size does not depend on delta.
	free := mvBox("free", make([]byte, 100))
	moovLen := len(co64(t, mp4[len(ftyp):mvPath(t, mp4, "free")[0]], 0))
	newData := uint64(len(ftyp) + moovLen + len(free) + 16 + gap)
	moov := co64(t, mp4[len(ftyp):mvPath(t, mp4, "free")[0]], newData-uint64(mdat+8))
	hdr := binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't'}, uint64(16+gap+len(payload)))
	v := virtualFile{{b: ftyp}, {b: moov}, {b: free}, {b: hdr}, {zeros: gap}, {b: payload}}
	ty, _ := Sniff(mp4[:SniffLen])
	rb, err := Rebuild(v, v.size(), ty, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	rb.WriteTo(&limitWriter{&head, 64 << 10})
	out := head.Bytes()
	if want := int64(mvPath(t, out, "mdat")[0] + 16 + gap + len(payload)); rb.Size() != want {
		t.Errorf("Size = %d, want %d", rb.Size(), want)
	}
	co := mvPath(t, out, "moov", "trak", "mdia", "minf", "stbl", "co64")[5]
	got := binary.BigEndian.Uint64(out[co+16:])
	m := mvPath(t, out, "mdat")[0]
	orig := mvPath(t, mp4, "moov", "trak", "mdia", "minf", "stbl", "stco")[5]
	want := uint64(m+16+gap) + uint64(binary.BigEndian.Uint32(mp4[orig+16:])) - uint64(mdat+8)
	if got != want {
		t.Errorf("first chunk at %d, want %d", got, want)
	}
	if !bytes.Equal(out[m:m+16], hdr) {
		t.Errorf("mdat header %x, want %x", out[m:m+16], hdr)
	}
}

// limitWriter keeps the first n bytes written and then fails.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		l.w.Write(p[:l.n-l.w.Len()])
		return 0, io.ErrShortWrite
	}
	return l.w.Write(p)
}

// TestRebuildKeepsWrittenMovie: the large MP4s that upload tests and
// benchmarks make with mediacheck.WriteMovie are stored as they are, so
// those tests may compare sizes and checksums with the file sent.
func TestRebuildKeepsWrittenMovie(t *testing.T) {
	for _, size := range []int64{4096, 3 << 20} {
		var b bytes.Buffer
		if err := mediacheck.WriteMovie(&b, size, [32]byte{7}); err != nil {
			t.Fatal(err)
		}
		out, rb := rebuilt(t, b.Bytes(), Options{})
		if !bytes.Equal(out, b.Bytes()) || !rb.Unchanged() {
			t.Errorf("size %d: rebuilt into %d other bytes (Unchanged: %v)", size, len(out), rb.Unchanged())
		}
	}
}

package mediacheck

// A fragmented film (ISO/IEC 14496-12 8.8) may hold, besides the above:
//   - top level: moof boxes (any number), each holding mfhd (once) and
//     traf boxes; no sidx, ssix, styp, emsg, prft or mfra;
//   - moov/mvex: mehd (once), trex (24 bytes; one per track, of a track
//     the film has);
//   - traf: tfhd (first, once, exactly the size its flags say, of a track
//     the film has), tfdt (once), trun (exactly the size its flags and
//     sample count say), sbgp, sgpd, subs; no saiz, saio, senc or uuid;
//   - the samples of every run inside one mdat's data, the run's place
//     found from its base as the standard says: the base_data_offset of
//     tfhd, else the moof with default-base-is-moof, else the moof for the
//     first traf and the end of the previous traf's data for the others.

// fragTraf is a track fragment header's fields the sample walk needs.
type fragTraf struct {
	flags   uint32
	track   uint32
	base    uint64
	size    uint32 // default_sample_size
	hasSize bool
}

// fragment checks one movie fragment against the tracks and trex defaults
// gathered from moov and the mdats of the file.
func (c *checker) fragment(d []byte, moof box, f *bmffFile) {
	prevEnd := uint64(moof.at) // the implicit base of the first traf
	for _, t := range c.children(d, moof, moof.start, "mfhd traf", "mfhd") {
		if t.typ == "mfhd" {
			if t.end-t.start != 8 {
				c.addf("%s is %d bytes, want 8", t, t.end-t.start)
			}
			continue
		}
		kids := c.children(d, t, t.start, "tfhd tfdt trun sbgp sgpd subs", "tfhd tfdt")
		if len(kids) == 0 || kids[0].typ != "tfhd" {
			c.addf("%s does not start with tfhd", t)
			continue
		}
		h, ok := c.tfhd(d, kids[0], f)
		if !ok {
			continue
		}
		var base uint64
		switch {
		case h.flags&0x000001 != 0:
			base = h.base
		case h.flags&0x020000 != 0:
			base = uint64(moof.at)
		default:
			base = prevEnd
		}
		next := base
		for _, k := range kids[1:] {
			switch k.typ {
			case "tfdt":
				if n := k.end - k.start; n < 4 || (d[k.start] != 0 || n != 8) && (d[k.start] != 1 || n != 12) {
					c.addf("%s is %d bytes, not a version 0 or 1 tfdt", k, n)
				}
			case "trun":
				end, ok := c.trun(d, k, h, base, next, f)
				if !ok {
					break
				}
				next = end
			}
		}
		prevEnd = next
	}
}

// tfhd checks a track fragment header and reads it.
func (c *checker) tfhd(d []byte, b box, f *bmffFile) (fragTraf, bool) {
	p := d[b.start:b.end]
	if len(p) < 8 || p[0] != 0 {
		c.addf("%s is not a version 0 tfhd", b)
		return fragTraf{}, false
	}
	h := fragTraf{flags: be32(p) & 0xFFFFFF, track: be32(p[4:])}
	want := 8
	for _, fl := range []struct {
		bit uint32
		n   int
	}{{0x01, 8}, {0x02, 4}, {0x08, 4}, {0x10, 4}, {0x20, 4}} {
		if h.flags&fl.bit == 0 {
			continue
		}
		if fl.bit == 0x01 && len(p) >= 16 {
			h.base = be64(p[8:])
		}
		if fl.bit == 0x10 && len(p) >= want+4 {
			h.size, h.hasSize = be32(p[want:]), true
		}
		want += fl.n
	}
	if len(p) != want {
		c.addf("%s is %d bytes, its flags %#x say %d", b, len(p), h.flags, want)
		return fragTraf{}, false
	}
	if !f.tracks[h.track] {
		c.addf("%s names track %d, which the film does not have", b, h.track)
		return fragTraf{}, false
	}
	if !h.hasSize {
		h.size, h.hasSize = f.trex[h.track]
	}
	return h, true
}

// trun checks a track run: its size, and that its samples lie in one mdat.
// It returns where its data ends.
func (c *checker) trun(d []byte, b box, h fragTraf, base, next uint64, f *bmffFile) (uint64, bool) {
	p := d[b.start:b.end]
	if len(p) < 8 || p[0] > 1 {
		c.addf("%s is not a version 0 or 1 trun", b)
		return 0, false
	}
	flags, count := be32(p)&0xFFFFFF, uint64(be32(p[4:]))
	head := 8
	if flags&0x01 != 0 {
		head += 4
	}
	if flags&0x04 != 0 {
		head += 4
	}
	per := 0
	for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&bit != 0 {
			per += 4
		}
	}
	if uint64(len(p)) != uint64(head)+count*uint64(per) {
		c.addf("%s is %d bytes for %d samples with flags %#x", b, len(p), count, flags)
		return 0, false
	}
	start := next
	if flags&0x01 != 0 {
		start = base + uint64(int64(int32(be32(p[8:]))))
	}
	var n uint64
	if flags&0x200 != 0 {
		skip := 0
		if flags&0x100 != 0 {
			skip = 4
		}
		for i := 0; i < int(count) && c.step(); i++ {
			n += uint64(be32(p[head+i*per+skip:]))
		}
	} else if count > 0 {
		if !h.hasSize {
			c.addf("%s: its samples have no size in trun, tfhd or trex", b)
			return 0, false
		}
		n = count * uint64(h.size)
	}
	if n > 0 && !f.inMdat(start, n) {
		c.addf("%s: its samples at byte %d (%d bytes) are not inside one mdat", b, start, n)
	}
	return start + n, true
}

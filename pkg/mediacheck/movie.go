package mediacheck

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// WriteMovie writes an MP4 of exactly size bytes for upload tests and
// benchmarks that need a large file, streaming: an ftyp box (brand isom,
// sniffed as video/mp4), an mdat of pseudo-random bytes from seed, and a
// moov after it whose one video track's samples cover the whole mdat, so
// that the media service's rebuild keeps every byte of it. The samples are
// not a decodable picture: thumbnails of such a file fail.
func WriteMovie(w io.Writer, size int64, seed [32]byte) error {
	const ftypSize, mdatHeader = 24, 16
	// A sample's size is 32 bits: the payload is cut into samples of at
	// most 1 GiB, all in one chunk.
	const maxSample = 1 << 30
	samples := int64(1)
	var payload int64
	for {
		payload = size - ftypSize - mdatHeader - int64(len(movieBox(samples, 0, 0)))
		if payload < 1 {
			return fmt.Errorf("mediacheck: %d bytes cannot hold an MP4 with one sample", size)
		}
		if need := (payload + maxSample - 1) / maxSample; need > samples {
			samples = need
			continue
		}
		break
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	var h [mdatHeader]byte
	binary.BigEndian.PutUint32(h[:4], 1) // a 64-bit size follows the type
	copy(h[4:8], "mdat")
	binary.BigEndian.PutUint64(h[8:], uint64(mdatHeader+payload))
	bw.Write(h[:])
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for left := payload; left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = rng.Read(buf[:n]) // never fails
		if _, err := bw.Write(buf[:n]); err != nil {
			return err
		}
		left -= int64(n)
	}
	bw.Write(movieBox(samples, ftypSize+mdatHeader, payload))
	return bw.Flush()
}

// movieBox is a moov with one video track of n samples in one chunk at
// offset off, together payload bytes long (the last sample takes the rest).
func movieBox(n, off, payload int64) []byte {
	be := binary.BigEndian
	box := func(typ string, parts ...[]byte) []byte {
		b := make([]byte, 8)
		copy(b[4:], typ)
		for _, p := range parts {
			b = append(b, p...)
		}
		be.PutUint32(b, uint32(len(b)))
		return b
	}
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = be.AppendUint32(b, v)
		}
		return b
	}
	matrix := u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
	mvhd := box("mvhd", u32(0, 0, 0, 1000, 1000, 0x10000), []byte{1, 0}, make([]byte, 10), matrix, make([]byte, 24), u32(2))
	tkhd := box("tkhd", u32(3, 0, 0, 1, 0, 1000), make([]byte, 8), make([]byte, 8), matrix, u32(16<<16, 16<<16))
	mdhd := box("mdhd", u32(0, 0, 0, 1000, 1000), []byte{0x55, 0xC4, 0, 0})
	hdlr := box("hdlr", u32(0, 0), []byte("vide"), make([]byte, 12), []byte{0})
	vmhd := box("vmhd", u32(1), make([]byte, 8))
	dinf := box("dinf", box("dref", u32(0, 1), box("url ", u32(1))))
	entry := box("jpeg", make([]byte, 6), []byte{0, 1}, make([]byte, 16), []byte{0, 16, 0, 16},
		u32(0x480000, 0x480000, 0), []byte{0, 1}, make([]byte, 32), []byte{0, 0x18, 0xFF, 0xFF})
	sizes := u32(0, 0, uint32(n))
	for i := int64(0); i < n; i++ {
		s := min(payload-i*(1<<30), 1<<30)
		sizes = be.AppendUint32(sizes, uint32(max(s, 0)))
	}
	stbl := box("stbl",
		box("stsd", u32(0, 1), entry),
		box("stts", u32(0, 1, uint32(n), 1000)),
		box("stsc", u32(0, 1, 1, uint32(n), 1)),
		box("stsz", sizes),
		box("stco", u32(0, 1, uint32(off))))
	trak := box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", vmhd, dinf, stbl)))
	return box("moov", mvhd, trak)
}

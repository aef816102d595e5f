package ingest

import (
	"encoding/binary"
	"unicode/utf16"
)

// A colour profile is kept on purpose (colours would be wrong without it),
// but an ICC profile is a container too: besides the colourimetry it holds
// free text (description, copyright, device maker and model, a dictionary
// of anything) and vendor tags. keepICC rebuilds it from the allowlist
// below: the header's colour-defining fields, the tags that define colours,
// and a fixed description. Everything else, text included, is dropped.

// iccTags are the tags a colour-managed reader uses to render a picture.
var iccTags = map[string]bool{
	"rXYZ": true, "gXYZ": true, "bXYZ": true, "rTRC": true, "gTRC": true, "bTRC": true, "kTRC": true,
	"wtpt": true, "bkpt": true, "chad": true, "chrm": true, "lumi": true, "cicp": true,
	"A2B0": true, "A2B1": true, "A2B2": true, "B2A0": true, "B2A1": true, "B2A2": true,
}

// maxICCTags bounds the tag table walked (real profiles have 10 to 30).
const maxICCTags = 256

// iccDescription is the description every kept profile carries.
const iccDescription = "Colour profile"

// keepICC returns p rebuilt from the allowlist, or nil when p is not a
// profile that can be walked or keeps no colour-defining tag.
func keepICC(p []byte) []byte {
	be := binary.BigEndian
	if len(p) < 132 || string(p[36:40]) != "acsp" || int64(be.Uint32(p)) > int64(len(p)) {
		return nil
	}
	p = p[:be.Uint32(p)]
	n := int(be.Uint32(p[128:]))
	if n > maxICCTags || 132+12*n > len(p) {
		return nil
	}
	type tag struct {
		sig  string
		data []byte
	}
	var kept []tag
	for i := range n {
		e := p[132+12*i:]
		sig, off, size := string(e[:4]), int64(be.Uint32(e[4:])), int64(be.Uint32(e[8:]))
		if !iccTags[sig] {
			continue
		}
		if off < 132 || size < 8 || off+size > int64(len(p)) {
			return nil
		}
		kept = append(kept, tag{sig, p[off : off+size]})
	}
	if len(kept) == 0 {
		return nil
	}
	version := p[8]
	kept = append(kept, tag{"desc", iccDesc(version)})

	out := make([]byte, 128, 1024)
	copy(out[8:12], p[8:12])   // version
	copy(out[12:24], p[12:24]) // class, colour space, connection space
	copy(out[36:40], "acsp")
	copy(out[64:80], p[64:80]) // rendering intent, illuminant
	out = be.AppendUint32(out, uint32(len(kept)))
	table := len(out)
	out = append(out, make([]byte, 12*len(kept))...)
	seen := map[string]uint32{} // tags sharing data (r/g/b TRC) keep sharing it
	for i, t := range kept {
		off, ok := seen[string(t.data)]
		if !ok {
			for len(out)%4 != 0 {
				out = append(out, 0)
			}
			off = uint32(len(out))
			out = append(out, t.data...)
			seen[string(t.data)] = off
		}
		e := out[table+12*i:]
		copy(e, t.sig)
		be.PutUint32(e[4:], off)
		be.PutUint32(e[8:], uint32(len(t.data)))
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	be.PutUint32(out, uint32(len(out)))
	return out
}

// iccDesc is the fixed description in the type the profile's version uses:
// multiLocalizedUnicode from version 4, textDescription before.
func iccDesc(version byte) []byte {
	be := binary.BigEndian
	if version >= 4 {
		text := utf16.Encode([]rune(iccDescription))
		b := []byte("mluc\x00\x00\x00\x00")
		b = be.AppendUint32(b, 1)  // one record
		b = be.AppendUint32(b, 12) // record size
		b = append(b, "enUS"...)
		b = be.AppendUint32(b, uint32(2*len(text)))
		b = be.AppendUint32(b, 28) // offset of the text from the tag's start
		for _, c := range text {
			b = be.AppendUint16(b, c)
		}
		return b
	}
	b := []byte("desc\x00\x00\x00\x00")
	b = be.AppendUint32(b, uint32(len(iccDescription)+1))
	b = append(b, iccDescription...)
	b = append(b, 0)
	b = append(b, make([]byte, 4+4+2+1+67)...) // no Unicode or ScriptCode text
	return b
}

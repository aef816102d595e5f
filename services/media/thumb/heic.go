package thumb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// maxMetaBox bounds the HEIC 'meta' box read into memory. A phone photo's
// is a few KB (a 48-tile grid included); anything near this is not a photo.
const maxMetaBox = 16 << 20

// maxConverted bounds the JPEG heif-convert may write: a 50 MP picture at
// quality 92 is about 25 MB.
const maxConverted = 64 << 20

// heicQuality is what heif-convert encodes its intermediate JPEG at: high,
// since the thumbnails are encoded again from it.
const heicQuality = "92"

// heic reads the dimensions from the container and, when heif-convert is
// available, thumbnails the picture it decodes.
func (j *job) heic() (Result, error) {
	// The header is checked against the limits before any decoder runs, as
	// for the other images: libheif would otherwise allocate whatever the
	// file declares.
	w, h, err := heifSize(j.r, j.size)
	if err != nil {
		return Result{}, fmt.Errorf("thumb: reading HEIC header: %w", err)
	}
	if err := j.lim.check(w, h); err != nil {
		return Result{}, err
	}
	res := Result{Width: w, Height: h, Thumbs: map[string][]byte{}}
	prog := j.opt.tools.HeifConvert
	if prog == "" || len(j.sizes) == 0 {
		return res, nil
	}
	in, ok, err := j.inputPath()
	if err != nil || !ok {
		return res, err
	}
	dir, err := j.tempDir()
	if err != nil {
		return Result{}, err
	}
	// heif-convert numbers its outputs ("converted-1.jpg") when a file holds
	// several top-level pictures, splitting the name at its first '.': so it
	// runs in the temporary folder with a bare file name, which a dot in a
	// parent folder's name cannot disturb.
	const out = "converted.jpg"
	if _, err := j.run("heif-convert", prog, dir, []string{"--quiet", "-q", heicQuality, in, out}, 1<<20); err != nil {
		return Result{}, err
	}
	data, err := readConverted(dir, out)
	if err != nil {
		return Result{}, err
	}
	// heif-convert has applied the container's rotation and mirroring
	// (irot/imir), which the HEIF spec makes authoritative over any EXIF
	// orientation; so the JPEG is upright.
	sub, err := j.still(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), TypeJPEG, 1)
	if err != nil {
		return Result{}, fmt.Errorf("thumb: picture from heif-convert: %w", err)
	}
	return sub, nil
}

// readConverted reads heif-convert's output: name itself, or the first of
// the numbered files it writes for a file with several pictures (the
// primary comes first in the files phones write).
func readConverted(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		ext := filepath.Ext(name)
		matches, _ := filepath.Glob(filepath.Join(dir, name[:len(name)-len(ext)]+"-*"+ext))
		if len(matches) == 0 {
			return nil, errors.New("thumb: heif-convert wrote no picture")
		}
		slices.Sort(matches)
		path = matches[0]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("thumb: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConverted+1))
	if err != nil {
		return nil, fmt.Errorf("thumb: %w", err)
	}
	if len(data) > maxConverted {
		return nil, fmt.Errorf("thumb: heif-convert wrote more than %d bytes", maxConverted)
	}
	return data, nil
}

// heifSize returns the dimensions of the primary picture of a HEIF file as
// shown: its 'ispe' (image spatial extents) property, sides swapped when
// its 'irot' property turns it a quarter turn.
func heifSize(r io.ReaderAt, size int64) (w, h int, err error) {
	meta, err := findTopLevel(r, size, "meta", maxMetaBox)
	if err != nil {
		return 0, 0, err
	}
	return parseHEIFMeta(meta)
}

// parseHEIFMeta reads the body of a HEIF 'meta' box; see heifSize.
func parseHEIFMeta(meta []byte) (w, h int, err error) {
	_, _, body, ok := fullBox(meta)
	if !ok {
		return 0, 0, errBadBox
	}
	boxes, err := parseBoxes(body)
	if err != nil {
		return 0, 0, err
	}
	primary, err := primaryItem(boxes)
	if err != nil {
		return 0, 0, err
	}
	iprp, ok := childBoxes(boxes, "iprp")
	if !ok {
		return 0, 0, errors.New("thumb: no 'iprp' box")
	}
	props, ok := childBoxes(iprp, "ipco")
	if !ok {
		return 0, 0, errors.New("thumb: no 'ipco' box")
	}
	var ispe, irot []byte
	for _, idx := range associations(iprp, primary) {
		// Property indices are 1-based; 0 means "none".
		if idx == 0 || idx > len(props) {
			continue
		}
		switch p := props[idx-1]; p.typ {
		case "ispe":
			if ispe == nil {
				ispe = p.body
			}
		case "irot":
			irot = p.body
		}
	}
	_, _, ext, ok := fullBox(ispe)
	if !ok || len(ext) < 8 {
		return 0, 0, errors.New("thumb: primary picture has no 'ispe' property")
	}
	// Sides beyond int32 are refused by the limits anyway; clamping keeps
	// them from wrapping negative on the way there.
	w = int(min(binary.BigEndian.Uint32(ext), 1<<31-1))
	h = int(min(binary.BigEndian.Uint32(ext[4:]), 1<<31-1))
	// The low two bits of 'irot' count quarter turns: an odd count swaps.
	if len(irot) >= 1 && irot[0]&1 == 1 {
		w, h = h, w
	}
	return w, h, nil
}

// primaryItem reads the 'pitm' box: the item id of the picture to show.
func primaryItem(boxes []box) (uint32, error) {
	pitm, ok := child(boxes, "pitm")
	if !ok {
		return 0, errors.New("thumb: no 'pitm' box")
	}
	v, _, b, ok := fullBox(pitm.body)
	switch {
	case ok && v == 0 && len(b) >= 2:
		return uint32(binary.BigEndian.Uint16(b)), nil
	case ok && len(b) >= 4:
		return binary.BigEndian.Uint32(b), nil
	}
	return 0, errBadBox
}

// associations returns the property indices that the 'ipma' boxes among
// iprp associate with item, in order.
func associations(iprp []box, item uint32) []int {
	var out []int
	for _, ipma := range iprp {
		if ipma.typ != "ipma" {
			continue
		}
		v, flags, b, ok := fullBox(ipma.body)
		if !ok || len(b) < 4 {
			continue
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		idLen, idxLen := 2, 1
		if v >= 1 {
			idLen = 4
		}
		if flags&1 != 0 {
			idxLen = 2
		}
		for range n {
			if len(b) < idLen+1 {
				break
			}
			var id uint32
			if idLen == 2 {
				id = uint32(binary.BigEndian.Uint16(b))
			} else {
				id = binary.BigEndian.Uint32(b)
			}
			count := int(b[idLen])
			b = b[idLen+1:]
			if len(b) < count*idxLen {
				break
			}
			for i := range count {
				// The top bit of each entry marks the property essential.
				var idx int
				if idxLen == 1 {
					idx = int(b[i] & 0x7f)
				} else {
					idx = int(binary.BigEndian.Uint16(b[2*i:]) & 0x7fff)
				}
				if id == item {
					out = append(out, idx)
				}
			}
			b = b[count*idxLen:]
		}
	}
	return out
}

package thumb

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"slices"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// jpegQuality is the thumbnails' JPEG quality: at thumbnail sizes, 80 is
// indistinguishable from higher settings at about half the bytes.
const jpegQuality = 80

// codec decodes one still format. Chosen by the trusted content type rather
// than by image.DecodeConfig's sniffing, so a file is only ever handed to
// the decoder its type names, and nothing depends on which decoders some
// other package happened to register.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	TypeJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	TypePNG:  {png.DecodeConfig, png.Decode},
	// gif.Decode stops after the first frame, which is the thumbnail.
	TypeGIF:  {gif.DecodeConfig, gif.Decode},
	TypeWebP: {webp.DecodeConfig, webp.Decode},
}

// still decodes a still image from sr, refusing it from its header alone
// when it is over the limits, and thumbnails it turned by orientation.
func (j *job) still(sr *io.SectionReader, contentType string, orientation int) (Result, error) {
	c := codecs[contentType]
	cfg, err := c.config(bufio.NewReader(sr))
	if err != nil {
		return Result{}, fmt.Errorf("thumb: reading %s header: %w", contentType, err)
	}
	if err := j.lim.check(cfg.Width, cfg.Height); err != nil {
		return Result{}, err
	}
	w, h := orientedSize(cfg.Width, cfg.Height, orientation)
	res := Result{Width: w, Height: h, Thumbs: map[string][]byte{}}
	if len(j.sizes) == 0 {
		return res, nil // dimensions only: spare the decoding
	}
	if contentType == TypeWebP && webpAnimated(sr) {
		// Neither x/image/webp nor Debian's ffmpeg 5.1 decodes animated
		// WebP: the canvas size is all there is to report.
		return res, nil
	}
	if err := j.ctx.Err(); err != nil {
		return Result{}, err
	}
	if _, err := sr.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("thumb: %w", err)
	}
	img, err := c.decode(bufio.NewReader(sr))
	if err != nil {
		return Result{}, fmt.Errorf("thumb: decoding %s: %w", contentType, err)
	}
	// A GIF's first frame may cover only part of the logical screen that
	// DecodeConfig reported; a viewer shows it in place on that screen.
	if b := img.Bounds(); b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		canvas := image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}
	res.Thumbs, err = j.thumbnails(img, orientation)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// thumbnails scales img to every wanted size, turns each by orientation and
// encodes it as JPEG.
//
// Sizes are made from the largest down, each from the previous (larger)
// result, so a small thumbnail costs little more than its own pixels.
// Scaling happens before turning: turning a thumbnail is cheap, turning a
// 50 MP original would copy it.
func (j *job) thumbnails(img image.Image, orientation int) (map[string][]byte, error) {
	order := slices.Clone(j.sizes)
	slices.SortStableFunc(order, func(a, b Size) int { return b.Max - a.Max })

	thumbs := make(map[string][]byte, len(order))
	b := img.Bounds()
	ow, oh := orientedSize(b.Dx(), b.Dy(), orientation)
	src := img
	for _, s := range order {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		tw, th := fit(ow, oh, s.Max)
		// Target in the stored (unturned) frame of the pixels.
		sw, sh := orientedSize(tw, th, orientation)
		scaled := scale(src, sw, sh)
		// Flattened in place, so the smaller sizes are made from opaque
		// pixels: laying over white is linear in premultiplied colour, so
		// resampling before or after it gives the same thumbnail.
		flattenOnWhite(scaled)
		src = scaled

		out := orient(scaled, orientation)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return nil, fmt.Errorf("thumb: encoding %s thumbnail: %w", s.Name, err)
		}
		thumbs[s.Name] = buf.Bytes()
	}
	return thumbs, nil
}

// fit returns the largest size within max x max with the aspect of w x h,
// never larger than w x h itself (no upscaling) and never below 1 pixel a
// side (a 10000x1 strip still gets a thumbnail).
func fit(w, h, maxSide int) (int, int) {
	if w <= maxSide && h <= maxSide {
		return w, h
	}
	if w >= h {
		nh := int((int64(h)*int64(maxSide) + int64(w)/2) / int64(w))
		return maxSide, max(nh, 1)
	}
	nw := int((int64(w)*int64(maxSide) + int64(h)/2) / int64(h))
	return max(nw, 1), maxSide
}

// orientedSize is w x h as shown under an EXIF orientation: 5 to 8 turn the
// picture a quarter turn, which swaps its sides.
func orientedSize(w, h, orientation int) (int, int) {
	if orientation >= 5 && orientation <= 8 {
		return h, w
	}
	return w, h
}

// scale resizes src to w x h into a new RGBA image.
//
// The resampling is Catmull-Rom, for sharp thumbnails without the aliasing
// (moiré on fabric, jagged edges) of ApproxBiLinear, which reads only 2x2
// source pixels per output pixel however large the reduction: the large
// thumbnail is shown full-screen, so its quality shows. But x/image/draw's
// kernel scaler costs work per source pixel and allocates a float buffer of
// output width x source height x 32 bytes: 280 MB for a 1280-wide
// thumbnail of a 7000x7000 photo. So the bulk of a large reduction is first
// done by an exact integer box average (one cheap pass over the source),
// down to the smallest size still at least w x h; Catmull-Rom then does the
// last reduction of less than 2x, with a buffer under 64 bytes per output
// pixel (about 40 MB for 1280x853). Measured on a 24 MP photo (see
// BenchmarkThumbnails24MP), ApproxBiLinear instead would save that buffer but
// not time, which goes to the box pass and the JPEG encoder.
func scale(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	if k := min(b.Dx()/w, b.Dy()/h); k >= 2 {
		src = boxShrink(src, k)
		b = src.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if b.Dx() == w && b.Dy() == h {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}

// boxShrink averages each k x k block of src into one pixel of an RGBA
// image of ceil(w/k) x ceil(h/k); blocks cut by the right or bottom edge
// average the pixels they have.
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	dw, dh := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	if ycc, ok := src.(*image.YCbCr); ok {
		boxShrinkYCbCr(dst, ycc, k)
		return dst
	}
	// RGBA64At is implemented by every image type the standard decoders
	// return; it yields premultiplied colour without allocating, and
	// averaging premultiplied values keeps transparent pixels from
	// darkening their neighbours.
	at := func(x, y int) (r, g, b, a uint32) {
		c := src.At(x, y)
		return c.RGBA()
	}
	if s, ok := src.(image.RGBA64Image); ok {
		at = func(x, y int) (uint32, uint32, uint32, uint32) {
			c := s.RGBA64At(x, y)
			return uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
		}
	}
	for dy := range dh {
		y0, y1 := b.Min.Y+dy*k, min(b.Min.Y+(dy+1)*k, b.Max.Y)
		for dx := range dw {
			x0, x1 := b.Min.X+dx*k, min(b.Min.X+(dx+1)*k, b.Max.X)
			var sr, sg, sb, sa, n uint64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					r, g, bl, a := at(x, y)
					sr, sg, sb, sa = sr+uint64(r), sg+uint64(g), sb+uint64(bl), sa+uint64(a)
					n++
				}
			}
			i := dst.PixOffset(dx, dy)
			// 16-bit sums back to 8 bits, rounded.
			d := n * 257
			dst.Pix[i+0] = uint8((sr + d/2) / d)
			dst.Pix[i+1] = uint8((sg + d/2) / d)
			dst.Pix[i+2] = uint8((sb + d/2) / d)
			dst.Pix[i+3] = uint8((sa + d/2) / d)
		}
	}
	return dst
}

// boxShrinkYCbCr is boxShrink for JPEG's native layout, the common case for
// large photos: YCbCr to RGB is linear (up to clamping), so averaging Y, Cb
// and Cr and converting once per output pixel gives the same colour as
// converting every source pixel, for a fraction of the work.
func boxShrinkYCbCr(dst *image.RGBA, src *image.YCbCr, k int) {
	b := src.Rect
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	for dy := range dh {
		y0, y1 := b.Min.Y+dy*k, min(b.Min.Y+(dy+1)*k, b.Max.Y)
		for dx := range dw {
			x0, x1 := b.Min.X+dx*k, min(b.Min.X+(dx+1)*k, b.Max.X)
			var sy, scb, scr, n uint32
			for y := y0; y < y1; y++ {
				yi := src.YOffset(x0, y)
				for x := x0; x < x1; x++ {
					ci := src.COffset(x, y)
					sy += uint32(src.Y[yi])
					scb += uint32(src.Cb[ci])
					scr += uint32(src.Cr[ci])
					yi++
					n++
				}
			}
			r, g, bl := color.YCbCrToRGB(uint8((sy+n/2)/n), uint8((scb+n/2)/n), uint8((scr+n/2)/n))
			i := dst.PixOffset(dx, dy)
			dst.Pix[i+0], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = r, g, bl, 0xff
		}
	}
}

// orient returns src turned upright according to an EXIF orientation. dst
// (x, y) takes its pixel from the stored image at the position each case
// names, for a stored image of w x h.
func orient(src *image.RGBA, orientation int) *image.RGBA {
	if orientation <= 1 || orientation > 8 {
		return src
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	ow, oh := orientedSize(w, h, orientation)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	var from func(x, y int) (int, int)
	switch orientation {
	case 2: // mirrored left to right
		from = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3: // upside down
		from = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4: // mirrored top to bottom
		from = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5: // transposed: mirrored, then a quarter turn anticlockwise
		from = func(x, y int) (int, int) { return y, x }
	case 6: // stored a quarter turn anticlockwise: turn it clockwise
		from = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7: // transversed: mirrored, then a quarter turn clockwise
		from = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8: // stored a quarter turn clockwise: turn it anticlockwise
		from = func(x, y int) (int, int) { return w - 1 - y, x }
	}
	for y := range oh {
		for x := range ow {
			sx, sy := from(x, y)
			si, di := src.PixOffset(sx, sy), dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

// flattenOnWhite lays premultiplied img over opaque white in place. JPEG has
// no alpha, and the encoder would otherwise show transparent areas black.
func flattenOnWhite(img *image.RGBA) {
	p := img.Pix
	for i := 0; i+3 < len(p); i += 4 {
		if a := p[i+3]; a != 0xff {
			// Premultiplied: out = c + (1 - alpha) * white. The scaler
			// keeps c <= alpha, so the sum cannot pass 0xff.
			t := 0xff - a
			p[i+0] += t
			p[i+1] += t
			p[i+2] += t
			p[i+3] = 0xff
		}
	}
}

// webpAnimated reports whether a WebP file is an extended one (VP8X) with
// its animation flag set; the flags byte follows the RIFF header and the
// chunk header.
func webpAnimated(r io.ReaderAt) bool {
	var b [21]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return false
	}
	const animationBit = 1 << 1
	return string(b[0:4]) == "RIFF" && string(b[8:16]) == "WEBPVP8X" && b[20]&animationBit != 0
}

package mediacheck

import "fmt"

// Options change what [Structure] allows.
type Options struct {
	// KeepLocation allows what a deployment that keeps positions stores:
	// the EXIF GPS directory (tags 0x00-0x1F) and a movie's QuickTime
	// location (moov/udta/©xyz holding only an ISO 6709 point).
	KeepLocation bool
}

// Structure walks a stored file with an allowlist of the structures a
// rebuilt file may hold, and returns every violation it finds, as sentences
// that say where (empty means the file holds only allowed structures).
//
// It is written from the format specifications, separately from the
// rebuild, and judges the result, not the process: whatever the rebuild
// kept, dropped or fixed, the file must be made only of what a reader needs
// to show the picture or play the film, plus orientation, colour profile
// and capture time. See structure_*.go for each format's list.
//
// contentType is the stored file's media type (image/jpeg, image/png,
// image/gif, image/webp, image/heic, image/heif and their -sequence forms,
// video/mp4, video/quicktime, video/3gpp, video/webm); any other type is a
// violation. opt is at most one Options; the default allows no GPS.
//
// Structure never panics and its work is bounded by the file's size (loops
// advance, nesting is fixed by the allowlist), so it can judge a fuzzer's
// output.
func Structure(data []byte, contentType string, opt ...Options) []string {
	c := &checker{}
	if len(opt) > 0 {
		c.opt = opt[0]
	}
	switch contentType {
	case "image/jpeg":
		c.jpeg(data)
	case "image/png":
		c.png(data)
	case "image/gif":
		c.gif(data)
	case "image/webp":
		c.webp(data)
	case "image/heic", "image/heif":
		c.bmff(data, bmffImage)
	case "image/heic-sequence", "image/heif-sequence":
		c.bmff(data, bmffImageSequence)
	case "video/mp4", "video/quicktime", "video/3gpp":
		c.bmff(data, bmffVideo)
	case "video/webm":
		c.webm(data)
	default:
		c.addf("no structure allowlist for %q", contentType)
	}
	return c.violations
}

// maxViolations caps the report: past it, more of the same tells nothing.
const maxViolations = 200

// maxSteps bounds the structures one file may have before the walk stops,
// however small they are.
const maxSteps = 1 << 20

// checker collects violations during one walk.
type checker struct {
	opt        Options
	violations []string
	steps      int
	truncated  bool
}

// addf records a violation.
func (c *checker) addf(format string, args ...any) {
	if len(c.violations) >= maxViolations {
		if !c.truncated {
			c.truncated = true
			c.violations = append(c.violations, "more violations not shown")
		}
		return
	}
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
}

// step counts one structure walked; false means stop: the budget is spent.
func (c *checker) step() bool {
	c.steps++
	if c.steps == maxSteps {
		c.addf("more than %d structures: walk stopped", maxSteps)
	}
	return c.steps < maxSteps
}

// be16, be32 and be64 read big-endian integers; callers check bounds.
func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 { return uint32(be16(b))<<16 | uint32(be16(b[2:])) }
func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

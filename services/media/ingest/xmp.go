package ingest

import (
	"bytes"
	"strings"
)

// XMP is RDF/XML. A property may be written as an attribute of an
// rdf:Description (exif:GPSLatitude="48,51.5N") or as an element, possibly
// holding a structure (Iptc4xmpExt:LocationShown with rdf:Bag and fields).
// Overwriting either with spaces keeps the packet well-formed XML at the same
// length, since XML treats runs of spaces between attributes and between
// elements as insignificant.
//
// This is a tolerant scanner, not a validating parser: XMP in the wild is
// often slightly broken, and a reader that is equally tolerant must not find
// location the scanner missed. When a location element has no matching end
// tag, everything from it to the end of the packet is blanked.

// isLocationName reports whether an XMP property (qualified name, any
// prefix) carries location: every GPS* field of the exif and exifEX schemas
// (and vendor variants such as drone-dji:GpsLatitude), plus the place-name
// fields of the Photoshop and IPTC schemas, since a city or school name
// locates a child as well as coordinates do.
func isLocationName(qname []byte) bool {
	local := qname
	if i := bytes.LastIndexByte(qname, ':'); i >= 0 {
		local = qname[i+1:]
	}
	l := strings.ToLower(string(local))
	if strings.HasPrefix(l, "gps") {
		return true
	}
	switch l {
	case "city", "state", "country", "countrycode", "countryname", "provincestate",
		"location", "sublocation", "locationcreated", "locationshown", "worldregion",
		"latitude", "longitude", "altitude":
		return true
	}
	return false
}

// cleanXMP blanks location properties in b in place. Blanking can join
// what broken markup had kept apart (a tag cut short by another tag absorbs
// the attributes after the blanked one), so the pass is repeated until
// nothing changes, and a packet that keeps changing is blanked whole.
func cleanXMP(b []byte) {
	for range 4 {
		before := bytes.Clone(b)
		cleanXMPOnce(b)
		if bytes.Equal(before, b) {
			return
		}
	}
	fillSpaces(b)
}

func cleanXMPOnce(b []byte) {
	i := 0
	for i < len(b) {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			return
		}
		i += lt
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(b, i+4, "-->")
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(b, i+9, "]]>")
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(b, i+2, "?>")
			continue
		case bytes.HasPrefix(rest, []byte("<!")), bytes.HasPrefix(rest, []byte("</")):
			i = skipPast(b, i+2, ">")
			continue
		}
		i = cleanTag(b, i)
	}
}

// skipPast returns the index just after the next occurrence of end at or
// after i, or len(b).
func skipPast(b []byte, i int, end string) int {
	if i > len(b) {
		return len(b)
	}
	k := bytes.Index(b[i:], []byte(end))
	if k < 0 {
		return len(b)
	}
	return i + k + len(end)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// nameEnd returns the end of an XML name starting at i.
func nameEnd(b []byte, i int) int {
	for i < len(b) && !isSpace(b[i]) && b[i] != '>' && b[i] != '/' && b[i] != '=' && b[i] != '<' {
		i++
	}
	return i
}

// cleanTag handles the start tag at b[i] == '<': it blanks location
// attributes, or the whole element when its name is a location property, and
// returns where scanning resumes.
func cleanTag(b []byte, i int) int {
	start := i
	ne := nameEnd(b, i+1)
	name := b[i+1 : ne]
	if len(name) == 0 {
		return i + 1
	}
	// Walk the attributes to the end of the start tag, minding quotes so
	// that a '>' inside a value does not end the tag.
	p := ne
	selfClosing := false
	tagEnd := -1
	for p < len(b) && tagEnd < 0 {
		switch c := b[p]; {
		case isSpace(c):
			p++
		case c == '>':
			tagEnd = p + 1
		case c == '/' && p+1 < len(b) && b[p+1] == '>':
			selfClosing = true
			tagEnd = p + 2
		case c == '<':
			// A new tag before this one closed: broken markup. Treat the
			// tag as ended so the scan resumes at the '<'.
			tagEnd = p
		default:
			aStart := p
			aEnd := nameEnd(b, p)
			if aEnd == p {
				p++ // stray character such as '/' or '='
				continue
			}
			q := aEnd
			for q < len(b) && isSpace(b[q]) {
				q++
			}
			if q < len(b) && b[q] == '=' {
				q++
				for q < len(b) && isSpace(b[q]) {
					q++
				}
				if q < len(b) && (b[q] == '"' || b[q] == '\'') {
					if k := bytes.IndexByte(b[q+1:], b[q]); k >= 0 {
						q += k + 2
					} else {
						q = len(b) // unterminated value runs to the end
					}
				} else {
					q = nameEnd(b, q) // unquoted value, tolerated
				}
			}
			if isLocationName(b[aStart:aEnd]) {
				fillSpaces(b[aStart:q])
			}
			p = q
		}
	}
	if tagEnd < 0 {
		tagEnd = len(b)
	}
	if !isLocationName(name) {
		return tagEnd
	}
	if selfClosing {
		fillSpaces(b[start:tagEnd])
		return tagEnd
	}
	end := matchingEnd(b, tagEnd, name)
	fillSpaces(b[start:end])
	return end
}

// matchingEnd finds the end of the element named name whose start tag ends
// at i, counting nested elements of the same name; len(b) if there is none.
func matchingEnd(b []byte, i int, name []byte) int {
	depth := 1
	open := append([]byte{'<'}, name...)
	closing := append([]byte("</"), name...)
	for i < len(b) {
		k := bytes.IndexByte(b[i:], '<')
		if k < 0 {
			return len(b)
		}
		i += k
		switch {
		case hasNameAt(b, i, closing):
			depth--
			e := skipPast(b, i, ">")
			if depth == 0 {
				return e
			}
			i = e
		case hasNameAt(b, i, open):
			e := skipPast(b, i, ">")
			if b[e-2] != '/' {
				depth++
			}
			i = e
		default:
			i++
		}
	}
	return len(b)
}

// hasNameAt reports whether b[i:] starts with prefix followed by the end of a
// name, so that "<exif:GPSLatitude" does not match "<exif:GPSLatitudeRef".
func hasNameAt(b []byte, i int, prefix []byte) bool {
	if !bytes.HasPrefix(b[i:], prefix) {
		return false
	}
	j := i + len(prefix)
	return j == len(b) || nameEnd(b, j) == j
}

func fillSpaces(b []byte) {
	for i := range b {
		b[i] = ' '
	}
}

// Package ingest checks and changes the bytes of an upload before the media
// service stores them.
//
// Two jobs live here, both driven only by the content, never by the client's
// content type or file name:
//
//   - [Sniff] decides from the first bytes what a file really is and refuses
//     everything outside a short allow-list (photos and videos). A browser
//     given an SVG or HTML file "named .jpg" would run its scripts; an
//     executable has no business in a family album.
//   - [StripLocation] removes where a picture or video was taken (EXIF GPS,
//     XMP location properties, QuickTime/MP4 location atoms) before anything
//     is stored. Photos of children are shared with relatives far away; the
//     location of a school or home must not travel with them by default.
//
// StripLocation edits the temporary upload file in place and never changes its
// size or the offset of any byte that matters: uploads may be several GB, and
// containers such as MP4 and HEIC address their media by absolute file offset,
// so moving bytes would mean rewriting tables we do not need to understand.
// Instead location data is neutralised where it sits: GPS IFDs are unlinked
// and zeroed, location atoms are renamed to 'free' and zeroed, XMP location
// properties are overwritten with spaces.
//
// Everything here parses hostile input. Parsers are bounded (sizes are checked
// before every read or write, loops have fixed limits, nothing recurses on
// offsets found in the file), and a container that cannot be parsed safely is
// reported with [ErrMalformed] so that the caller refuses the upload rather
// than store location it could not rule out.
package ingest

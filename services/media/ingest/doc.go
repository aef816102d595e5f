// Package ingest checks and rebuilds the bytes of an upload before the media
// service stores them.
//
// Two jobs live here, both driven only by the content, never by the client's
// content type or file name:
//
//   - [Sniff] decides from the first bytes what a file really is and refuses
//     everything outside a short allowlist of photo and video formats. A
//     browser given an SVG or HTML file "named .jpg" would run its scripts;
//     an executable has no business in a family album.
//   - [Rebuild] writes the file to store from an allowlist: what a reader
//     needs to show the picture or play the film, plus what is kept on
//     purpose (orientation, colour profile, capture time), and nothing
//     else. Photos of children are shared with relatives far away; where a
//     school or a home is must not travel with them, in any shape a writer
//     may have used, known or not.
//
// The media payload is never decoded or re-encoded: a rebuild is a plan of
// new metadata bytes around ranges of the upload (rebuild.go), with offsets
// fixed where a container addresses its payload by position (MP4 chunk
// offsets, HEIF item locations, WebM cue positions). One file per format
// says what it keeps: rebuild_jpeg.go, rebuild_png.go, rebuild_gif.go,
// rebuild_webp.go, rebuild_heif.go, rebuild_movie.go (MP4, 3GP, QuickTime)
// and rebuild_webm.go; exifkeep.go and icc.go rebuild the EXIF blocks and
// colour profiles they keep.
//
// Everything here parses hostile input. Walks are bounded (sizes are checked
// before every read, loops and nesting have fixed limits, memory read per
// file has a budget: limits.go), and a file whose structure cannot be walked
// completely is reported with [ErrMalformed], so that the caller refuses
// the upload rather than store what it could not vouch for. The tests judge
// rebuilds with checkers that share no code with them (pkg/mediacheck) on
// an adversarial corpus (pkg/mediacheck/corpus).
package ingest

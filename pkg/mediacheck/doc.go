// Package mediacheck holds the independent checks, for tests, that judge
// what the media ingest stores: that a file carries no location, that it is
// built only from allowed structures, and that it still shows the same
// picture or plays the same film.
//
// It shares no code with services/media/ingest, on purpose: an oracle that
// used the rebuild's parser would share its bugs. Its walkers are written
// from the format specifications, as allowlists, and where it can it asks
// outside tools (exiftool, ffprobe, ffmpeg, heif-convert).
//
//   - location.go: a blunt byte search for the traces the ingest fixtures
//     were made with (services/media/ingest/testdata/make.sh);
//   - exiftool.go, ffprobe.go: what exiftool and ffprobe find;
//   - structure*.go: [Structure], the allowlist structure walkers;
//   - picture.go: [SamePicture], pixel and frame comparison.
//
// Without their tool, Positions, Exiftool and FFprobe return ok=false and
// callers decide: skip, or fail when KINBRIDGE_TEST_REQUIRE names the tool
// (testenv.Tool does both). SamePicture, which needs heif-convert or ffmpeg
// for some types, skips or fails the test itself through testenv.Tool.
package mediacheck

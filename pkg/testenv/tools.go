package testenv

import (
	"fmt"
	"os/exec"
	"testing"
)

// toolPackages names, for each outside program tests run, the name
// KINBRIDGE_TEST_REQUIRE lists it under (the package that brings it, so
// "ffmpeg" covers ffprobe) and how to install it on Debian.
var toolPackages = map[string]struct{ require, install string }{
	"exiftool":     {"exiftool", "apt-get install libimage-exiftool-perl"},
	"ffmpeg":       {"ffmpeg", "apt-get install ffmpeg"},
	"ffprobe":      {"ffmpeg", "apt-get install ffmpeg"},
	"heif-convert": {"heif-convert", "apt-get install libheif-examples"},
	"heif-enc":     {"heif-convert", "apt-get install libheif-examples"},
	"pg_dump":      {"postgresql-client", "apt-get install postgresql-client"},
	"pg_restore":   {"postgresql-client", "apt-get install postgresql-client"},
	"promtool":     {"promtool", "apt-get install prometheus"},
}

// ToolRequirement returns the name KINBRIDGE_TEST_REQUIRE lists the program
// under: "exiftool", "ffmpeg" (for ffmpeg and ffprobe) or "heif-convert"
// (for heif-convert and heif-enc); any other program under its own name.
func ToolRequirement(program string) string {
	if p, ok := toolPackages[program]; ok {
		return p.require
	}
	return program
}

// Tool returns the path of an outside program tests run (exiftool, ffmpeg,
// ffprobe, heif-convert, heif-enc) found on PATH.
//
// If it is not installed the test is skipped, or fails when
// KINBRIDGE_TEST_REQUIRE names it (see [ToolRequirement]); see [SkipOrFail].
func Tool(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		howTo := "install it"
		if p, ok := toolPackages[program]; ok {
			howTo = p.install
		}
		SkipOrFail(t, ToolRequirement(program), fmt.Sprintf("%s is not on PATH (%s)", program, howTo))
		return ""
	}
	return path
}

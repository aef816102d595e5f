package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// head returns the first SniffLen bytes of a fixture, as the upload path
// would pass them.
func head(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b[:min(len(b), SniffLen)]
}

func TestSniffFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Type
	}{
		{"gps.jpg", Type{"image/jpeg", Image, ".jpg"}},
		{"plain.jpg", Type{"image/jpeg", Image, ".jpg"}},
		{"gps.png", Type{"image/png", Image, ".png"}},
		{"gps-im.png", Type{"image/png", Image, ".png"}},
		{"plain.gif", Type{"image/gif", Image, ".gif"}},
		{"gps.webp", Type{"image/webp", Image, ".webp"}},
		{"gps.heic", Type{"image/heic", Image, ".heic"}},
		{"gps.mp4", Type{"video/mp4", Video, ".mp4"}},
		{"gps.mov", Type{"video/quicktime", Video, ".mov"}},
		{"gps-keys.mov", Type{"video/quicktime", Video, ".mov"}},
		{"plain.webm", Type{"video/webm", Video, ".webm"}},
		{"gps.webm", Type{"video/webm", Video, ".webm"}},
		{"gps.gif", Type{"image/gif", Image, ".gif"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Sniff(head(t, tt.file))
			if err != nil || got != tt.want {
				t.Fatalf("Sniff = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// ftyp builds an ftyp box with the given major and compatible brands.
func ftyp(major string, compat ...string) []byte {
	body := major + "\x00\x00\x00\x00" + strings.Join(compat, "")
	n := 8 + len(body)
	return append([]byte{0, 0, 0, byte(n)}, []byte("ftyp"+body)...)
}

func TestSniffCrafted(t *testing.T) {
	allowed := []struct {
		name string
		in   []byte
		want string
	}{
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, "image/jpeg"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), "image/png"},
		{"gif87a", []byte("GIF87a\x10\x00"), "image/gif"},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"heic mif1 major, heic compat", ftyp("mif1", "mif1", "heic"), "image/heic"},
		{"heix", ftyp("heix", "mif1"), "image/heic"},
		{"heif generic", ftyp("mif1", "mif1", "miaf"), "image/heif"},
		{"mp4 isom", ftyp("isom", "isom", "iso2", "avc1", "mp41"), "video/mp4"},
		{"mp4 mp42", ftyp("mp42", "isom"), "video/mp4"},
		{"m4v", ftyp("M4V ", "M4V ", "M4A ", "mp42"), "video/mp4"},
		{"dash", ftyp("dash", "iso6"), "video/mp4"},
		{"unknown major, mp4 compat", ftyp("abcd", "isom"), "video/mp4"},
		{"3gp", ftyp("3gp4", "isom"), "video/3gpp"},
		{"quicktime", ftyp("qt  ", "qt  "), "video/quicktime"},
		{"legacy moov", []byte("\x00\x00\x00\x6cmoov\x00\x00\x00\x64mvhd"), "video/quicktime"},
		{"legacy wide", []byte("\x00\x00\x00\x08wide\x00\x00\x10\x00mdat"), "video/quicktime"},
		{"legacy mdat to end", []byte("\x00\x00\x00\x00mdat"), "video/quicktime"},
		{"webm", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x02\x42\x85\x81\x02"), "video/webm"},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.in)
			if err != nil || got.ContentType != tt.want {
				t.Fatalf("Sniff = %+v, %v; want %s", got, err, tt.want)
			}
		})
	}

	refused := []struct {
		name  string
		in    []byte
		looks string // substring of the reason
	}{
		{"empty", nil, "empty"},
		{"html named jpg", []byte("<!DOCTYPE html><html><body><img src=x onerror=alert(1)>"), "HTML"},
		{"html padded", []byte(" \r\n\t<!doctype HTML>\n<html>"), "HTML"},
		{"html bom", []byte("\xef\xbb\xbf<html><script>"), "HTML"},
		{"html script", []byte("<script>alert(1)</script>"), "HTML"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "SVG"},
		{"svg padded", []byte("\n\n   <svg>"), "SVG"},
		{"svg xml prolog", []byte("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg xmlns=\"http://www.w3.org/2000/svg\">"), "SVG"},
		{"xml", []byte("<?xml version=\"1.0\"?><root/>"), "XML"},
		{"elf", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), "ELF"},
		{"pe", []byte("MZ\x90\x00\x03\x00\x00\x00"), "PE"},
		{"macho64", []byte{0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1}, "Mach-O"},
		{"macho universal", []byte{0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 2}, "Mach-O"},
		{"shebang", []byte("#!/bin/sh\nrm -rf /\n"), "script"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "ZIP"},
		{"empty zip", []byte("PK\x05\x06\x00\x00"), "ZIP"},
		{"gzip", []byte{0x1F, 0x8B, 8, 0}, "gzip"},
		{"text", []byte("hello, this is a jpg, honest"), "unknown text"},
		{"binary", []byte{0x00, 0x01, 0x02, 0x03, 0xFF}, "unknown binary"},
		{"jpeg prefix too short", []byte{0xFF, 0xD8}, "unknown"},
		{"jpeg after whitespace", []byte("  \xff\xd8\xff\xe0"), "unknown"},
		{"png after junk", []byte("x\x89PNG\r\n\x1a\n"), "unknown"},
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "RIFF"},
		{"riff short", []byte("RIFF\x24\x00"), "unknown"},
		{"avif", ftyp("avif", "mif1", "miaf"), "AVIF"},
		{"avif behind mif1", ftyp("mif1", "avif", "miaf"), "AVIF"},
		{"m4a", ftyp("M4A ", "M4A ", "mp42", "isom"), "audio"},
		{"unknown brand", ftyp("zzzz", "yyyy"), "unknown brand"},
		{"ftyp too small", []byte("\x00\x00\x00\x04ftypisom"), "malformed"},
		{"ftyp truncated", []byte("\x00\x00\x00\x18ftyp"), "truncated"},
		{"legacy free with bad size", []byte("\x00\x00\x00\x03freeeeee"), "unknown"},
		{"mkv", []byte("\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"), "matroska"},
		{"ebml truncated", []byte("\x1a\x45\xdf\xa3"), "truncated"},
		{"pdf lowercase", []byte("%pdf-1.4"), "unknown text"},
		{"pdf", []byte("%PDF-1.7\n"), "PDF"},
		{"heif sequence", ftyp("msf1", "msf1"), "image sequence"},
		{"heic sequence", ftyp("hevc", "msf1"), "image sequence"},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00"), "TIFF"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.in)
			if !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("Sniff = %+v, %v; want ErrNotAllowed", got, err)
			}
			var na *NotAllowedError
			if !errors.As(err, &na) || !strings.Contains(na.Looks, tt.looks) {
				t.Fatalf("reason %q does not mention %q", err, tt.looks)
			}
			if got != (Type{}) {
				t.Fatalf("refused content came with a type: %+v", got)
			}
		})
	}
}

// Every prefix of every fixture either sniffs as the full file does or is
// refused: a short read never yields a different allowed type.
func TestSniffShortInputs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, f := range files {
		if strings.HasSuffix(f, ".sh") {
			continue
		}
		full := head(t, filepath.Base(f))
		want, err := Sniff(full)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for n := range len(full) {
			got, err := Sniff(full[:n])
			if err == nil && got != want {
				t.Errorf("%s[:%d] sniffed as %+v, full file as %+v", f, n, got, want)
			}
		}
	}
}

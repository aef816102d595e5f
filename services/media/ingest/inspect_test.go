package ingest

import (
	"bytes"
	"os"
	"testing"
	"time"
)

func TestInspectTakenTime(t *testing.T) {
	want := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		file string
		want time.Time
	}{
		{"taken.jpg", want},  // DateTimeOriginal 09:30 with OffsetTimeOriginal +02:00
		{"taken.heic", want}, // DateTimeOriginal without an offset: read as UTC
		{"taken.mp4", want},  // mvhd creation time
		{"taken.webm", want}, // Segment/Info/DateUTC
		{"plain.jpg", time.Time{}},
		{"plain.webm", time.Time{}},
		{"gps.mp4", time.Time{}}, // written with -fflags +bitexact: creation time 0
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			ty, err := Sniff(b)
			if err != nil {
				t.Fatal(err)
			}
			got := Inspect(bytes.NewReader(b), int64(len(b)), ty)
			if !got.TakenTime.Equal(tt.want) {
				t.Errorf("TakenTime = %v, want %v", got.TakenTime, tt.want)
			}
			if got.Orientation < 1 || got.Orientation > 8 {
				t.Errorf("Orientation = %d", got.Orientation)
			}
			// The rebuild keeps the taken time: it says when, not where.
			if tt.want.IsZero() {
				return
			}
			out, _ := rebuilt(t, b, Options{})
			if after := Inspect(bytes.NewReader(out), int64(len(out)), ty); !after.TakenTime.Equal(tt.want) {
				t.Errorf("after the rebuild, TakenTime = %v", after.TakenTime)
			}
		})
	}
}

func TestExifTime(t *testing.T) {
	for _, tt := range []struct {
		v, offset string
		want      string // RFC 3339, empty when refused
	}{
		{"2026:05:14 09:30:00", "+02:00", "2026-05-14T07:30:00Z"},
		{"2026:05:14 09:30:00", "-05:30", "2026-05-14T15:00:00Z"},
		{"2026:05:14 09:30:00", "", "2026-05-14T09:30:00Z"},
		{"2026:05:14 09:30:00", "garbage", "2026-05-14T09:30:00Z"},
		{"0000:00:00 00:00:00", "", ""},
		{"    :  :     :  :  ", "", ""},
		{"1850:01:01 00:00:00", "", ""},
		{"2026:05:14", "", ""},
	} {
		got, ok := exifTime(tt.v, tt.offset)
		if tt.want == "" {
			if ok {
				t.Errorf("exifTime(%q, %q) = %v, want refused", tt.v, tt.offset, got)
			}
			continue
		}
		if !ok || got.UTC().Format(time.RFC3339) != tt.want {
			t.Errorf("exifTime(%q, %q) = %v, %v; want %s", tt.v, tt.offset, got, ok, tt.want)
		}
	}
}

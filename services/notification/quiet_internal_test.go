package notification

import (
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/notification/store"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// The quiet hours follow the user's wall clock: across midnight, and on
// the days the clocks change.
func TestQuietHoursOnTheLocalClock(t *testing.T) {
	lisbon, newYork := mustZone(t, "Europe/Lisbon"), mustZone(t, "America/New_York")
	night := store.Settings{TimeZone: "Europe/Lisbon", QuietStart: 22 * 60, QuietEnd: 7 * 60}
	early := store.Settings{TimeZone: "America/New_York", QuietStart: 90, QuietEnd: 150} // 01:30-02:30
	tests := []struct {
		name      string
		settings  store.Settings
		at        time.Time
		quiet     bool
		nextLocal time.Time // zero: none
	}{
		{"before the start", night, time.Date(2026, 12, 3, 21, 59, 59, 0, lisbon), false, time.Date(2026, 12, 3, 22, 0, 0, 0, lisbon)},
		{"at the start", night, time.Date(2026, 12, 3, 22, 0, 0, 0, lisbon), true, time.Date(2026, 12, 4, 7, 0, 0, 0, lisbon)},
		{"after midnight", night, time.Date(2026, 12, 4, 3, 0, 0, 0, lisbon), true, time.Date(2026, 12, 4, 7, 0, 0, 0, lisbon)},
		{"a second before the end", night, time.Date(2026, 12, 4, 6, 59, 59, 0, lisbon), true, time.Date(2026, 12, 4, 7, 0, 0, 0, lisbon)},
		{"at the end", night, time.Date(2026, 12, 4, 7, 0, 0, 0, lisbon), false, time.Date(2026, 12, 4, 22, 0, 0, 0, lisbon)},
		// Lisbon falls back at 02:00 on 25 October 2026: that night lasts
		// ten hours of real time, and ends at 07:00 on the wall clock.
		{"the night the clocks fall back", night, time.Date(2026, 10, 24, 23, 0, 0, 0, lisbon), true, time.Date(2026, 10, 25, 7, 0, 0, 0, lisbon)},
		// New York springs forward at 02:00 on 8 March 2026: 02:30 never
		// happens, so the quiet hours end when the clocks jump.
		{"an end the clocks skip", early, time.Date(2026, 3, 8, 1, 45, 0, 0, newYork), true, time.Date(2026, 3, 8, 3, 0, 0, 0, newYork)},
		{"the day after", early, time.Date(2026, 3, 9, 2, 0, 0, 0, newYork), true, time.Date(2026, 3, 9, 2, 30, 0, 0, newYork)},
		{"the same instant in UTC is not quiet", store.Settings{TimeZone: "UTC", QuietStart: 22 * 60, QuietEnd: 7 * 60},
			time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC), false, time.Date(2026, 7, 1, 22, 0, 0, 0, time.UTC)},
		{"a daytime span", store.Settings{TimeZone: "Asia/Tokyo", QuietStart: 9 * 60, QuietEnd: 17 * 60},
			time.Date(2026, 7, 1, 12, 0, 0, 0, mustZone(t, "Asia/Tokyo")), true, time.Date(2026, 7, 1, 17, 0, 0, 0, mustZone(t, "Asia/Tokyo"))},
		{"none", store.DefaultSettings("maria"), time.Date(2026, 7, 1, 3, 0, 0, 0, time.UTC), false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quiet, next := quietHoursOf(tt.settings).at(tt.at)
			if quiet != tt.quiet || !next.Equal(tt.nextLocal) {
				t.Errorf("at %s: quiet %v until %s; want %v until %s", tt.at, quiet, next, tt.quiet, tt.nextLocal)
			}
			if !next.IsZero() && !next.After(tt.at) {
				t.Errorf("the next change %s is not after %s", next, tt.at)
			}
		})
	}
	// The fall-back night is an hour longer than a usual one.
	_, end := quietHoursOf(night).at(time.Date(2026, 10, 24, 22, 0, 0, 0, lisbon))
	if d := end.Sub(time.Date(2026, 10, 24, 22, 0, 0, 0, lisbon)); d != 10*time.Hour {
		t.Errorf("the night the clocks fall back lasts %s, want 10h", d)
	}
}

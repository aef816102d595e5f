package notification

import (
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/notification/store"
)

// utc is an instant of the nights the clocks change, in UTC so that it is
// unambiguous.
func utc(y int, mo time.Month, d, h, m int) time.Time {
	return time.Date(y, mo, d, h, m, 0, 0, time.UTC)
}

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
	early := store.Settings{TimeZone: "America/New_York", QuietStart: 90, QuietEnd: 150}                  // 01:30-02:30
	nyNight := store.Settings{TimeZone: "America/New_York", QuietStart: 22 * 60, QuietEnd: 90}            // 22:00-01:30
	nyEarly := store.Settings{TimeZone: "America/New_York", QuietStart: 75, QuietEnd: 6 * 60}             // 01:15-06:00
	nyShort := store.Settings{TimeZone: "America/New_York", QuietStart: 75, QuietEnd: 105}                // 01:15-01:45
	berlinNight := store.Settings{TimeZone: "Europe/Berlin", QuietStart: 23 * 60, QuietEnd: 150}          // 23:00-02:30
	berlinEarly := store.Settings{TimeZone: "Europe/Berlin", QuietStart: 140, QuietEnd: 7 * 60}           // 02:20-07:00
	berlinSkipped := store.Settings{TimeZone: "Europe/Berlin", QuietStart: 130, QuietEnd: 160}            // 02:10-02:40
	lordHoweNight := store.Settings{TimeZone: "Australia/Lord_Howe", QuietStart: 22 * 60, QuietEnd: 105}  // 22:00-01:45
	lordHoweSpring := store.Settings{TimeZone: "Australia/Lord_Howe", QuietStart: 22 * 60, QuietEnd: 135} // 22:00-02:15
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

		// New York falls back at 02:00 EDT on 1 November 2026 to 01:00 EST:
		// 01:00-02:00 comes twice, at 05:00Z and at 06:00Z. On the wall
		// clock, so 22:00-01:30 is quiet on both passes of 01:00-01:30...
		{"New York, first pass, quiet", nyNight, utc(2026, 11, 1, 5, 10), true, utc(2026, 11, 1, 5, 30)},
		{"New York, first pass, after the end: the clocks go back into them", nyNight, utc(2026, 11, 1, 5, 40), false, utc(2026, 11, 1, 6, 0)},
		{"New York, second pass, quiet until the second 01:30", nyNight, utc(2026, 11, 1, 6, 10), true, utc(2026, 11, 1, 6, 30)},
		{"New York, second pass, after the end", nyNight, utc(2026, 11, 1, 6, 40), false, utc(2026, 11, 2, 3, 0)}, // 22:00 EST
		// ...and 01:15-06:00, begun on the first pass, goes on through the
		// second: the clocks going back do not end it.
		{"New York, first pass, before a start in the repeated hour", nyEarly, utc(2026, 11, 1, 5, 5), false, utc(2026, 11, 1, 5, 15)},
		{"New York, first pass, after a start in the repeated hour", nyEarly, utc(2026, 11, 1, 5, 20), true, utc(2026, 11, 1, 11, 0)},
		{"New York, second pass, before that start: still quiet", nyEarly, utc(2026, 11, 1, 6, 5), true, utc(2026, 11, 1, 11, 0)},
		{"New York, second pass, after that start", nyEarly, utc(2026, 11, 1, 6, 20), true, utc(2026, 11, 1, 11, 0)},
		// A span inside the repeated hour, over by the first pass, comes again.
		{"New York, a span the clocks repeat, between the passes", nyShort, utc(2026, 11, 1, 5, 50), false, utc(2026, 11, 1, 6, 15)},
		{"New York, a span the clocks repeat, second pass", nyShort, utc(2026, 11, 1, 6, 30), true, utc(2026, 11, 1, 6, 45)},

		// Berlin falls back at 03:00 CEST on 25 October 2026 to 02:00 CET:
		// 02:00-03:00 at 00:00Z and at 01:00Z.
		{"Berlin, first pass, after the end: the clocks go back into them", berlinNight, utc(2026, 10, 25, 0, 40), false, utc(2026, 10, 25, 1, 0)},
		{"Berlin, second pass, quiet until the second 02:30", berlinNight, utc(2026, 10, 25, 1, 10), true, utc(2026, 10, 25, 1, 30)},
		{"Berlin, second pass, before a start in the repeated hour: still quiet", berlinEarly, utc(2026, 10, 25, 1, 10), true, utc(2026, 10, 25, 6, 0)},
		// Berlin springs forward at 02:00 CET on 29 March 2026 (01:00Z) to
		// 03:00 CEST: a start or an end the clocks skip comes when they jump,
		// and a span they skip whole does not happen that night.
		{"Berlin, an end the clocks skip", berlinNight, utc(2026, 3, 29, 0, 50), true, utc(2026, 3, 29, 1, 0)},
		{"Berlin, a start the clocks skip", berlinEarly, utc(2026, 3, 29, 0, 50), false, utc(2026, 3, 29, 1, 0)},
		{"Berlin, at the jump into them", berlinEarly, utc(2026, 3, 29, 1, 0), true, utc(2026, 3, 29, 5, 0)},             // 07:00 CEST
		{"Berlin, a span the clocks skip whole", berlinSkipped, utc(2026, 3, 29, 0, 50), false, utc(2026, 3, 30, 0, 10)}, // 02:10 CEST

		// Lord Howe Island moves its clocks by half an hour: back at 02:00
		// (+11) on 5 April 2026 to 01:30 (+10:30), 01:30-02:00 at 14:30Z and
		// at 15:00Z; forward at 02:00 (+10:30) on 4 October 2026 to 02:30.
		{"Lord Howe, first pass, quiet", lordHoweNight, utc(2026, 4, 4, 14, 40), true, utc(2026, 4, 4, 14, 45)},
		{"Lord Howe, first pass, after the end: the clocks go back into them", lordHoweNight, utc(2026, 4, 4, 14, 50), false, utc(2026, 4, 4, 15, 0)},
		{"Lord Howe, second pass, quiet until the second 01:45", lordHoweNight, utc(2026, 4, 4, 15, 10), true, utc(2026, 4, 4, 15, 15)},
		{"Lord Howe, an end the clocks skip", lordHoweSpring, utc(2026, 10, 3, 15, 20), true, utc(2026, 10, 3, 15, 30)},
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

// Minute by minute across the nights the clocks change, at agrees with
// itself: from any instant, the answer holds until the next change it
// gave, changes there, and every instant in between gives the same next
// change. So a feed's timer never wakes it late, and a feed opened at any
// minute gets the same schedule as one open all along.
func TestQuietHoursScheduleAcrossClockChanges(t *testing.T) {
	nights := []struct {
		zone  string
		night time.Time // a few hours before the clocks change
	}{
		{"America/New_York", utc(2026, 3, 8, 0, 0)},
		{"America/New_York", utc(2026, 10, 31, 20, 0)},
		{"Europe/Berlin", utc(2026, 3, 28, 18, 0)},
		{"Europe/Berlin", utc(2026, 10, 24, 18, 0)},
		{"Australia/Lord_Howe", utc(2026, 4, 4, 6, 0)},
		{"Australia/Lord_Howe", utc(2026, 10, 3, 6, 0)},
	}
	spans := [][2]int{ // start, end: minutes of the day
		{22 * 60, 90}, {22 * 60, 105}, {22 * 60, 150}, {75, 6 * 60}, {75, 105},
		{100, 115}, {130, 160}, {140, 7 * 60}, {120, 180}, {60, 120}, {150, 60},
	}
	for _, n := range nights {
		for _, span := range spans {
			q := quietHoursOf(store.Settings{TimeZone: n.zone, QuietStart: span[0], QuietEnd: span[1]})
			var quiet bool
			var next time.Time
			for at := n.night; at.Before(n.night.Add(30 * time.Hour)); at = at.Add(time.Minute) {
				if !at.Before(next) {
					if !next.IsZero() && !at.Equal(next) {
						t.Fatalf("%s %v: the change at %s is not on a minute", n.zone, span, next)
					}
					was := quiet
					quiet, next = q.at(at)
					if !next.After(at) {
						t.Fatalf("%s %v at %s: the next change %s is not after it", n.zone, span, at, next)
					}
					if !at.Equal(n.night) && quiet == was {
						t.Errorf("%s %v at %s: woken but nothing changed (quiet %v)", n.zone, span, at.In(q.loc), quiet)
					}
					continue
				}
				if gotQuiet, gotNext := q.at(at); gotQuiet != quiet || !gotNext.Equal(next) {
					t.Errorf("%s %v at %s: quiet %v until %s; the schedule said %v until %s",
						n.zone, span, at.In(q.loc), gotQuiet, gotNext.In(q.loc), quiet, next.In(q.loc))
				}
			}
		}
	}
}

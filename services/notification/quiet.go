package notification

import (
	"context"
	"slices"
	"time"
	_ "time/tzdata" // users' time zones on machines without a zoneinfo database

	"google.golang.org/protobuf/proto"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// Quiet hours, the design: a live feed whose user is in their quiet hours
// holds. It sends nothing (neither the replay nor live notifications; its
// heartbeats go on), so its position, and every resume token it hands out,
// stays before the first notification it held. The inbox stores and counts
// them as always. When the quiet hours end, the feed catches up from the
// inbox, exactly as a resuming feed does: the held notifications arrive in
// order, and the position never skips. A feed learns its user's quiet
// hours when it opens, at every start and end of them (a timer on the
// service's Clock), and when the user changes their settings (a signal on
// the live bus, so feeds on every instance hear it).

// Clock tells the time and waits. The service runs on the system's; tests
// pass one they move by hand, so nothing in them waits for real time.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// quietHours are a user's quiet hours in their time zone.
type quietHours struct {
	loc        *time.Location
	start, end int // minutes after local midnight; start < 0: none
}

func quietHoursOf(st store.Settings) quietHours {
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		loc = time.UTC // never stored: UpdateUserSettings checks it
	}
	if !st.HasQuietHours() {
		return quietHours{loc: loc, start: -1, end: -1}
	}
	return quietHours{loc: loc, start: st.QuietStart, end: st.QuietEnd}
}

// at reports whether t is within the quiet hours and when that next
// changes; zero when it never does. They follow the user's wall clock
// (start included, end excluded), and on the nights the clocks change:
// a wall-clock time inside them is quiet on both passes of a repeated
// hour, and the clocks going back never end them early (see quietAt).
func (q quietHours) at(t time.Time) (quiet bool, next time.Time) {
	if q.start < 0 || q.start == q.end {
		return false, time.Time{}
	}
	local := t.In(q.loc)
	quiet = q.quietAt(local)
	boundary := q.start
	if quiet {
		boundary = q.end
	}
	next = nextWallClock(local, boundary)
	// A change of the clocks may jump into or out of them before the
	// clock reads the boundary.
	for c := local; ; {
		_, change := c.ZoneBounds()
		if change.IsZero() || !change.Before(next) {
			return quiet, next
		}
		if q.quietAt(change) != quiet {
			return quiet, change
		}
		c = change
	}
}

// quietAt reports whether the local time t is quiet. Besides a wall clock
// inside the quiet hours, that is the hour repeated after the clocks went
// back from inside them, until the clock reads their end: otherwise 01:15
// to 06:00 would send what it held at 01:00 on the second pass, waking the
// user.
func (q quietHours) quietAt(t time.Time) bool {
	if q.covers(minuteOfDay(t)) {
		return true
	}
	wentBack, _ := t.ZoneBounds()
	if wentBack.IsZero() {
		return false
	}
	before := wentBack.Add(-time.Nanosecond)
	_, offBefore := before.Zone()
	_, offAfter := wentBack.Zone()
	repeated := time.Duration(offBefore-offAfter) * time.Second
	if repeated <= 0 || t.Sub(wentBack) >= repeated || !q.covers(minuteOfDay(before)) {
		return false
	}
	// Quiet unless the clock read the end since it went back (minutes
	// counted from then, modulo a day for clocks going back over midnight).
	since := func(m int) int { return (m - minuteOfDay(wentBack) + 24*60) % (24 * 60) }
	return since(q.end) > since(minuteOfDay(t))
}

// covers reports whether minute m of the day is within the quiet hours.
func (q quietHours) covers(m int) bool {
	if q.start < q.end {
		return m >= q.start && m < q.end
	}
	return m >= q.start || m < q.end // wraps midnight
}

func minuteOfDay(t time.Time) int { return t.Hour()*60 + t.Minute() }

// nextWallClock is the first instant after t at which the local clock of
// t's location reads minute m of the day. Of a time the clocks repeat
// that counts either pass; a day whose clocks skip m has none (at covers
// the jump).
func nextWallClock(t time.Time, m int) time.Time {
	y, mo, d := t.Date()
	for i := -1; i <= 3; i++ { // -1: clocks that go back over midnight
		for _, c := range wallClockInstants(y, mo, d+i, m, t.Location()) {
			if c.After(t) {
				return c
			}
		}
	}
	return t.Add(24 * time.Hour) // unreachable: some day in three reads m
}

// wallClockInstants are the instants, earliest first, at which the clock
// of loc reads minute m of the given day: none when the clocks skip it,
// two when they repeat it.
func wallClockInstants(y int, mo time.Month, d, m int, loc *time.Location) []time.Time {
	// time.Date picks one of a repeated time's instants, either; the other
	// has the offset of the zone just before or just after that one.
	c := time.Date(y, mo, d, m/60, m%60, 0, 0, loc)
	_, off := c.Zone()
	offsets := []int{off}
	zoneStart, zoneEnd := c.ZoneBounds()
	if !zoneStart.IsZero() {
		_, off := zoneStart.Add(-time.Nanosecond).Zone()
		offsets = append(offsets, off)
	}
	if !zoneEnd.IsZero() {
		_, off := zoneEnd.Zone()
		offsets = append(offsets, off)
	}
	wall := time.Date(y, mo, d, m/60, m%60, 0, 0, time.UTC)
	var instants []time.Time
	for _, off := range offsets {
		at := wall.Add(-time.Duration(off) * time.Second).In(loc)
		reads := at.Year() == wall.Year() && at.YearDay() == wall.YearDay() && minuteOfDay(at) == m
		if reads && !slices.ContainsFunc(instants, at.Equal) {
			instants = append(instants, at)
		}
	}
	slices.SortFunc(instants, time.Time.Compare)
	return instants
}

// evaluate reads the feed's user's settings and starts or ends its hold
// (see the design above), and sets the timer of the next change. Ending a
// hold catches up from the inbox.
func (f *feed) evaluate(ctx context.Context) error {
	st, err := f.s.store.Settings(ctx, f.user)
	if err != nil {
		return internal(ctx, f.s.logger, "settings", err)
	}
	now := f.s.clock.Now()
	quiet, next := quietHoursOf(st).at(now)
	f.wake = nil
	if !next.IsZero() {
		f.wake = f.s.clock.After(next.Sub(now))
	}
	held := f.holding
	f.holding = quiet
	if held && !quiet {
		return f.catchUp(ctx)
	}
	return nil
}

// isSettingsSignal reports whether a live message says the user's settings
// changed (see signalSettings) rather than carrying a notification or a
// withdrawal.
func isSettingsSignal(m fanout.Message, n *notificationv1.Notification) bool {
	return m.Sequence == 0 && n.GetChild() == "" && n.GetName() != ""
}

// signalSettings tells the user's open feeds, on every instance, that
// their quiet hours may have changed. Best effort, like every push: a feed
// that misses it learns at its next timer.
func (s *server) signalSettings(ctx context.Context, user string) {
	payload, err := proto.Marshal(&notificationv1.Notification{Name: names.User{ID: user}.String() + "/settings"})
	if err == nil {
		err = s.bus.Publish(ctx, fanout.Message{User: user, Payload: payload})
	}
	if err != nil {
		s.logger.WarnContext(ctx, "telling the live feeds of changed settings failed; they learn at the next start or end of quiet hours")
	}
}

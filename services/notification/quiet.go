package notification

import (
	"context"
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

// at reports whether t is within the quiet hours (start included, end
// excluded, on the user's local wall clock) and when that next changes;
// zero when it never does.
func (q quietHours) at(t time.Time) (quiet bool, next time.Time) {
	if q.start < 0 || q.start == q.end {
		return false, time.Time{}
	}
	local := t.In(q.loc)
	m := local.Hour()*60 + local.Minute()
	if q.start < q.end {
		quiet = m >= q.start && m < q.end
	} else { // wraps midnight
		quiet = m >= q.start || m < q.end
	}
	boundary := q.start
	if quiet {
		boundary = q.end
	}
	return quiet, nextWallClock(local, boundary)
}

// nextWallClock is the first instant after t at which the local clock of
// t's location reads minute m of the day. On a day when that time does not
// exist (the clocks spring forward over it) it is the instant the clocks
// jump, as time.Date normalizes it.
func nextWallClock(t time.Time, m int) time.Time {
	y, mo, d := t.Date()
	for i := range 3 {
		if c := time.Date(y, mo, d+i, m/60, m%60, 0, 0, t.Location()); c.After(t) {
			return c
		}
	}
	return t.Add(24 * time.Hour) // unreachable: a day later the clock read m
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

package fanout_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

const prefix = "kinbridge.notification"

// serverSubs returns how many subscriptions the server holds that a message on subject reaches.
func serverSubs(t testing.TB, s *server.Server, subject string) int {
	t.Helper()
	sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
	if err != nil {
		t.Fatal(err)
	}
	return sz.Total
}

// TestNATSSubjects checks the subject scheme: one literal token per user under the prefix and
// the deployment's name, whatever the id holds, distinct for distinct ids.
func TestNATSSubjects(t *testing.T) {
	s := startServer(t)
	b := newNATSBus(t, connect(t, s.ClientURL(), nil), prefix)
	name, err := fanout.DeploymentName(deployment.Secret)
	if err != nil {
		t.Fatal(err)
	}
	named := newDeploymentBus(t, connect(t, s.ClientURL(), nil), prefix, fanout.Deployment{Secret: deployment.Secret, Name: "Blue_2-x"})
	if got, want := fanout.SubjectFor(named, "alice"), prefix+".Blue_2-x.user.MFWGSY3F"; got != want {
		t.Errorf("named deployment: subject %q, want %q", got, want)
	}
	seen := map[string]string{}
	for _, user := range []string{"alice", "a.b", "a", "b", "*", ">", "a b", "a.>", "élève", strings.Repeat("z", fanout.MaxUserLen)} {
		subject := fanout.SubjectFor(b, user)
		token, ok := strings.CutPrefix(subject, prefix+"."+name+".user.")
		if !ok || token == "" || strings.ContainsAny(token, ".*> \t\r\n") || !server.IsValidLiteralSubject(subject) {
			t.Errorf("user %q: subject %q is not one literal token under %s.%s.user", user, subject, prefix, name)
		}
		if other, dup := seen[subject]; dup {
			t.Errorf("users %q and %q share subject %q", user, other, subject)
		}
		seen[subject] = user
	}
}

// TestNATSSkipsItsOwnEcho checks that a publisher's local subscribers get its message once: it
// is delivered to them directly, and NATS's copy is recognised and skipped.
func TestNATSSkipsItsOwnEcho(t *testing.T) {
	s := startServer(t)
	one := newNATSBus(t, connect(t, s.ClientURL(), nil), prefix)
	two := newNATSBus(t, connect(t, s.ClientURL(), nil), prefix)
	here := subscribe(t, one, "alice", 10)
	there := subscribe(t, two, "alice", 10)

	publish(t, one, "alice", 1)
	wantNext(t, there, 1)
	// The server routed 1 to both connections before two published 2, so NATS's copy of 1
	// reaches one's subscription ahead of 2: if it were not skipped, here would see 1 twice.
	publish(t, two, "alice", 2)
	wantNext(t, here, 1, 2)
	wantNext(t, there, 2)
}

// TestNATSReleasesSubscriptions checks the reference counting: one NATS subscription per user
// with subscribers on the instance, dropped with the last of them, and not before: a
// subscription that ended by itself keeps it until its owner closes it.
func TestNATSReleasesSubscriptions(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s.ClientURL(), nil)
	b := newNATSBus(t, nc, prefix)
	pub := newNATSBus(t, connect(t, s.ClientURL(), nil), prefix)
	subject := fanout.SubjectFor(b, "alice")

	// want checks the NATS subscriptions of the connection (all users) and on the server for
	// alice's subject.
	want := func(conn, alice int) {
		t.Helper()
		if got := nc.NumSubscriptions(); got != conn {
			t.Fatalf("connection has %d subscriptions, want %d", got, conn)
		}
		// Subscribe waits for the server; an unsubscription reaches it a little later.
		eventually(t, fmt.Sprintf("%d subscriptions for alice on the server", alice), func() bool {
			return serverSubs(t, s, subject) == alice
		})
	}

	want(0, 0)
	tab1 := subscribe(t, b, "alice", 1)
	want(1, 1)
	tab2 := subscribe(t, b, "alice", 10)
	want(1, 1)
	bob := subscribe(t, b, "bob", 10)
	want(2, 1)

	// tab1 overflows: it ends, but holds its reference until closed.
	publish(t, pub, "alice", 1)
	publish(t, pub, "alice", 2)
	if err := waitEnd(t, tab1); err != fanout.ErrOverflow {
		t.Fatalf("tab1 ended with %v, want ErrOverflow", err)
	}
	tab2.Close()
	want(2, 1)
	tab1.Close()
	want(1, 0)
	bob.Close()
	want(0, 0)

	// A new first subscriber subscribes again.
	again := subscribe(t, b, "alice", 10)
	want(1, 1)
	publish(t, pub, "alice", 3)
	wantNext(t, again, 3)

	// Closing the bus drops what is left even if the owners never close their subscriptions.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	want(0, 0)
}

// TestNATSCutOff cuts one instance off NATS with a proxy: each instance keeps delivering its own
// messages, and once the connection is back, messages cross again; the cut-off instance's
// subscribers, which missed what the other published meanwhile, are told to resume.
func TestNATSCutOff(t *testing.T) {
	s := startServer(t)
	px := newProxy(t, s.Addr().String())
	logger, logs := testLogger(t)
	one := newNATSBus(t, connect(t, s.ClientURL(), logger), prefix, fanout.WithLogger(logger))
	two := newNATSBus(t, connect(t, px.URL(), logger), prefix, fanout.WithLogger(logger))

	atOne := subscribe(t, one, "alice", 100)
	atTwo := subscribe(t, two, "alice", 100)
	// Each crossing is awaited before the next publish: between instances, order is only what
	// the sequences restore.
	publish(t, one, "alice", 1)
	wantNext(t, atOne, 1)
	wantNext(t, atTwo, 1)
	publish(t, two, "alice", 2)
	wantNext(t, atTwo, 2)
	wantNext(t, atOne, 2)
	if !two.Connected() {
		t.Fatal("Connected() = false before the cut")
	}

	px.Cut()
	eventually(t, "instance two to notice the cut", func() bool { return !two.Connected() })
	if !one.Connected() {
		t.Fatal("instance one lost its connection, which was not cut")
	}
	// Each instance still delivers its own messages, to old and new subscribers alike.
	lateAtTwo := subscribe(t, two, "alice", 100)
	publish(t, one, "alice", 3)
	publish(t, two, "alice", 4)
	wantNext(t, atOne, 3)
	wantNext(t, atTwo, 4)
	wantNext(t, lateAtTwo, 4)

	px.Restore()
	eventually(t, "instance two to reconnect", two.Connected)
	// Two never got 3: its subscriptions are told to resume from their cursors.
	for _, s := range []*fanout.Subscription{atTwo, lateAtTwo} {
		if err := waitEnd(t, s); err != fanout.ErrInterrupted || !s.Overflowed() {
			t.Fatalf("subscription at two ended with %v (overflowed: %v), want ErrInterrupted", err, s.Overflowed())
		}
	}
	// nats.go kept 4 in its reconnect buffer and sent it once reconnected.
	wantNext(t, atOne, 4)

	// Messages cross again, both ways, for resumed and untouched subscribers alike.
	resumed := subscribe(t, two, "alice", 100)
	publish(t, one, "alice", 5)
	wantNext(t, atOne, 5)
	wantNext(t, resumed, 5)
	publish(t, two, "alice", 6)
	wantNext(t, resumed, 6)
	wantNext(t, atOne, 6)
	if err := atOne.Err(); err != nil {
		t.Errorf("subscription at one, which never lost its connection, ended: %v", err)
	}
	for _, s := range []*fanout.Subscription{atTwo, lateAtTwo} {
		if n := len(s.C()); n != 0 {
			t.Errorf("interrupted subscription got %d messages after its end", n)
		}
	}

	for _, want := range []string{"nats: disconnected", "nats: reconnected", "fanout: NATS reconnected"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// TestNATSLateConfirmation stalls an instance's link while a user's first
// subscription there is made: Subscribe gives up waiting for the server's
// confirmation, and a message another instance publishes meanwhile never
// reaches it. Once the link carries bytes again and the server confirms,
// the subscription ends as interrupted, so its client resumes from its
// cursor at once instead of waiting for a later message to reveal the gap.
func TestNATSLateConfirmation(t *testing.T) {
	s := startServer(t)
	px := newProxy(t, s.Addr().String())
	logger, logs := testLogger(t)
	one := newNATSBus(t, connect(t, s.ClientURL(), logger), prefix, fanout.WithLogger(logger))
	two := newNATSBus(t, connect(t, px.URL(), logger), prefix, fanout.WithLogger(logger))

	// A plain client that sees what the server routes.
	routed := make(chan *nats.Msg, 10)
	watcher := connect(t, s.ClientURL(), logger)
	if _, err := watcher.ChanSubscribe(prefix+".>", routed); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}

	px.Pause()
	atTwo := subscribe(t, two, "alice", 100) // after the 2s wait for a confirmation that does not come
	publish(t, one, "alice", 1)
	select { // routed before the server knows of two's interest
	case <-routed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not route the message")
	}
	if !two.Connected() {
		t.Fatal("a stalled link counts as disconnected; the test needs it connected")
	}
	px.Resume()
	if err := waitEnd(t, atTwo); err != fanout.ErrInterrupted || !atTwo.Overflowed() {
		t.Fatalf("the subscription made while the link stalled ended with %v (overflowed: %v), want ErrInterrupted", err, atTwo.Overflowed())
	}
	// The resumed subscription hears what follows.
	resumed := subscribe(t, two, "alice", 100)
	publish(t, one, "alice", 2)
	wantNext(t, resumed, 2)
	for _, want := range []string{"did not confirm a subscription in time", "confirmed a subscription late"} {
		eventually(t, "the log to say "+want, func() bool { return strings.Contains(logs.String(), want) })
	}
}

// TestNATSDoesNotWaitForNATS hangs the connection of an instance: while nats.go sits in a
// reconnection attempt holding its lock, Publish still delivers locally and returns at once
// (ErrBacklog when its queue is full), and Connected answers.
func TestNATSDoesNotWaitForNATS(t *testing.T) {
	s := startServer(t)
	px := newProxy(t, s.Addr().String())
	logger, _ := testLogger(t)
	// A long dial timeout keeps nats.go's lock held for the whole test once the attempt starts.
	nc := connect(t, px.URL(), logger, nats.Timeout(time.Minute))
	b := newNATSBus(t, nc, prefix, fanout.WithLogger(logger), fanout.WithPublishQueue(1))
	local := subscribe(t, b, "alice", 10_000)
	// Closing a subscription, the bus or the connection needs nats.go's lock, which the hung
	// attempt holds: the proxy lets go of it first (defers run before cleanups).
	defer px.Restore()

	px.Hang()
	eventually(t, "the bus to notice the hang", func() bool { return !b.Connected() })
	var seq int64
	eventually(t, "Publish to report the backlog", func() bool {
		seq++
		err := b.Publish(t.Context(), msg("alice", seq))
		if err != nil && !errors.Is(err, fanout.ErrBacklog) {
			t.Fatalf("Publish: %v", err)
		}
		return err != nil
	})
	if seq < 2 {
		t.Fatalf("the first Publish reported a backlog on an empty queue")
	}
	// Every message reached the local subscriber, the last one too.
	for i := range seq {
		wantNext(t, local, i+1)
	}
	if b.Connected() {
		t.Error("Connected() = true while hung")
	}
}

// TestNATSDroppedMessagesInterrupt stalls an instance's delivery until nats.go drops messages
// for a user: that user's subscriptions are told to resume, since a silent gap might never be
// revealed.
func TestNATSDroppedMessagesInterrupt(t *testing.T) {
	s := startServer(t)
	logger, _ := testLogger(t)
	pub := newNATSBus(t, connect(t, s.ClientURL(), logger), prefix)
	b := newNATSBus(t, connect(t, s.ClientURL(), logger), prefix, fanout.WithLogger(logger))
	alice := subscribe(t, b, "alice", 1000)
	bob := subscribe(t, b, "bob", 1000)
	ns := fanout.NATSSubscription(b, "alice")
	if err := ns.SetPendingLimits(1, -1); err != nil {
		t.Fatal(err)
	}

	release := HoldDeliveryOnce(t, b)
	var seq int64
	eventually(t, "nats.go to drop a message", func() bool {
		seq++
		publish(t, pub, "alice", seq)
		n, err := ns.Dropped()
		return err == nil && n > 0
	})
	release()

	if err := waitEnd(t, alice); err != fanout.ErrInterrupted || !alice.Overflowed() {
		t.Fatalf("alice's subscription ended with %v (overflowed: %v), want ErrInterrupted", err, alice.Overflowed())
	}
	wantNext(t, alice, 1) // the message that was being delivered during the stall
	publish(t, pub, "bob", 1)
	wantNext(t, bob, 1)
	if err := bob.Err(); err != nil {
		t.Errorf("bob's subscription ended: %v", err)
	}
}

// HoldDeliveryOnce holds b's deliveries, releasing them when the test ends if the test does not.
func HoldDeliveryOnce(t *testing.T, b *fanout.NATS) (release func()) {
	unlock := fanout.HoldDelivery(b)
	done := false
	release = func() {
		if !done {
			done = true
			unlock()
		}
	}
	t.Cleanup(release)
	return release
}

func TestNewNATSRefuses(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s.ClientURL(), nil)
	for _, p := range []string{"", ".", "a.", ".a", "a..b", "a.*", "a.>", ">", "a b", "a\tb", "a\x00b", strings.Repeat("a", 257)} {
		if b, err := fanout.NewNATS(nc, p, deployment); !errors.Is(err, fanout.ErrInvalid) {
			t.Errorf("NewNATS(prefix %q): %v, want ErrInvalid", p, err)
			if b != nil {
				b.Close()
			}
		}
	}
	if _, err := fanout.NewNATS(nil, prefix, deployment); !errors.Is(err, fanout.ErrInvalid) {
		t.Errorf("NewNATS(nil): %v, want ErrInvalid", err)
	}
	for name, d := range map[string]fanout.Deployment{
		"no secret":    {},
		"short secret": {Secret: secret(1)[1:]},
		"dotted name":  {Secret: secret(1), Name: "a.b"},
		"wildcard":     {Secret: secret(1), Name: "*"},
		"long name":    {Secret: secret(1), Name: strings.Repeat("a", 65)},
	} {
		if b, err := fanout.NewNATS(nc, prefix, d); !errors.Is(err, fanout.ErrInvalid) {
			t.Errorf("NewNATS(%s): %v, want ErrInvalid", name, err)
			if b != nil {
				b.Close()
			}
		}
	}
	closed := connect(t, s.ClientURL(), nil)
	closed.Close()
	if _, err := fanout.NewNATS(closed, prefix, deployment); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("NewNATS(closed connection): %v, want ErrConnectionClosed", err)
	}
}

// TestNATSWarnsOnLimitedReconnects checks that a bus on a connection that will give up
// reconnecting says so.
func TestNATSWarnsOnLimitedReconnects(t *testing.T) {
	s := startServer(t)
	logger, logs := testLogger(t)
	nc, err := nats.Connect(s.ClientURL()) // nats.go's defaults: 60 attempts
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	newNATSBus(t, nc, prefix, fanout.WithLogger(logger))
	if !strings.Contains(logs.String(), "fanout.NATSOptions") {
		t.Errorf("no warning about limited reconnects; logs:\n%s", logs)
	}

	logger, logs = testLogger(t)
	newNATSBus(t, connect(t, s.ClientURL(), logger), prefix, fanout.WithLogger(logger))
	if strings.Contains(logs.String(), "fanout.NATSOptions") {
		t.Errorf("warning about limited reconnects with NATSOptions; logs:\n%s", logs)
	}
}

// TestNATSConnectionClosed closes the connection under a bus for good: publishes still reach
// this instance's subscribers, and what cannot go to NATS is counted and logged once.
func TestNATSConnectionClosed(t *testing.T) {
	s := startServer(t)
	logger, logs := testLogger(t)
	mp, reader := meter(t)
	nc := connect(t, s.ClientURL(), logger)
	b := newNATSBus(t, nc, prefix, fanout.WithLogger(logger), fanout.WithMeterProvider(mp))
	local := subscribe(t, b, "alice", 10)

	nc.Close()
	eventually(t, "the bus to notice the close", func() bool { return !b.Connected() })
	publish(t, b, "alice", 1)
	publish(t, b, "alice", 2)
	wantNext(t, local, 1, 2)
	eventually(t, "the lost messages to be counted", func() bool {
		n, _ := value(t, reader, "kinbridge.notification.nats_dropped")
		return n == 2
	})
	if got := strings.Count(logs.String(), "cannot publish to NATS"); got != 1 {
		t.Errorf("%d warnings for one streak of failed publishes, want 1", got)
	}
	if _, err := b.Subscribe("bob", 10); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Subscribe on a closed connection: %v, want ErrConnectionClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

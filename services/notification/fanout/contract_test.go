package fanout_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

// pair returns two buses of one deployment, closed when the test ends: for Local both are the
// same bus, for NATS two instances on two connections. The contract publishes on pub and
// subscribes on sub, so that NATS is tested across instances.
type pair func(t *testing.T) (pub, sub fanout.Bus)

// testBus is the contract every Bus meets.
func testBus(t *testing.T, newPair pair) {
	t.Run("delivers to every subscriber of the user in order, and to no one else", func(t *testing.T) {
		pub, sub := newPair(t)
		tab1 := subscribe(t, sub, "alice", 100)
		tab2 := subscribe(t, sub, "alice", 100)
		bob := subscribe(t, sub, "bob", 100)
		for seq := range int64(50) {
			publish(t, pub, "alice", seq+1)
		}
		publish(t, pub, "bob", 1)
		for _, s := range []*fanout.Subscription{tab1, tab2} {
			for seq := range int64(50) {
				wantNext(t, s, seq+1)
			}
		}
		// Alice's messages were published first: had one reached Bob, it would come before his.
		wantNext(t, bob, 1)
	})

	t.Run("keeps user ids apart whatever their characters", func(t *testing.T) {
		pub, sub := newPair(t)
		ids := []string{"a", "b", "a.b", "a.*", "a.>", "*", ">", "a b", " ", "a\tb", "a\r\nb", "élève",
			"MFRGG", "a=", "a/b", "$SYS", "_INBOX.x", strings.Repeat(".*> ", fanout.MaxUserLen/4)}
		subs := make([]*fanout.Subscription, len(ids))
		for i, id := range ids {
			subs[i] = subscribe(t, sub, id, 10)
		}
		for round := range int64(2) {
			for _, id := range ids {
				publish(t, pub, id, round+1)
			}
		}
		// Every id's first two messages are its own: a leak from the first round would come
		// before the second.
		for _, s := range subs {
			wantNext(t, s, 1, 2)
		}
	})

	t.Run("carries the publisher's trace", func(t *testing.T) {
		pub, sub := newPair(t)
		s := subscribe(t, sub, "alice", 10)
		ts, _ := trace.ParseTraceState("kinbridge=1")
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x0a, 0xf7, 1}, SpanID: trace.SpanID{0xb7, 2}, TraceFlags: trace.FlagsSampled, TraceState: ts,
		})
		if err := pub.Publish(trace.ContextWithSpanContext(t.Context(), sc), msg("alice", 1)); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(t.Context(), msg("alice", 2)); err != nil {
			t.Fatal(err)
		}
		got := recv(t, s).SpanContext
		if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || got.TraceState().String() != "kinbridge=1" {
			t.Errorf("received span context %v, want the publisher's %v", got, sc)
		}
		if got := recv(t, s).SpanContext; got.IsValid() {
			t.Errorf("a message published outside any trace arrived with %v", got)
		}
	})

	t.Run("carries payloads and sequences unchanged", func(t *testing.T) {
		pub, sub := newPair(t)
		s := subscribe(t, sub, "alice", 10)
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		sent := []fanout.Message{
			{User: "alice", Sequence: 1, Payload: binary},
			{User: "alice", Sequence: 2, Payload: nil},
			{User: "alice", Sequence: math.MaxInt64, Payload: bytes.Repeat([]byte{'x'}, fanout.MaxPayload)},
		}
		for _, m := range sent {
			if err := pub.Publish(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range sent {
			got := recv(t, s)
			if got.User != want.User || got.Sequence != want.Sequence || !bytes.Equal(got.Payload, want.Payload) {
				t.Errorf("got {%q %d %d bytes}, want {%q %d %d bytes}", got.User, got.Sequence, len(got.Payload),
					want.User, want.Sequence, len(want.Payload))
			}
		}
	})

	t.Run("a slow subscriber overflows and is told, the others keep receiving", func(t *testing.T) {
		pub, sub := newPair(t)
		slow := subscribe(t, sub, "alice", 2)
		fast := subscribe(t, sub, "alice", 100)
		for seq := range int64(5) {
			publish(t, pub, "alice", seq+1)
		}
		wantNext(t, fast, 1, 2, 3, 4, 5)
		if err := waitEnd(t, slow); err != fanout.ErrOverflow || !slow.Overflowed() {
			t.Fatalf("slow subscription ended with %v (overflowed: %v), want ErrOverflow", err, slow.Overflowed())
		}
		// What was buffered before the overflow is still there.
		wantNext(t, slow, 1, 2)

		publish(t, pub, "alice", 6)
		wantNext(t, fast, 6)
		// 6 was offered to every subscriber in one pass: the ended one did not get it.
		if n := len(slow.C()); n != 0 {
			t.Fatalf("overflowed subscription got %d more messages", n)
		}
		// The client resumes with a new subscription.
		slow.Close()
		again := subscribe(t, sub, "alice", 2)
		publish(t, pub, "alice", 7)
		wantNext(t, again, 7)
		wantNext(t, fast, 7)
	})

	t.Run("Close ends one subscription", func(t *testing.T) {
		pub, sub := newPair(t)
		closing := subscribe(t, sub, "alice", 10)
		staying := subscribe(t, sub, "alice", 10)
		closing.Close()
		closing.Close() // idempotent
		if err := waitEnd(t, closing); err != fanout.ErrUnsubscribed || closing.Overflowed() {
			t.Errorf("closed subscription: Err %v, Overflowed %v; want ErrUnsubscribed, false", err, closing.Overflowed())
		}
		publish(t, pub, "alice", 1)
		wantNext(t, staying, 1)
		if n := len(closing.C()); n != 0 {
			t.Errorf("closed subscription got %d messages", n)
		}
		if staying.Err() != nil {
			t.Errorf("live subscription has Err %v", staying.Err())
		}
	})

	t.Run("Close of the bus ends its subscriptions and refuses more", func(t *testing.T) {
		_, sub := newPair(t)
		s := subscribe(t, sub, "alice", 10)
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		if err := waitEnd(t, s); err != fanout.ErrClosed || s.Overflowed() {
			t.Errorf("subscription of a closed bus: Err %v, Overflowed %v; want ErrClosed, false", err, s.Overflowed())
		}
		if _, err := sub.Subscribe("alice", 10); !errors.Is(err, fanout.ErrClosed) {
			t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
		}
		if err := sub.Publish(t.Context(), msg("alice", 1)); !errors.Is(err, fanout.ErrClosed) {
			t.Errorf("Publish after Close: %v, want ErrClosed", err)
		}
		if err := sub.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		s.Close() // after the bus: a no-op, not a panic
	})

	t.Run("refuses invalid arguments", func(t *testing.T) {
		pub, sub := newPair(t)
		long := strings.Repeat("x", fanout.MaxUserLen+1)
		for name, err := range map[string]error{
			"empty user":        pub.Publish(t.Context(), fanout.Message{Sequence: 1}),
			"long user":         pub.Publish(t.Context(), fanout.Message{User: long, Sequence: 1}),
			"large payload":     pub.Publish(t.Context(), fanout.Message{User: "a", Payload: make([]byte, fanout.MaxPayload+1)}),
			"subscribe empty":   subscribeErr(sub, "", 1),
			"subscribe long":    subscribeErr(sub, long, 1),
			"subscribe buffer0": subscribeErr(sub, "a", 0),
		} {
			if !errors.Is(err, fanout.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
	})
}

func subscribeErr(b fanout.Bus, user string, buffer int) error {
	s, err := b.Subscribe(user, buffer)
	if err == nil {
		s.Close()
	}
	return err
}

func TestLocal(t *testing.T) {
	testBus(t, func(t *testing.T) (fanout.Bus, fanout.Bus) {
		b := fanout.NewLocal()
		t.Cleanup(func() { b.Close() })
		return b, b
	})
}

// natsPair returns a pair for two instances of d on the server at url, under prefix.
func natsPair(url string, prefix func(t *testing.T) string, d fanout.Deployment) pair {
	return func(t *testing.T) (fanout.Bus, fanout.Bus) {
		logger, _ := testLogger(t)
		p := prefix(t)
		pub := newDeploymentBus(t, connect(t, url, logger), p, d, fanout.WithLogger(logger))
		sub := newDeploymentBus(t, connect(t, url, logger), p, d, fanout.WithLogger(logger))
		return pub, sub
	}
}

func TestNATSContract(t *testing.T) {
	s := startServer(t)
	testBus(t, natsPair(s.ClientURL(), func(*testing.T) string { return "kinbridge.notification" }, deployment))
}

// TestNATSContractAcceptUnsigned runs the contract on buses that also speak the old format, as
// during a rolling upgrade: each message travels twice, and is still delivered once.
func TestNATSContractAcceptUnsigned(t *testing.T) {
	s := startServer(t)
	d := deployment
	d.AcceptUnsigned = true
	testBus(t, natsPair(s.ClientURL(), func(*testing.T) string { return "kinbridge.notification" }, d))
}

// TestNATSSharedServer runs the contract on the machine's NATS server (KINBRIDGE_TEST_NATS_URL),
// which other tests and other test binaries use at the same time: every subtest gets subjects
// of its own.
func TestNATSSharedServer(t *testing.T) {
	t.Parallel()
	testBus(t, natsPair(testenv.NATS(t), func(t *testing.T) string { return testenv.NATSPrefix(t) }, deployment))
}

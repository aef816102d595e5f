package fanout_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

// TestMain checks that nothing outlives the tests: the bus's own goroutines, nats.go's (one per
// subscription, the reconnect loop, the callbacks) and the in-process servers' must all stop
// once everything is closed. No goroutine is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait so that a broken bus fails the test instead of hanging it. It is
// not a performance assertion: everything waited for normally takes milliseconds.
const waitLimit = 20 * time.Second

// startServer runs a nats-server in the test process on a random loopback port, JetStream off,
// shut down when the test ends.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   server.RANDOM_PORT,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(waitLimit) {
		t.Fatal("nats-server did not start")
	}
	return s
}

// logBuffer collects what the bus and nats.go log during a test, shown only if it fails.
// Callbacks nats.go runs after the test ended may still write; they are kept, never sent to t.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testLogger returns a logger writing into a buffer that is printed if the test fails.
func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// connect connects to url with the options a Kinbridge process uses, retrying quickly so that
// reconnection tests do not wait for the production ReconnectWait, and closes the connection
// when the test ends. A nil logger means one of the test's own.
func connect(t testing.TB, url string, logger *slog.Logger, extra ...nats.Option) *nats.Conn {
	t.Helper()
	if logger == nil {
		logger, _ = testLogger(t)
	}
	opts := append(fanout.NATSOptions(logger), nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// secret returns a deployment secret made of n.
func secret(n byte) []byte { return bytes.Repeat([]byte{n}, fanout.MinSecretLen) }

// deployment is the deployment of the tests that are not about telling deployments apart.
var deployment = fanout.Deployment{Secret: secret(1)}

// newNATSBus makes a bus of deployment on nc, closed when the test ends. It logs into a logger
// of the test's own unless opts name another.
func newNATSBus(t testing.TB, nc *nats.Conn, prefix string, opts ...fanout.Option) *fanout.NATS {
	t.Helper()
	return newDeploymentBus(t, nc, prefix, deployment, opts...)
}

// newDeploymentBus makes a bus of d on nc, closed when the test ends. It logs into a logger of
// the test's own unless opts name another.
func newDeploymentBus(t testing.TB, nc *nats.Conn, prefix string, d fanout.Deployment, opts ...fanout.Option) *fanout.NATS {
	t.Helper()
	logger, _ := testLogger(t)
	b, err := fanout.NewNATS(nc, prefix, d, append([]fanout.Option{fanout.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatalf("NewNATS: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// eventually polls cond until it holds, failing the test after waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscribe subscribes and closes the subscription when the test ends.
func subscribe(t testing.TB, b fanout.Bus, user string, buffer int) *fanout.Subscription {
	t.Helper()
	s, err := b.Subscribe(user, buffer)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", user, err)
	}
	t.Cleanup(s.Close)
	return s
}

// publish publishes a message whose payload names user and seq.
func publish(t testing.TB, b fanout.Bus, user string, seq int64) {
	t.Helper()
	if err := b.Publish(t.Context(), msg(user, seq)); err != nil {
		t.Fatalf("Publish(%q, %d): %v", user, seq, err)
	}
}

func msg(user string, seq int64) fanout.Message {
	return fanout.Message{User: user, Sequence: seq, Payload: fmt.Appendf(nil, "%s#%d", user, seq)}
}

// recv returns the next message of s, failing the test if the subscription ends with nothing
// buffered or nothing arrives within waitLimit.
func recv(t testing.TB, s *fanout.Subscription) fanout.Message {
	t.Helper()
	select {
	case m := <-s.C():
		return *m
	case <-s.Done():
		// Nothing is sent after the end, but what was buffered before it is still there.
		select {
		case m := <-s.C():
			return *m
		default:
		}
		t.Fatalf("subscription of %q ended (%v) while a message was expected", s.User(), s.Err())
	case <-time.After(waitLimit):
		t.Fatalf("no message for %q", s.User())
	}
	return fanout.Message{}
}

// wantNext checks that the next messages of s are those published by publish for seqs, in order.
func wantNext(t testing.TB, s *fanout.Subscription, seqs ...int64) {
	t.Helper()
	for _, seq := range seqs {
		got := recv(t, s)
		want := msg(s.User(), seq)
		if got.User != want.User || got.Sequence != want.Sequence || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("subscriber of %q got {%q %d %q}, want {%q %d %q}", s.User(),
				got.User, got.Sequence, got.Payload, want.User, want.Sequence, want.Payload)
		}
	}
}

// waitEnd waits for s to end and returns why.
func waitEnd(t testing.TB, s *fanout.Subscription) error {
	t.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(waitLimit):
		t.Fatalf("subscription of %q did not end", s.User())
	}
	return nil
}

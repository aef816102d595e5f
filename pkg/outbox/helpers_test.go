package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestMain(m *testing.M) {
	// What telemetry.Init installs in every Kinbridge process, and what Add
	// and the relay rely on.
	otel.SetTextMapPropagator(telemetry.Propagator())
	goleak.VerifyTestMain(m)
}

// quiet drops the log lines tests do not look at.
var quiet = slog.New(slog.DiscardHandler)

// backend is one database the tests run on.
type backend struct {
	name string
	// dsn returns a fresh, empty database for t.
	dsn func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "outbox.db") }},
	{"postgres", func(t *testing.T) string { return testenv.Postgres(t) }},
}

// eachBackend runs fn on every backend as a subtest.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// open opens dsn as one service instance does, outbox schema included.
func open(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dsn, sqldb.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := outbox.Migrate(t.Context(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// add commits one message in a transaction of its own.
func add(ctx context.Context, db *sqldb.DB, key, payload string) (outbox.Message, error) {
	var m outbox.Message
	err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		m, err = outbox.Add(ctx, tx, outbox.Message{Key: key, Payload: []byte(payload)})
		return err
	})
	return m, err
}

func mustAdd(t *testing.T, db *sqldb.DB, key, payload string) outbox.Message {
	t.Helper()
	m, err := add(t.Context(), db, key, payload)
	if err != nil {
		t.Fatalf("Add %s/%s: %v", key, payload, err)
	}
	return m
}

// fast returns relay options for tests: short intervals, never asserted on.
func fast(name string) outbox.Options {
	return outbox.Options{
		Logger:       quiet,
		PollInterval: 10 * time.Millisecond,
		MinBackoff:   time.Millisecond,
		MaxBackoff:   10 * time.Millisecond,
		LeaseTTL:     5 * time.Second,
		Name:         name,
		Outbox:       "test",
	}
}

// start runs r until the test ends or stop is called; stop waits for Run to
// return and checks it returned nil.
func start(t *testing.T, r *outbox.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return after its context was canceled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, failing the test if it never does.
// The bound is generous: it catches a hang, it does not time anything.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder is a receiver: it keeps what it was given, in arrival order.
type recorder struct {
	mu  sync.Mutex
	got []outbox.Message
}

func (r *recorder) record(m outbox.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.Payload = slices.Clone(m.Payload)
	r.got = append(r.got, m)
}

// deliver accepts everything.
func (r *recorder) deliver(_ context.Context, m outbox.Message) error {
	r.record(m)
	return nil
}

func (r *recorder) messages() []outbox.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// payloads returns the payloads delivered for key, in arrival order.
func (r *recorder) payloads(key string) []string {
	var out []string
	for _, m := range r.messages() {
		if m.Key == key {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// has reports whether a message with payload arrived.
func (r *recorder) has(payload string) bool {
	for _, m := range r.messages() {
		if string(m.Payload) == payload {
			return true
		}
	}
	return false
}

// pending counts the messages left in the outbox.
func pending(t *testing.T, db *sqldb.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM outbox_messages`).Scan(&n); err != nil {
		t.Fatalf("count outbox: %v", err)
	}
	return n
}

// attempts returns the stored attempts of the message with id.
func attempts(t *testing.T, db *sqldb.DB, id string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(t.Context(), `SELECT attempts FROM outbox_messages WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatalf("attempts of %s: %v", id, err)
	}
	return n
}

// logRecorder is a slog handler keeping every record, for tests that check
// what was logged.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]slog.Record
	attrs   []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: new(sync.Mutex), records: new([]slog.Record)}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r)
	return nil
}

func (h *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logRecorder{mu: h.mu, records: h.records, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// find returns the attributes of the records at level or above whose
// message is msg.
func (h *logRecorder) find(level slog.Level, msg string) []map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range *h.records {
		if r.Level < level || r.Message != msg {
			continue
		}
		attrs := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// all returns every record as a line of text.
func (h *logRecorder) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range *h.records {
		line := r.Time.Format("15:04:05.000") + " " + r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.String()
			return true
		})
		out = append(out, line)
	}
	return out
}

// errRefused is what a failing receiver answers.
var errRefused = errors.New("receiver refused")

func key(i int) string { return fmt.Sprintf("children/c%d", i) }

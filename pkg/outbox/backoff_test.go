package outbox

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// memDB is a database for tests of the relay's arithmetic, which never
// touch it.
func memDB(t *testing.T) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), ":memory:", sqldb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestBackoff(t *testing.T) {
	r := NewRelay(memDB(t), nil, Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second}, // capped
		{1000, time.Second},
	}
	for _, tc := range tests {
		got := r.ceiling(tc.attempts)
		if got != tc.want {
			t.Errorf("ceiling(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
		for range 100 {
			if d := jitter(got); d < 0 || d > got {
				t.Fatalf("jitter(%v) = %v, outside [0, %v]", got, d, got)
			}
		}
	}
	if d := jitter(0); d != 0 {
		t.Errorf("jitter(0) = %v", d)
	}
}

func TestDefaults(t *testing.T) {
	r := NewRelay(memDB(t), nil, Options{MinBackoff: time.Minute})
	o := r.opts
	if o.PollInterval != time.Second || o.BatchSize != 100 || o.LeaseTTL != 15*time.Second ||
		o.Concurrency != 8 || o.Timeout != 10*time.Second || o.Outbox != "default" || o.Name == "" {
		t.Errorf("defaults %+v", o)
	}
	// A MaxBackoff below MinBackoff would make the cap meaningless.
	if o.MaxBackoff != time.Minute {
		t.Errorf("MaxBackoff = %v, want raised to MinBackoff", o.MaxBackoff)
	}
	if other := NewRelay(memDB(t), nil, Options{}); other.opts.Name == o.Name {
		t.Errorf("two relays got the same default name %q", o.Name)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 2); got != "h" {
		t.Errorf("truncate cut a character: %q", got)
	}
	if got := truncate(strings.Repeat("x", 10), 20); len(got) != 10 {
		t.Errorf("truncate shortened a short string: %q", got)
	}
}

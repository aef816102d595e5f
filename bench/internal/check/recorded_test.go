package check

import (
	"strings"
	"testing"
	"time"
)

// run is two children whose events were recorded one after another, except
// a2 and a3, which overlapped.
func run() map[string][]Event {
	ms := time.Millisecond
	return map[string][]Event{
		"a": {{"a1", 0, 1 * ms}, {"a2", 2 * ms, 5 * ms}, {"a3", 3 * ms, 4 * ms}, {"a4", 6 * ms, 7 * ms}},
		"b": {{"b1", 0, 1 * ms}, {"b2", 2 * ms, 3 * ms}},
	}
}

func TestRecordedRightRunPasses(t *testing.T) {
	err := Recorded(run(), []Inbox{
		{"g1", []string{"a"}, []string{"a1", "a2", "a3", "a4"}},
		// Overlapping calls may land either way; children interleave freely.
		{"g2", []string{"a", "b"}, []string{"a1", "b1", "a3", "a2", "b2", "a4"}},
		{"g3", []string{"b"}, []string{"b1", "b2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecordedWrongRunsFail(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []string
		want string
	}{
		{"lost", []string{"a1", "a2", "a4", "b1", "b2"}, "1 lost (a3)"},
		{"doubled", []string{"a1", "a2", "a3", "b1", "a3", "a4", "b2"}, "1 doubled (a3)"},
		{"unknown", []string{"a1", "a2", "a3", "x", "a4", "b1", "b2"}, "1 unknown (x)"},
		{"another child's", []string{"a1", "a2", "a3", "a4", "b1", "b2", "c1"}, "1 unknown (c1)"},
		{"out of order", []string{"a2", "a1", "a3", "a4", "b1", "b2"}, "1 out of order (a1)"},
		{"out of order, far", []string{"a1", "a4", "a2", "a3", "b2", "b1"}, "3 out of order (a2, a3, b1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			recorded := run()
			recorded["c"] = []Event{{ID: "c1"}}
			err := Recorded(recorded, []Inbox{
				{"good", []string{"a", "b"}, []string{"a1", "a3", "a2", "a4", "b1", "b2"}},
				{"bad", []string{"a", "b"}, c.got},
			})
			if err == nil {
				t.Fatalf("a run with %v passed", c.got)
			}
			if !strings.Contains(err.Error(), "bad: "+c.want) || strings.Contains(err.Error(), "good:") {
				t.Fatalf("error %q does not name bad: %s only", err, c.want)
			}
		})
	}
}

func TestRecordedLostAndDoubledTogetherFail(t *testing.T) {
	err := Recorded(run(), []Inbox{{"g", []string{"b"}, []string{"b1", "b1"}}})
	if err == nil || !strings.Contains(err.Error(), "lost (b2)") || !strings.Contains(err.Error(), "doubled (b1)") {
		t.Fatalf("got %v", err)
	}
}

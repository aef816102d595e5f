package check

import (
	"strings"
	"testing"
)

var sent = []string{"e1", "e2", "e3", "e4"}

func TestRightRunPasses(t *testing.T) {
	err := Feeds(sent, map[string][]string{"a": {"e1", "e2", "e3", "e4"}, "b": {"e1", "e2", "e3", "e4"}}, true)
	if err != nil {
		t.Fatal(err)
	}
}

func TestWrongRunsFail(t *testing.T) {
	for _, c := range []struct {
		name string
		feed []string
		want string
	}{
		{"lost", []string{"e1", "e2", "e4"}, "1 lost (e3)"},
		{"doubled", []string{"e1", "e2", "e2", "e3", "e4"}, "1 doubled (e2)"},
		{"unknown", []string{"e1", "e2", "x", "e3", "e4"}, "1 unknown (x)"},
		{"out of order", []string{"e1", "e3", "e2", "e4"}, "1 out of order (e2)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Feeds(sent, map[string][]string{"good": sent, "bad": c.feed}, true)
			if err == nil {
				t.Fatalf("a run with %v passed", c.feed)
			}
			if !strings.Contains(err.Error(), "bad: "+c.want) || strings.Contains(err.Error(), "good:") {
				t.Fatalf("error %q does not name bad: %s only", err, c.want)
			}
		})
	}
}

func TestLostAndDoubledTogetherFail(t *testing.T) {
	err := Feeds(sent, map[string][]string{"a": {"e1", "e1", "e2", "e4"}}, false)
	if err == nil || !strings.Contains(err.Error(), "lost (e3)") || !strings.Contains(err.Error(), "doubled (e1)") {
		t.Fatalf("got %v", err)
	}
}

func TestUnorderedIgnoresOrderOnly(t *testing.T) {
	if err := Feeds(sent, map[string][]string{"a": {"e2", "e1", "e4", "e3"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := Feeds(sent, map[string][]string{"a": {"e2", "e1", "e4"}}, false); err == nil {
		t.Fatal("a lost event passed an unordered check")
	}
}

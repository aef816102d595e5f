package editors_test

import (
	"testing"

	"github.com/kinbridge/kinbridge/pkg/editors"
)

func TestSet(t *testing.T) {
	set := ""
	if editors.Has(set, "") || editors.Has(set, "bea") {
		t.Fatal("the empty set holds someone")
	}
	for _, u := range []string{"bea", "carl", "bea", "carla"} {
		set = editors.Add(set, u)
	}
	if set != "bea\ncarl\ncarla" {
		t.Fatalf("set = %q", set)
	}
	for u, want := range map[string]bool{"bea": true, "carl": true, "carla": true, "car": false, "": false, "bea\ncarl": false} {
		if editors.Has(set, u) != want {
			t.Errorf("Has(%q) = %v, want %v", u, !want, want)
		}
	}
}

package pagetoken

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type cursor struct {
	Time int64  `json:"t"`
	ID   string `json:"i"`
}

func TestRoundTripAndRefusals(t *testing.T) {
	tok := Encode("children", cursor{7, "abc"})
	var got cursor
	if ok, err := Decode(tok, "children", &got); !ok || err != nil || got != (cursor{7, "abc"}) {
		t.Fatalf("round trip: %v %v %+v", ok, err, got)
	}
	if ok, err := Decode("", "children", &got); ok || err != nil {
		t.Fatalf("empty token: %v %v", ok, err)
	}
	for name, bad := range map[string]string{
		"another listing": tok,
		"not base64":      "%%%",
		"not JSON":        "bm9wZQ",
		"wrong position":  Encode("children:maria", "a string"),
	} {
		listing := "children:maria"
		if name == "not base64" || name == "not JSON" {
			listing = "children"
		}
		if _, err := Decode(bad, listing, &got); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode("children", cursor{1, "a"}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, token string) {
		var c cursor
		_, _ = Decode(token, "children", &c) // must never panic
	})
}

func TestSize(t *testing.T) {
	for in, want := range map[int32]int{0: DefaultSize, -1: DefaultSize, 1: 1, 1000: 1000, 5000: MaxSize} {
		if got := Size(in); got != want {
			t.Errorf("Size(%d) = %d, want %d", in, got, want)
		}
	}
}

package notification

import (
	"errors"
	"testing"
)

func TestShallowReturnsWhatItRan(t *testing.T) {
	ran := 0
	if err := shallow(func() error { ran++; return nil }); err != nil || ran != 1 {
		t.Fatalf("err %v, ran %d times; want nil, once", err, ran)
	}
	want := errors.New("boom")
	if err := shallow(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("err %v, want %v", err, want)
	}
}

// A panic in f reaches the caller, where the server's recovery is.
func TestShallowRaisesPanicInCaller(t *testing.T) {
	defer func() {
		if v := recover(); v != "deep" {
			t.Fatalf("recovered %v, want the panic of f", v)
		}
	}()
	_ = shallow(func() error { panic("deep") })
	t.Fatal("no panic")
}

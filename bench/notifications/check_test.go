package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestCheckDeliveries feeds the latency run's check what its feeds
// record: a right run passes, one with a lost and one with a doubled
// notification fail.
func TestCheckDeliveries(t *testing.T) {
	ok := map[string]bool{}
	for i := range 3 {
		ok[fmt.Sprintf("%s%06d", benchPrefix, i)] = true
	}
	feed := func(user string, titles ...int) *subscriber {
		s := newSubscriber(user, "", viaGRPC)
		for _, i := range titles {
			s.receive(since(), true, fmt.Sprintf("%s%06d", benchPrefix, i))
		}
		return s
	}
	if err := checkDeliveries(ok, 3, []*subscriber{feed("a", 0, 1, 2), feed("b", 2, 0, 1)}); err != nil {
		t.Fatalf("a right run: %v", err)
	}
	err := checkDeliveries(ok, 3, []*subscriber{feed("a", 0, 1, 2), feed("lost", 0, 2), feed("doubled", 0, 1, 1, 2)})
	if err == nil {
		t.Fatal("a run with a lost and a doubled notification passed")
	}
	for _, want := range []string{"lost: 1 lost", "doubled: 1 doubled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
	// A call that failed is not expected; its notification arriving is.
	delete(ok, benchPrefix+"000001")
	if err := checkDeliveries(ok, 3, []*subscriber{feed("a", 0, 1, 2)}); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("a notification of a failed call: %v", err)
	}
}

// A feed whose context has ended before it connects still reports that
// it did not open, so an opener waiting for it is not stuck forever.
func TestRunReportsOpenWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := make(chan error, 1)
	newSubscriber("a", "", viaGRPC).run(ctx, func(context.Context, string) (feed, error) {
		t.Error("connected after the context ended")
		return nil, nil
	}, func(err error) { got <- err })
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("opened reported no error")
		}
	default:
		t.Fatal("opened was never called")
	}
}

package notification

import (
	"context"
	"testing"
	"time"
)

func TestCredits(t *testing.T) {
	unlimited := newCredits(0)
	for range 1000 {
		if err := unlimited.take(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	c := newCredits(2)
	ctx := context.Background()
	for range 2 {
		if err := c.take(ctx); err != nil {
			t.Fatal(err)
		}
	}
	took := make(chan error, 1)
	go func() { took <- c.take(ctx) }()
	select {
	case err := <-took:
		t.Fatalf("took a credit that was never granted (%v)", err)
	case <-time.After(50 * time.Millisecond): // still waiting, as it should
	}
	c.grant(1)
	if err := <-took; err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	go cancel()
	if err := c.take(cancelled); err == nil {
		t.Fatal("take returned without credit or cancellation")
	}
}

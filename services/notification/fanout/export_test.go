package fanout

import "github.com/nats-io/nats.go"

// SubjectFor returns the NATS subject b uses for user's messages.
func SubjectFor(b *NATS, user string) string { return b.subjectFor(user) }

// NATSSubscription returns b's NATS subscription for user, or nil if it has none.
func NATSSubscription(b *NATS, user string) *nats.Subscription {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if r := b.remotes[user]; r != nil {
		return r.ns
	}
	return nil
}

// HoldDelivery stops every delivery to b's subscribers until release is called, as a
// subscriber-side stall would: the goroutines nats.go runs for b's subscriptions wait meanwhile.
func HoldDelivery(b *NATS) (release func()) {
	b.hub.mu.Lock()
	return b.hub.mu.Unlock
}

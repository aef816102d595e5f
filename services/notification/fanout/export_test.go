package fanout

import (
	"time"

	"github.com/nats-io/nats.go"
)

// SubjectFor returns the NATS subject b uses for user's messages.
func SubjectFor(b *NATS, user string) string { return b.subjectFor(user) }

// LegacySubjectFor returns the subject of user's messages in the old, unsigned format under
// prefix, as the release before deployments were told apart used it.
func LegacySubjectFor(prefix, user string) string {
	return prefix + ".user." + tokenEncoding.EncodeToString([]byte(user))
}

// NATSSubscription returns b's NATS subscription for user on its deployment's subject, or nil
// if it has none.
func NATSSubscription(b *NATS, user string) *nats.Subscription {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if r := b.remotes[user]; r != nil {
		return r.subs[0].ns
	}
	return nil
}

// SetClock makes b read the time from now, for the rate of its log of rejected messages.
func SetClock(b *NATS, now func() time.Time) {
	b.rejectMu.Lock()
	defer b.rejectMu.Unlock()
	b.now = now
}

// HoldDelivery stops every delivery to b's subscribers until release is called, as a
// subscriber-side stall would: the goroutines nats.go runs for b's subscriptions wait meanwhile.
func HoldDelivery(b *NATS) (release func()) {
	b.hub.mu.Lock()
	return b.hub.mu.Unlock
}

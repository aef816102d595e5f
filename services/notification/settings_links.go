package notification

import (
	"sync"
	"time"
)

// How many confirmation mails one user may have sent in a rolling window.
// Each asks the server to mail an address the user merely typed: without
// a bound, a signed-in user could have Kinbridge mail a stranger's
// address over and over (setting it, clearing it, setting it again, or
// asking for the link again), at the rate limit of the API.
const (
	maxLinksPerWindow = 5
	linkWindow        = time.Hour
)

// linkBudget counts, per user and in this process, the confirmation mails
// sent in the last linkWindow.
type linkBudget struct {
	mu   sync.Mutex
	sent map[string][]time.Time
}

// take records a mail for user at now and reports whether it is within
// the budget; a refused one is not recorded.
func (b *linkBudget) take(user string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sent == nil || len(b.sent) >= 100_000 { // a bound on memory, not a policy
		b.sent = map[string][]time.Time{}
	}
	recent := b.sent[user][:0]
	for _, t := range b.sent[user] {
		if now.Sub(t) < linkWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= maxLinksPerWindow {
		b.sent[user] = recent
		return false
	}
	b.sent[user] = append(recent, now)
	return true
}

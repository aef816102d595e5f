package notification

import (
	"context"
	"sync"
	"time"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
)

// guardians answers "who follows this child?" by asking progress, and
// remembers the answer briefly: a burst of events for one child asks once.
// Revocations and deletions forget the child at once, so a revoked user
// never receives what follows the revocation.
type guardians struct {
	client progresspeerv1.AccessServiceClient
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]guardianEntry
}

type guardianEntry struct {
	users   []string
	fetched time.Time
}

func newGuardians(client progresspeerv1.AccessServiceClient, ttl time.Duration) *guardians {
	return &guardians{client: client, ttl: ttl, now: time.Now, entries: map[string]guardianEntry{}}
}

// users returns the ids of everyone who may see the child.
func (g *guardians) users(ctx context.Context, child string) ([]string, error) {
	if g.ttl > 0 {
		g.mu.Lock()
		e, ok := g.entries[child]
		g.mu.Unlock()
		if ok && g.now().Sub(e.fetched) < g.ttl {
			return e.users, nil
		}
	}
	fetched := g.now()
	resp, err := g.client.ListGuardians(ctx, &progresspeerv1.ListGuardiansRequest{Child: child})
	if err != nil {
		return nil, err
	}
	users := make([]string, 0, len(resp.GetGuardians()))
	for _, gd := range resp.GetGuardians() {
		users = append(users, gd.GetUser())
	}
	if g.ttl > 0 {
		g.mu.Lock()
		if len(g.entries) > 10000 {
			clear(g.entries) // bounded; a miss only costs one call
		}
		g.entries[child] = guardianEntry{users: users, fetched: fetched}
		g.mu.Unlock()
	}
	return users, nil
}

// forget drops what is known about a child.
func (g *guardians) forget(child string) {
	g.mu.Lock()
	delete(g.entries, child)
	g.mu.Unlock()
}

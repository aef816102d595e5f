package notification

import (
	"context"
	"sync"
	"time"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
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
	members []member
	fetched time.Time
}

// member is someone who may see a child.
type member struct {
	user        string
	contributor bool // ROLE_CONTRIBUTOR: may also record for the child
}

func newGuardians(client progresspeerv1.AccessServiceClient, ttl time.Duration) *guardians {
	return &guardians{client: client, ttl: ttl, now: time.Now, entries: map[string]guardianEntry{}}
}

// members returns everyone who may see the child, with their roles.
func (g *guardians) members(ctx context.Context, child string) ([]member, error) {
	if g.ttl > 0 {
		g.mu.Lock()
		e, ok := g.entries[child]
		g.mu.Unlock()
		if ok && g.now().Sub(e.fetched) < g.ttl {
			return e.members, nil
		}
	}
	fetched := g.now()
	resp, err := g.client.ListGuardians(ctx, &progresspeerv1.ListGuardiansRequest{Child: child})
	if err != nil {
		return nil, err
	}
	members := make([]member, 0, len(resp.GetGuardians()))
	for _, gd := range resp.GetGuardians() {
		members = append(members, member{user: gd.GetUser(), contributor: gd.GetRole() == progressv1.Role_ROLE_CONTRIBUTOR})
	}
	if g.ttl > 0 {
		g.mu.Lock()
		if len(g.entries) > 10000 {
			clear(g.entries) // bounded; a miss only costs one call
		}
		g.entries[child] = guardianEntry{members: members, fetched: fetched}
		g.mu.Unlock()
	}
	return members, nil
}

// forget drops what is known about a child.
func (g *guardians) forget(child string) {
	g.mu.Lock()
	delete(g.entries, child)
	g.mu.Unlock()
}

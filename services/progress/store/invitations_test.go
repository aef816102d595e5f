package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/progress/store"
)

func init() {
	contract = append(contract, invitationsContract...)
}

// t0 is the invitations' clock in these tests, at the stored precision.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func invitation(child, id string, created time.Time) store.Invitation {
	return store.Invitation{ChildID: child, ID: id, TokenHash: "hash-" + child + "-" + id, Role: store.RoleGuardian,
		Relation: "grandmother", Creator: "maria", CreateTime: created, ExpireTime: created.Add(7 * 24 * time.Hour)}
}

func mustInvitation(t *testing.T, s store.Store, inv store.Invitation) store.Invitation {
	t.Helper()
	got, err := s.CreateInvitation(context.Background(), inv, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var invitationsContract = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"invitation round trip, by name and by token", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		created := mustInvitation(t, s, invitation("c1", "i1", t0))
		for what, get := range map[string]func() (store.Invitation, error){
			"by name":  func() (store.Invitation, error) { return s.GetInvitation(ctx, "c1", "i1") },
			"by token": func() (store.Invitation, error) { return s.InvitationByToken(ctx, "hash-c1-i1") },
		} {
			got, err := get()
			if err != nil || got != created {
				t.Fatalf("%s: %+v, %v; want %+v", what, got, err, created)
			}
		}
		if created.State(t0) != store.InvitationActive || created.State(created.ExpireTime) != store.InvitationExpired {
			t.Fatalf("states: %v at creation, %v at expiry", created.State(t0), created.State(created.ExpireTime))
		}
		if _, err := s.InvitationByToken(ctx, "hash-unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, err := s.GetInvitation(ctx, "c1", "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown invitation: %v", err)
		}
		if _, err := s.CreateInvitation(ctx, invitation("nochild", "i1", t0), 100, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("invitation to a missing child: %v", err)
		}
	}},
	{"invitations list newest first in stable pages", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustChild(t, s, "c2")
		mustInvitation(t, s, invitation("c2", "other", t0))
		for i := range 5 {
			// Two share a creation time: the id breaks the tie.
			mustInvitation(t, s, invitation("c1", fmt.Sprintf("i%d", i), t0.Add(time.Duration(i/2)*time.Minute)))
		}
		var got []string
		var after *store.InvitationCursor
		for {
			page, err := s.ListInvitations(ctx, "c1", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range page {
				got = append(got, i.ID)
			}
			if len(page) < 2 {
				break
			}
			last := page[len(page)-1]
			after = &store.InvitationCursor{CreateTime: last.CreateTime, ID: last.ID}
		}
		if fmt.Sprint(got) != "[i4 i3 i2 i1 i0]" {
			t.Fatalf("listed %v, want newest first", got)
		}
	}},
	{"active invitations are capped; used ones do not count", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		short := invitation("c1", "short", t0)
		short.ExpireTime = t0.Add(time.Minute)
		for _, inv := range []store.Invitation{short, invitation("c1", "revoked", t0), invitation("c1", "a", t0)} {
			if _, err := s.CreateInvitation(ctx, inv, 3, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RevokeInvitation(ctx, "c1", "revoked", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateInvitation(ctx, invitation("c1", "b", t0), 3, 0); err != nil {
			t.Fatal(err)
		}
		// short, a, b are active: full.
		if _, err := s.CreateInvitation(ctx, invitation("c1", "c", t0), 3, 0); !errors.Is(err, store.ErrLimit) {
			t.Fatalf("over the cap: %v", err)
		}
		// Once short has expired there is room again.
		if _, err := s.CreateInvitation(ctx, invitation("c1", "c", t0.Add(time.Minute)), 3, 0); err != nil {
			t.Fatalf("after one expired: %v", err)
		}
	}},
	{"one creator's cap; ByAdmin is kept", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		for _, id := range []string{"m1", "m2"} {
			if _, err := s.CreateInvitation(ctx, invitation("c1", id, t0), 100, 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateInvitation(ctx, invitation("c1", "m3", t0), 100, 2); !errors.Is(err, store.ErrCreatorLimit) {
			t.Fatalf("maria's third: %v", err)
		}
		root := invitation("c1", "r1", t0)
		root.Creator, root.ByAdmin = "root", true
		if _, err := s.CreateInvitation(ctx, root, 100, 2); err != nil {
			t.Fatalf("another creator: %v", err)
		}
		if got, err := s.GetInvitation(ctx, "c1", "r1"); err != nil || !got.ByAdmin {
			t.Fatalf("read back %+v, %v", got, err)
		}
	}},
	{"turning guardians_may_invite off revokes the guardians' links", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		if _, err := s.UpdateChild(ctx, "c1", 0, func(c *store.Child) error { c.GuardiansMayInvite = true; return nil }); err != nil {
			t.Fatal(err)
		}
		now := time.Now() // the store's clock stamps the update
		guardians, admins := invitation("c1", "g", now), invitation("c1", "a", now)
		admins.Creator, admins.ByAdmin = "root", true
		mustInvitation(t, s, guardians)
		mustInvitation(t, s, admins)
		// Changing something else keeps them.
		if _, err := s.UpdateChild(ctx, "c1", 0, func(c *store.Child) error { c.School = "Elm"; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetInvitation(ctx, "c1", "g"); !got.RevokeTime.IsZero() {
			t.Fatalf("revoked by another change: %+v", got)
		}
		if _, err := s.UpdateChild(ctx, "c1", 0, func(c *store.Child) error { c.GuardiansMayInvite = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetInvitation(ctx, "c1", "g"); got.RevokeTime.IsZero() {
			t.Errorf("a guardian's link lives on: %+v", got)
		}
		if got, _ := s.GetInvitation(ctx, "c1", "a"); !got.RevokeTime.IsZero() {
			t.Errorf("an administrator's link was revoked: %+v", got)
		}
	}},
	{"concurrent creates never pass the cap", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := range 8 {
			wg.Go(func() {
				_, err := s.CreateInvitation(ctx, invitation("c1", fmt.Sprintf("i%d", i), t0), 3, 0)
				switch {
				case err == nil:
					mu.Lock()
					created++
					mu.Unlock()
				case !errors.Is(err, store.ErrLimit):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if created != 3 {
			t.Fatalf("%d created, want the cap of 3", created)
		}
	}},
	{"revoking an invitation", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustInvitation(t, s, invitation("c1", "i1", t0))
		revoked, err := s.RevokeInvitation(ctx, "c1", "i1", t0.Add(time.Hour))
		if err != nil || revoked.State(t0.Add(time.Hour)) != store.InvitationRevoked || !revoked.RevokeTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("revoked: %+v, %v", revoked, err)
		}
		again, err := s.RevokeInvitation(ctx, "c1", "i1", t0.Add(2*time.Hour))
		if !errors.Is(err, store.ErrNotActive) || !again.RevokeTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("revoked twice: %+v, %v; want ErrNotActive and the first revoke time", again, err)
		}
		mustInvitation(t, s, invitation("c1", "old", t0))
		if got, err := s.RevokeInvitation(ctx, "c1", "old", t0.Add(8*24*time.Hour)); !errors.Is(err, store.ErrNotActive) || !got.RevokeTime.IsZero() {
			t.Fatalf("revoking an expired one: %+v, %v", got, err)
		}
		if _, err := s.RevokeInvitation(ctx, "c1", "nope", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking a missing one: %v", err)
		}
	}},
	{"redeeming grants the guardianship once", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		inv := mustInvitation(t, s, invitation("c1", "i1", t0))
		at := t0.Add(time.Hour)
		g, err := s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: "olga", Role: inv.Role, Relation: inv.Relation}, at)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetGuardianship(ctx, "c1", "olga")
		if err != nil || stored != g || g.Relation != "grandmother" || g.Role != store.RoleGuardian {
			t.Fatalf("guardianship %+v (stored %+v, %v)", g, stored, err)
		}
		used, _ := s.GetInvitation(ctx, "c1", "i1")
		if used.State(at) != store.InvitationRedeemed || used.Redeemer != "olga" || !used.RedeemTime.Equal(at) {
			t.Fatalf("after redeeming: %+v", used)
		}
		if _, err := s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: "ivan", Role: store.RoleGuardian}, at); !errors.Is(err, store.ErrNotActive) {
			t.Fatalf("second redeem: %v", err)
		}
		if _, err := s.GetGuardianship(ctx, "c1", "ivan"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the second redeemer got access: %v", err)
		}
	}},
	{"redeeming as a guardian leaves the invitation usable", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		if _, err := s.CreateGuardianship(ctx, store.Guardianship{ChildID: "c1", User: "olga", Role: store.RoleContributor}); err != nil {
			t.Fatal(err)
		}
		mustInvitation(t, s, invitation("c1", "i1", t0))
		if _, err := s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: "olga", Role: store.RoleGuardian}, t0); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("already a guardian: %v", err)
		}
		if g, _ := s.GetGuardianship(ctx, "c1", "olga"); g.Role != store.RoleContributor {
			t.Fatalf("the guardianship changed: %+v", g)
		}
		if inv, _ := s.GetInvitation(ctx, "c1", "i1"); inv.State(t0) != store.InvitationActive {
			t.Fatalf("the invitation was used up: %+v", inv)
		}
		if _, err := s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: "ivan", Role: store.RoleGuardian}, t0); err != nil {
			t.Fatalf("someone else redeems it: %v", err)
		}
	}},
	{"redeeming an expired or revoked invitation fails", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		inv := mustInvitation(t, s, invitation("c1", "i1", t0))
		if _, err := s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: "olga", Role: store.RoleGuardian}, inv.ExpireTime); !errors.Is(err, store.ErrNotActive) {
			t.Fatalf("expired: %v", err)
		}
		mustInvitation(t, s, invitation("c1", "i2", t0))
		if _, err := s.RevokeInvitation(ctx, "c1", "i2", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RedeemInvitation(ctx, "c1", "i2", store.Guardianship{User: "olga", Role: store.RoleGuardian}, t0); !errors.Is(err, store.ErrNotActive) {
			t.Fatalf("revoked: %v", err)
		}
		if _, err := s.GetGuardianship(ctx, "c1", "olga"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("access granted anyway: %v", err)
		}
	}},
	{"concurrent redeems: exactly one wins", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustInvitation(t, s, invitation("c1", "i1", t0))
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.RedeemInvitation(ctx, "c1", "i1", store.Guardianship{User: fmt.Sprintf("u%d", i), Role: store.RoleGuardian}, t0)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrNotActive):
				t.Errorf("a losing redeem: %v, want ErrNotActive", err)
			}
		}
		gs, err := s.Guardians(ctx, "c1")
		if won != 1 || err != nil || len(gs) != 1 {
			t.Fatalf("%d redeems won, %d guardians (%v); want one", won, len(gs), err)
		}
	}},
	{"a deleted child takes its invitations", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustInvitation(t, s, invitation("c1", "i1", t0))
		if err := s.DeleteChild(ctx, "c1", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InvitationByToken(ctx, "hash-c1-i1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the token still finds it: %v", err)
		}
		mustChild(t, s, "c1")
		if got, err := s.ListInvitations(ctx, "c1", nil, 10); err != nil || len(got) != 0 {
			t.Fatalf("a new child of the same id lists %v, %v", got, err)
		}
	}},
	{"guardians_may_invite round trip", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, err := s.CreateChild(ctx, store.Child{ID: "c1", DisplayName: "Ada", TimeZone: "UTC", GuardiansMayInvite: true})
		if err != nil || !c.GuardiansMayInvite {
			t.Fatalf("created %+v, %v", c, err)
		}
		if _, err := s.UpdateChild(ctx, "c1", 0, func(c *store.Child) error { c.GuardiansMayInvite = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetChild(ctx, "c1"); got.GuardiansMayInvite {
			t.Fatalf("after turning it off: %+v", got)
		}
	}},
}

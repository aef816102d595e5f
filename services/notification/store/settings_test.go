package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/notification/store"
)

func init() {
	contract = append(contract, settingsContract...)
}

var settingsContract = []struct {
	name string
	run  func(t *testing.T, s *store.SQL)
}{
	{"settings: the budget of confirmation links is counted in the database", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		st := store.DefaultSettings("mallory")
		st.Email, st.EmailState = "victim@example.com", store.EmailPending
		send := func(i int, at time.Time) error {
			_, err := s.UpdateSettings(ctx, st, store.AnyVersion, &store.EmailLink{Token: fmt.Sprintf("budget-%d", i),
				Expire: at.Add(24 * time.Hour), Sent: at, Budget: 2, Window: time.Hour})
			return err
		}
		if err := send(1, t0); err != nil {
			t.Fatal(err)
		}
		if err := send(2, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		before, _ := s.Settings(ctx, "mallory")
		if err := send(3, t0.Add(2*time.Minute)); !errors.Is(err, store.ErrLinkBudget) {
			t.Fatalf("the third within the hour: %v", err)
		}
		if after, _ := s.Settings(ctx, "mallory"); after.Version != before.Version {
			t.Fatalf("a refused link changed the settings: %+v -> %+v", before, after)
		}
		// Another user is not held back; an hour after the first, one more.
		other := store.DefaultSettings("maria")
		if _, err := s.UpdateSettings(ctx, other, store.AnyVersion, &store.EmailLink{Token: "budget-maria", Expire: t0.Add(time.Hour),
			Sent: t0, Budget: 2, Window: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if err := send(4, t0.Add(time.Hour)); err != nil {
			t.Fatalf("an hour later: %v", err)
		}
	}},
	{"settings: defaults, update, etag revision", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		got, err := s.Settings(ctx, "maria")
		if err != nil || got != store.DefaultSettings("maria") || got.Version != 0 {
			t.Fatalf("defaults: %+v %v", got, err)
		}
		next := got
		next.TimeZone, next.QuietStart, next.QuietEnd, next.DigestEnabled = "Europe/Lisbon", 22*60, 7*60, true
		saved, err := s.UpdateSettings(ctx, next, 0, nil)
		if err != nil || saved.Version != 1 || saved.TimeZone != "Europe/Lisbon" || saved.QuietStart != 1320 || saved.QuietEnd != 420 ||
			!saved.DigestEnabled || saved.UpdateTime.IsZero() || saved.EmailState != store.EmailNone {
			t.Fatalf("update: %+v %v", saved, err)
		}
		if again, _ := s.Settings(ctx, "maria"); again != saved {
			t.Fatalf("read back %+v, want %+v", again, saved)
		}
		if _, err := s.UpdateSettings(ctx, next, 7, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a stale version: %v, want ErrConflict", err)
		}
		if _, err := s.UpdateSettings(ctx, store.DefaultSettings("new"), 3, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a stale version: %v, want ErrConflict", err)
		}
		if saved, err = s.UpdateSettings(ctx, next, 1, nil); err != nil || saved.Version != 2 {
			t.Fatalf("the current version: %+v %v", saved, err)
		}
		if other, _ := s.Settings(ctx, "joao"); other != store.DefaultSettings("joao") {
			t.Fatalf("another user's settings changed: %+v", other)
		}
	}},
	{"settings: digest switch and candidates", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		if err := s.SetDigestEnabled(ctx, "ana", true); err != nil {
			t.Fatal(err)
		}
		st, _ := s.Settings(ctx, "ana")
		if !st.DigestEnabled || st.Version != 1 {
			t.Fatalf("digest on: %+v", st)
		}
		if err := s.SetDigestEnabled(ctx, "ana", true); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, "ana"); st.Version != 1 {
			t.Fatalf("a write that changes nothing moved the version: %+v", st)
		}
		// ana: digest on, no address. bea: on, confirmed. caio: on, from the
		// identity. dina: on, pending. edu: off, confirmed.
		link := &store.EmailLink{Token: "tok-bea", Expire: time.Now().Add(time.Hour)}
		confirmed := func(user string, digest bool) {
			t.Helper()
			st := store.DefaultSettings(user)
			st.DigestEnabled, st.Email, st.EmailState = digest, user+"@example.com", store.EmailPending
			if _, err := s.UpdateSettings(ctx, st, 0, &store.EmailLink{Token: "tok-" + user, Expire: link.Expire}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ConfirmEmail(ctx, "tok-"+user, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		confirmed("bea", true)
		confirmed("edu", false)
		if err := s.SetDigestEnabled(ctx, "caio", true); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordIdentityEmail(ctx, "caio", "caio@idp.example"); err != nil {
			t.Fatal(err)
		}
		dina := store.DefaultSettings("dina")
		dina.DigestEnabled, dina.Email, dina.EmailState = true, "dina@example.com", store.EmailPending
		if _, err := s.UpdateSettings(ctx, dina, 0, &store.EmailLink{Token: "tok-dina", Expire: link.Expire}); err != nil {
			t.Fatal(err)
		}
		all, err := s.DigestCandidates(ctx, "", 10)
		if err != nil || len(all) != 2 || all[0].User != "bea" || all[1].User != "caio" {
			t.Fatalf("candidates: %+v %v", all, err)
		}
		if all[0].Address() != "bea@example.com" || all[1].Address() != "caio@idp.example" || all[1].EmailState != store.EmailFromIdentity {
			t.Fatalf("addresses: %+v", all)
		}
		if page, _ := s.DigestCandidates(ctx, "bea", 1); len(page) != 1 || page[0].User != "caio" {
			t.Fatalf("after bea: %+v", page)
		}
		if err := s.SetDigestEnabled(ctx, "bea", false); err != nil {
			t.Fatal(err)
		}
		if page, _ := s.DigestCandidates(ctx, "", 10); len(page) != 1 || page[0].User != "caio" {
			t.Fatalf("after bea unsubscribed: %+v", page)
		}
	}},
	{"settings: the identity's address until the user sets one", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		if err := s.RecordIdentityEmail(ctx, "maria", "maria@idp.example"); err != nil {
			t.Fatal(err)
		}
		st, _ := s.Settings(ctx, "maria")
		if st.Email != "maria@idp.example" || st.EmailState != store.EmailFromIdentity || st.Address() != st.Email || st.Version != 1 {
			t.Fatalf("from the identity: %+v", st)
		}
		if err := s.RecordIdentityEmail(ctx, "maria", "maria@idp.example"); err != nil {
			t.Fatal(err)
		}
		// Writing the settings back as read keeps no address of the user's own.
		st.TimeZone = "Asia/Tokyo"
		if st, err := s.UpdateSettings(ctx, st, st.Version, nil); err != nil || st.EmailState != store.EmailFromIdentity || st.Version != 2 {
			t.Fatalf("written back: %+v %v", st, err)
		}
		st.Email, st.EmailState = "maria@home.example", store.EmailPending
		st, err := s.UpdateSettings(ctx, st, store.AnyVersion, &store.EmailLink{Token: "t1", Expire: time.Now().Add(time.Hour)})
		if err != nil || st.Email != "maria@home.example" || st.EmailState != store.EmailPending || st.IdentityEmail != "maria@idp.example" || st.Address() != "" {
			t.Fatalf("an address of her own: %+v %v", st, err)
		}
		st.Email = ""
		if st, err = s.UpdateSettings(ctx, st, store.AnyVersion, nil); err != nil || st.EmailState != store.EmailFromIdentity {
			t.Fatalf("her own address cleared: %+v %v", st, err)
		}
		if _, err := s.ConfirmEmail(ctx, "t1", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the link of a cleared address: %v, want ErrNotFound", err)
		}
		if err := s.RecordIdentityEmail(ctx, "maria", ""); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, "maria"); st.EmailState != store.EmailNone || st.Email != "" {
			t.Fatalf("identity forgotten: %+v", st)
		}
	}},
	{"settings: confirmation links are single-use, expire, and die with their address", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		now := time.Now()
		set := func(email, token string) {
			t.Helper()
			st, _ := s.Settings(ctx, "maria")
			st.Email, st.EmailState = email, store.EmailPending
			if _, err := s.UpdateSettings(ctx, st, st.Version, &store.EmailLink{Token: token, Expire: now.Add(24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		set("a@example.com", "first")
		set("b@example.com", "second")
		if _, err := s.ConfirmEmail(ctx, "first", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the link of a replaced address: %v", err)
		}
		if _, err := s.ConfirmEmail(ctx, "nonsense", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown token: %v", err)
		}
		if _, err := s.ConfirmEmail(ctx, "second", now.Add(24*time.Hour)); !errors.Is(err, store.ErrLinkExpired) {
			t.Fatalf("an expired link: %v", err)
		}
		st, err := s.ConfirmEmail(ctx, "second", now.Add(time.Hour))
		if err != nil || st.User != "maria" || st.Email != "b@example.com" || st.EmailState != store.EmailConfirmed {
			t.Fatalf("confirm: %+v %v", st, err)
		}
		if _, err := s.ConfirmEmail(ctx, "second", now.Add(time.Hour)); !errors.Is(err, store.ErrLinkUsed) {
			t.Fatalf("a used link: %v", err)
		}
		// Two uses racing: one wins.
		set("c@example.com", "third")
		var won, spent atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.ConfirmEmail(ctx, "third", now)
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, store.ErrLinkUsed):
					spent.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || spent.Load() != 7 {
			t.Fatalf("%d uses won, %d found it spent; want 1 and 7", won.Load(), spent.Load())
		}
		set("d@example.com", "fourth")
		if n, err := s.ExpireEmailLinks(ctx, now.Add(25*time.Hour)); err != nil || n != 1 {
			t.Fatalf("expire links: %d %v", n, err)
		}
		if _, err := s.ConfirmEmail(ctx, "fourth", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a deleted link: %v", err)
		}
	}},
	{"settings: concurrent writers with the same version: one wins", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		base, err := s.UpdateSettings(ctx, store.DefaultSettings("maria"), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				next := base
				next.TimeZone = fmt.Sprintf("Etc/GMT+%d", i+1)
				if _, err := s.UpdateSettings(ctx, next, base.Version, nil); err == nil {
					won.Add(1)
				} else if !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d writers won", won.Load())
		}
	}},
}

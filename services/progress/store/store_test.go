package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// TestContract runs the same suite on every implementation: SQLite always,
// PostgreSQL when reachable (required in CI).
func TestContract(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "progress.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					db, err := sqldb.Open(ctx, dsn(t), sqldb.Options{Migrations: store.Migrations()})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					tc.run(t, store.NewSQL(db))
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"child round trip", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		in := store.Child{ID: "c1", DisplayName: "Ada", BirthDate: "2018-04-02", School: "Hill", GradeLevel: "2", TimeZone: "Europe/Lisbon"}
		created, err := s.CreateChild(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if created.Revision != 1 || created.CreateTime.IsZero() || !created.CreateTime.Equal(created.UpdateTime) {
			t.Fatalf("created = %+v", created)
		}
		got, err := s.GetChild(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if got != created {
			t.Fatalf("read back %+v, want %+v", got, created)
		}
		if _, err := s.CreateChild(ctx, in); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate id: %v", err)
		}
		if _, err := s.GetChild(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing child: %v", err)
		}
	}},
	{"update is revision checked", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		rename := func(name string) func(*store.Child) error {
			return func(c *store.Child) error { c.DisplayName = name; return nil }
		}
		updated, err := s.UpdateChild(ctx, "c1", 1, rename("Bea"))
		if err != nil {
			t.Fatal(err)
		}
		if updated.Revision != 2 || updated.DisplayName != "Bea" {
			t.Fatalf("updated = %+v", updated)
		}
		if _, err := s.UpdateChild(ctx, "c1", 1, rename("Cy")); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale update: %v", err)
		}
		if got, _ := s.GetChild(ctx, "c1"); got.DisplayName != "Bea" {
			t.Fatalf("stale update changed the row: %+v", got)
		}
		if _, err := s.UpdateChild(ctx, "c1", 0, rename("Cy")); err != nil {
			t.Fatalf("unpinned update: %v", err)
		}
		if _, err := s.UpdateChild(ctx, "nope", 0, rename("X")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing child: %v", err)
		}
		failing := errors.New("refused")
		if _, err := s.UpdateChild(ctx, "c1", 0, func(*store.Child) error { return failing }); !errors.Is(err, failing) {
			t.Fatalf("change error: %v", err)
		}
	}},
	{"delete cascades and is revision checked", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustGuardian(t, s, "c1", "u1", store.RoleGuardian)
		if err := s.DeleteChild(ctx, "c1", 7); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := s.DeleteChild(ctx, "c1", 1); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild(ctx, "c1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.GetGuardianship(ctx, "c1", "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("guardianship survived its child: %v", err)
		}
		if role, exists, err := s.Role(ctx, "c1", "u1"); err != nil || exists || role != store.RoleNone {
			t.Fatalf("role after delete = %v %v %v", role, exists, err)
		}
	}},
	{"guardianships and roles", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		if _, err := s.CreateGuardianship(ctx, store.Guardianship{ChildID: "none", User: "u1", Role: store.RoleGuardian}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("guardianship of a missing child: %v", err)
		}
		mustGuardian(t, s, "c1", "u1", store.RoleGuardian)
		if _, err := s.CreateGuardianship(ctx, store.Guardianship{ChildID: "c1", User: "u1", Role: store.RoleContributor}); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate guardianship: %v", err)
		}
		if role, exists, err := s.Role(ctx, "c1", "u1"); err != nil || !exists || role != store.RoleGuardian {
			t.Fatalf("role = %v %v %v", role, exists, err)
		}
		if role, exists, err := s.Role(ctx, "c1", "stranger"); err != nil || !exists || role != store.RoleNone {
			t.Fatalf("stranger role = %v %v %v", role, exists, err)
		}
		g, err := s.UpdateGuardianship(ctx, "c1", "u1", 1, func(g *store.Guardianship) error { g.Role = store.RoleContributor; return nil })
		if err != nil || g.Role != store.RoleContributor || g.Revision != 2 {
			t.Fatalf("update = %+v, %v", g, err)
		}
		if _, err := s.UpdateGuardianship(ctx, "c1", "u1", 1, func(*store.Guardianship) error { return nil }); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale update: %v", err)
		}
		if err := s.DeleteGuardianship(ctx, "c1", "u1", 1, time.Now()); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := s.DeleteGuardianship(ctx, "c1", "u1", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGuardianship(ctx, "c1", "u1", 0, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	}},
	{"pages are complete and stable", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i := range 25 {
			mustChild(t, s, fmt.Sprintf("c%02d", i))
			if i%2 == 0 {
				mustGuardian(t, s, fmt.Sprintf("c%02d", i), "parent", store.RoleGuardian)
			}
		}
		for _, user := range []string{"", "parent"} {
			seen := map[string]bool{}
			var after *store.ChildCursor
			for page := 0; ; page++ {
				got, err := s.ListChildren(ctx, store.ListChildrenQuery{User: user, After: after, Limit: 4})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				// A row inserted mid-listing sorts after the cursor and must not
				// displace or repeat anything already listed.
				if page == 1 {
					mustChild(t, s, fmt.Sprintf("late%d", len(user)))
				}
				for _, c := range got {
					if seen[c.ID] {
						t.Fatalf("user %q: %s listed twice", user, c.ID)
					}
					seen[c.ID] = true
				}
				last := got[len(got)-1]
				after = &store.ChildCursor{CreateTime: last.CreateTime, ID: last.ID}
			}
			for i := range 25 {
				id := fmt.Sprintf("c%02d", i)
				if want := user == "" || i%2 == 0; seen[id] != want {
					t.Errorf("user %q: listed %s = %v, want %v", user, id, seen[id], want)
				}
			}
		}
		gs, err := s.ListGuardianships(ctx, "c00", "", 10)
		if err != nil || len(gs) != 1 || gs[0].User != "parent" {
			t.Fatalf("guardianships = %+v, %v", gs, err)
		}
	}},
	{"followed children", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if got, err := s.FollowedChildren(ctx, "teacher", 10); err != nil || len(got) != 0 {
			t.Fatalf("a user with no guardianships follows %+v, %v", got, err)
		}
		// Ids out of alphabetical order, so creation order is what sorts them.
		var created []store.Child
		for _, id := range []string{"zz", "mm", "aa", "gone", "bb"} {
			created = append(created, mustChild(t, s, id))
			if _, err := s.CreateGuardianship(ctx, store.Guardianship{ChildID: id, User: "teacher", Role: store.RoleContributor, Relation: "teacher"}); err != nil {
				t.Fatal(err)
			}
		}
		mustChild(t, s, "other")
		mustGuardian(t, s, "other", "parent", store.RoleGuardian)
		mustGuardian(t, s, "mm", "parent", store.RoleGuardian)
		if _, err := s.UpdateGuardianship(ctx, "aa", "teacher", 0, func(g *store.Guardianship) error {
			g.Role, g.Relation = store.RoleGuardian, "aunt"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild(ctx, "gone", 0); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGuardianship(ctx, "bb", "teacher", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Creation order, ties (one microsecond) by id: as ListChildren.
		created = slices.DeleteFunc(created, func(c store.Child) bool { return c.ID == "gone" || c.ID == "bb" })
		slices.SortFunc(created, func(a, b store.Child) int {
			return cmp.Or(a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
		})
		var want []store.FollowedChild
		for _, c := range created {
			f := store.FollowedChild{ChildID: c.ID, DisplayName: c.DisplayName, Role: store.RoleContributor, Relation: "teacher"}
			if c.ID == "aa" {
				f.Role, f.Relation = store.RoleGuardian, "aunt"
			}
			want = append(want, f)
		}
		got, err := s.FollowedChildren(ctx, "teacher", 10)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("teacher follows %+v, %v; want %+v", got, err, want)
		}
		if got, err := s.FollowedChildren(ctx, "teacher", 2); err != nil || !slices.Equal(got, want[:2]) {
			t.Fatalf("limited to 2: %+v, %v; want %+v", got, err, want[:2])
		}
		if got, err := s.FollowedChildren(ctx, "parent", 10); err != nil || len(got) != 2 || got[0].ChildID != "mm" || got[1].ChildID != "other" {
			t.Fatalf("parent follows %+v, %v", got, err)
		}
	}},
}

func mustChild(t *testing.T, s store.Store, id string) store.Child {
	t.Helper()
	c, err := s.CreateChild(context.Background(), store.Child{ID: id, DisplayName: "Child " + id, TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustGuardian(t *testing.T, s store.Store, child, user string, role store.Role) {
	t.Helper()
	if _, err := s.CreateGuardianship(context.Background(), store.Guardianship{ChildID: child, User: user, Role: role}); err != nil {
		t.Fatal(err)
	}
}

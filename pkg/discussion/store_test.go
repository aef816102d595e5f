package discussion_test

import (
	"context"
	"embed"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/discussion"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

//go:embed testdata/migrations/*.sql
var schema embed.FS

var tables = discussion.Tables{Items: "items", Comments: "item_comments", Reactions: "item_reactions"}

// env is one backend with the store and helpers on its items.
type env struct {
	db    *sqldb.DB
	store *discussion.Store
	clock time.Time
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

func (e *env) outboxRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox_messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func msg() outbox.Message { return outbox.Message{Key: "children/c1", Payload: []byte("event")} }

// TestStoreContract runs one suite on SQLite always and PostgreSQL when
// reachable.
func TestStoreContract(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "d.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					db, err := sqldb.Open(ctx, dsn(t), sqldb.Options{Migrations: sqldb.MigrationsDir(schema, "testdata/migrations")})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					if err := outbox.Migrate(ctx, db); err != nil {
						t.Fatal(err)
					}
					e := &env{db: db, store: discussion.NewStore(db, tables), clock: time.Unix(1_700_000_000, 0)}
					var mu sync.Mutex
					e.store.SetClock(func() time.Time {
						mu.Lock()
						defer mu.Unlock()
						e.clock = e.clock.Add(time.Second)
						return e.clock
					})
					e.exec(t, `INSERT INTO items (child_id, id) VALUES ('c1', 'i1'), ('c1', 'i2'), ('c2', 'i1')`)
					tc.run(t, e)
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"comments round trip, oldest first, paged", func(t *testing.T, e *env) {
		ctx := context.Background()
		var made []discussion.Comment
		for _, text := range []string{"one", "two", "three"} {
			c, err := e.store.AddComment(ctx, discussion.Comment{ChildID: "c1", ItemID: "i1", Author: "ann", Text: text}, msg())
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, c)
		}
		if n := e.outboxRows(t); n != 3 {
			t.Fatalf("outbox rows = %d, want 3 (one per comment, same transaction)", n)
		}
		got, err := e.store.GetComment(ctx, "c1", "i1", made[1].ID)
		if err != nil || got != made[1] {
			t.Fatalf("get = %+v, %v; want %+v", got, err, made[1])
		}
		page, err := e.store.ListComments(ctx, "c1", "i1", nil, 2)
		if err != nil || len(page) != 2 || page[0].Text != "one" || page[1].Text != "two" {
			t.Fatalf("first page = %+v, %v", page, err)
		}
		last := page[1]
		page, err = e.store.ListComments(ctx, "c1", "i1", &discussion.CommentCursor{CreateTime: last.CreateTime.UnixMicro(), ID: last.ID}, 2)
		if err != nil || len(page) != 1 || page[0].Text != "three" {
			t.Fatalf("second page = %+v, %v", page, err)
		}
		if other, _ := e.store.ListComments(ctx, "c2", "i1", nil, 10); len(other) != 0 {
			t.Fatalf("another child's item lists %+v", other)
		}
	}},
	{"a comment on a missing item is not found and not announced", func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.store.AddComment(ctx, discussion.Comment{ChildID: "c1", ItemID: "nope", Author: "ann", Text: "hi"}, msg())
		if !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if n := e.outboxRows(t); n != 0 {
			t.Fatalf("outbox rows = %d, want 0", n)
		}
		if ok, err := e.store.ItemExists(ctx, "c1", "nope"); ok || err != nil {
			t.Fatalf("ItemExists = %v, %v", ok, err)
		}
	}},
	{"delete comment", func(t *testing.T, e *env) {
		ctx := context.Background()
		c, err := e.store.AddComment(ctx, discussion.Comment{ChildID: "c1", ItemID: "i1", Author: "ann", Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.DeleteComment(ctx, "c1", "i1", c.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.store.DeleteComment(ctx, "c1", "i1", c.ID); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := e.store.GetComment(ctx, "c1", "i1", c.ID); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
	}},
	{"only a user's first reaction is announced", func(t *testing.T, e *env) {
		ctx := context.Background()
		r, first, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindHeart}, msg())
		if err != nil || !first || r.Kind != discussion.KindHeart || r.CreateTime.IsZero() {
			t.Fatalf("first set = %+v, %v, %v", r, first, err)
		}
		r2, first, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindClap}, msg())
		if err != nil || first || r2.Kind != discussion.KindClap || !r2.CreateTime.Equal(r.CreateTime) || !r2.UpdateTime.After(r.UpdateTime) {
			t.Fatalf("replace = %+v, %v, %v", r2, first, err)
		}
		if err := e.store.DeleteReaction(ctx, "c1", "i1", "ann"); err != nil {
			t.Fatal(err)
		}
		if err := e.store.DeleteReaction(ctx, "c1", "i1", "ann"); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := e.store.GetReaction(ctx, "c1", "i1", "ann"); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("removed reaction reads %v", err)
		}
		if _, first, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindStar}, msg()); err != nil || first {
			t.Fatalf("set again after removal: first=%v, %v", first, err)
		}
		if n := e.outboxRows(t); n != 1 {
			t.Fatalf("outbox rows = %d, want 1", n)
		}
		if _, _, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "gone", User: "ann", Kind: discussion.KindStar}, msg()); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("reaction to a missing item: %v", err)
		}
	}},
	{"reactions list and summaries", func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, r := range []discussion.Reaction{
			{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindHeart},
			{ChildID: "c1", ItemID: "i1", User: "bob", Kind: discussion.KindHeart},
			{ChildID: "c1", ItemID: "i1", User: "cy", Kind: discussion.KindWow},
			{ChildID: "c1", ItemID: "i2", User: "bob", Kind: discussion.KindStar},
			{ChildID: "c2", ItemID: "i1", User: "ann", Kind: discussion.KindClap},
		} {
			if _, _, err := e.store.SetReaction(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.store.DeleteReaction(ctx, "c1", "i1", "cy"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.AddComment(ctx, discussion.Comment{ChildID: "c1", ItemID: "i2", Author: "ann", Text: "x"}); err != nil {
			t.Fatal(err)
		}
		page, err := e.store.ListReactions(ctx, "c1", "i1", "", 1)
		if err != nil || len(page) != 1 || page[0].User != "ann" {
			t.Fatalf("first page = %+v, %v", page, err)
		}
		page, err = e.store.ListReactions(ctx, "c1", "i1", "ann", 10)
		if err != nil || len(page) != 1 || page[0].User != "bob" {
			t.Fatalf("second page = %+v, %v (the removed one is not listed)", page, err)
		}
		ids := []string{"i1", "i2", "none"}
		for i := range 60 { // more than one query's chunk
			ids = append(ids, "x"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		}
		sums, err := e.store.Summaries(ctx, "c1", ids, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if s := sums["i1"]; s.Counts[discussion.KindHeart] != 2 || s.Counts[discussion.KindWow] != 0 || s.Mine != discussion.KindHeart || s.Comments != 0 {
			t.Fatalf("i1 summary = %+v", s)
		}
		if s := sums["i2"]; s.Counts[discussion.KindStar] != 1 || s.Mine != discussion.KindStar || s.Comments != 1 {
			t.Fatalf("i2 summary = %+v", s)
		}
		if s, ok := sums["none"]; !ok || s != (discussion.Summary{}) || len(sums) != len(ids) {
			t.Fatalf("summaries = %+v", sums)
		}
	}},
	{"deleting the item deletes its conversation", func(t *testing.T, e *env) {
		ctx := context.Background()
		c, err := e.store.AddComment(ctx, discussion.Comment{ChildID: "c1", ItemID: "i1", Author: "ann", Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindHeart}); err != nil {
			t.Fatal(err)
		}
		e.exec(t, `DELETE FROM items WHERE child_id = 'c1' AND id = 'i1'`)
		e.exec(t, `INSERT INTO items (child_id, id) VALUES ('c1', 'i1')`) // the same id again: a new item
		if _, err := e.store.GetComment(ctx, "c1", "i1", c.ID); !errors.Is(err, discussion.ErrNotFound) {
			t.Fatalf("comment outlived its item: %v", err)
		}
		if _, first, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i1", User: "ann", Kind: discussion.KindHeart}); err != nil || !first {
			t.Fatalf("reaction outlived its item: first=%v, %v", first, err)
		}
	}},
	{"concurrent first reactions of one user: one row, one announcement", func(t *testing.T, e *env) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				kind := discussion.Kind(1 + i%5)
				if _, _, err := e.store.SetReaction(ctx, discussion.Reaction{ChildID: "c1", ItemID: "i2", User: "ann", Kind: kind}, msg()); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := e.outboxRows(t); n != 1 {
			t.Fatalf("outbox rows = %d, want 1", n)
		}
		if page, _ := e.store.ListReactions(ctx, "c1", "i2", "", 10); len(page) != 1 {
			t.Fatalf("reactions = %+v", page)
		}
	}},
}

package store_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

func init() {
	contract = append(contract, approvalContract...)
}

// announced records what an approval announced.
type announced[T any] struct{ rows []T }

func (a *announced[T]) announce(row T) []outbox.Message {
	a.rows = append(a.rows, row)
	return nil // the contract suite's databases have no outbox: the service tests read the events
}

var approvalContract = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"access says whether the child requires approval", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustGuardian(t, s, "c1", "teacher", store.RoleContributor)
		check := func(user string, wantRole store.Role, wantExists, wantApproval bool) {
			t.Helper()
			role, exists, approval, err := s.Access(ctx, "c1", user)
			if err != nil || role != wantRole || exists != wantExists || approval != wantApproval {
				t.Fatalf("Access(c1, %s) = %v %v %v %v; want %v %v %v", user, role, exists, approval, err, wantRole, wantExists, wantApproval)
			}
		}
		check("teacher", store.RoleContributor, true, false)
		c, err := s.UpdateChild(ctx, "c1", 0, func(c *store.Child) error { c.RequireApproval = true; return nil })
		if err != nil || !c.RequireApproval {
			t.Fatalf("update = %+v, %v", c, err)
		}
		if got, err := s.GetChild(ctx, "c1"); err != nil || !got.RequireApproval {
			t.Fatalf("read back = %+v, %v", got, err)
		}
		check("teacher", store.RoleContributor, true, true)
		check("stranger", store.RoleNone, true, true)
		if role, exists, approval, err := s.Access(ctx, "nope", "teacher"); err != nil || exists || approval || role != store.RoleNone {
			t.Fatalf("missing child: %v %v %v %v", role, exists, approval, err)
		}
		// Role agrees with Access.
		if role, exists, err := s.Role(ctx, "c1", "teacher"); err != nil || !exists || role != store.RoleContributor {
			t.Fatalf("Role = %v %v %v", role, exists, err)
		}
	}},
	{"a draft assessment is approved once", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		draft := assessment("c1", "a1", "Math", "2026-03-01")
		draft.State = store.Draft
		created, _, err := s.CreateAssessment(ctx, draft)
		if err != nil || created.State != store.Draft {
			t.Fatalf("create = %+v, %v", created, err)
		}
		if _, _, err := s.CreateAssessment(ctx, assessment("c1", "a2", "Math", "2026-03-02")); err != nil {
			t.Fatal(err)
		}
		states := func(state store.PublishState) []string {
			t.Helper()
			rows, err := s.ListAssessments(ctx, store.AssessmentQuery{ChildID: "c1", State: state})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range rows {
				ids = append(ids, a.ID)
			}
			return ids
		}
		if got := strings.Join(states(store.Draft), ","); got != "a1" {
			t.Fatalf("drafts = %s", got)
		}
		if got := strings.Join(states(store.Published), ","); got != "a2" {
			t.Fatalf("published = %s (a state of zero is stored as published)", got)
		}
		if got := strings.Join(states(0), ","); got != "a1,a2" {
			t.Fatalf("all = %s", got)
		}

		rev := revision(t, s, "c1")
		var ann announced[store.Assessment]
		if _, err := s.ApproveAssessment(ctx, "c1", "a1", "bob", 7, ann.announce); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale approval: %v", err)
		}
		approved, err := s.ApproveAssessment(ctx, "c1", "a1", "bob", created.Revision, ann.announce)
		if err != nil {
			t.Fatal(err)
		}
		if approved.State != store.Published || approved.ApprovedBy != "bob" || approved.ApproveTime.IsZero() ||
			approved.Revision != created.Revision+1 || approved.Title != draft.Title || approved.RecordedBy != "teacher" {
			t.Fatalf("approved = %+v", approved)
		}
		if len(ann.rows) != 1 || ann.rows[0] != approved {
			t.Fatalf("announced %+v, want the approved row once", ann.rows)
		}
		if got, err := s.GetAssessment(ctx, "c1", "a1"); err != nil || got != approved {
			t.Fatalf("read back %+v, %v; want %+v", got, err, approved)
		}
		if after := revision(t, s, "c1"); after <= rev {
			t.Fatalf("progress revision %d -> %d: summaries would not see the approval", rev, after)
		}
		if _, err := s.ApproveAssessment(ctx, "c1", "a1", "carl", 0, ann.announce); !errors.Is(err, store.ErrAlreadyPublished) {
			t.Fatalf("second approval: %v", err)
		}
		if _, err := s.ApproveAssessment(ctx, "c1", "a2", "carl", 0, ann.announce); !errors.Is(err, store.ErrAlreadyPublished) {
			t.Fatalf("approving a record published at once: %v", err)
		}
		if _, err := s.ApproveAssessment(ctx, "c1", "nope", "carl", 0, ann.announce); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("approving a missing record: %v", err)
		}
		if len(ann.rows) != 1 {
			t.Fatalf("refused approvals announced: %+v", ann.rows)
		}
		// An update keeps the approval.
		updated, err := s.UpdateAssessment(ctx, "c1", "a1", 0, func(a *store.Assessment) error { a.Title = "retitled"; return nil }, nil)
		if err != nil || updated.Approval != approved.Approval {
			t.Fatalf("update = %+v, %v", updated, err)
		}
		// An update may make it a draft again, with its editor, which
		// drops the approval; it may not publish; an approval forgets the
		// editor.
		redrafted, err := s.UpdateAssessment(ctx, "c1", "a1", 0, func(a *store.Assessment) error {
			a.Title, a.State, a.EditedBy = "rewritten", store.Draft, "dan"
			return nil
		}, nil)
		want := store.Approval{State: store.Draft, EditedBy: "dan"}
		if got, rerr := s.GetAssessment(ctx, "c1", "a1"); err != nil || redrafted.Approval != want || rerr != nil || got.Approval != want {
			t.Fatalf("redrafted = %+v, %v; read back %+v, %v", redrafted.Approval, err, got.Approval, rerr)
		}
		sneaky, err := s.UpdateAssessment(ctx, "c1", "a1", 0, func(a *store.Assessment) error {
			a.Approval = store.Approval{State: store.Published, ApprovedBy: "dan"}
			return nil
		}, nil)
		if err != nil || sneaky.Approval != want {
			t.Fatalf("an update that publishes = %+v, %v", sneaky.Approval, err)
		}
		again, err := s.ApproveAssessment(ctx, "c1", "a1", "carl", 0, ann.announce)
		if err != nil || again.State != store.Published || again.EditedBy != "" {
			t.Fatalf("approving the edit = %+v, %v", again.Approval, err)
		}
	}},
	{"a draft milestone is approved once", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		m := store.Milestone{ChildID: "c1", ID: "m1", Title: "Reads", AchievedDate: "2026-03-01", RecordedBy: "teacher",
			Approval: store.Approval{State: store.Draft}}
		if _, _, err := s.CreateMilestone(ctx, m); err != nil {
			t.Fatal(err)
		}
		if rows, err := s.ListMilestones(ctx, store.MilestoneQuery{ChildID: "c1", State: store.Published}); err != nil || len(rows) != 0 {
			t.Fatalf("published milestones = %+v, %v", rows, err)
		}
		var ann announced[store.Milestone]
		approved, err := s.ApproveMilestone(ctx, "c1", "m1", "bob", 0, ann.announce)
		if err != nil || approved.State != store.Published || approved.ApprovedBy != "bob" || approved.ApproveTime.IsZero() {
			t.Fatalf("approve = %+v, %v", approved, err)
		}
		if len(ann.rows) != 1 || ann.rows[0] != approved {
			t.Fatalf("announced %+v", ann.rows)
		}
		if _, err := s.ApproveMilestone(ctx, "c1", "m1", "bob", 0, ann.announce); !errors.Is(err, store.ErrAlreadyPublished) {
			t.Fatalf("second approval: %v", err)
		}
		if rows, err := s.ListMilestones(ctx, store.MilestoneQuery{ChildID: "c1", State: store.Published}); err != nil || len(rows) != 1 {
			t.Fatalf("published milestones = %+v, %v", rows, err)
		}
	}},
}

// TestApprovalMigration: what was recorded before 0005 stays visible to
// guardians: published, with no approver.
func TestApprovalMigration(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "progress.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := dsn(t)
			before := fstest.MapFS{}
			err := fs.WalkDir(store.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || path >= "0005" {
					return err
				}
				b, err := fs.ReadFile(store.Migrations(), path)
				before[path] = &fstest.MapFile{Data: b}
				return err
			})
			if err != nil || len(before) == 0 {
				t.Fatalf("migrations before 0005: %v, %v", before, err)
			}
			old, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: before})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO children (id, display_name, create_time, update_time, revision) VALUES ('c1', 'Ada', 1, 1, 1)`,
				`INSERT INTO assessments (child_id, id, subject, title, kind, assessed_date, recorded_by, create_time, update_time, revision)
				 VALUES ('c1', 'a1', 'Math', 'Quiz', 1, '2026-03-01', 'teacher', 1, 1, 1)`,
				`INSERT INTO milestones (child_id, id, title, achieved_date, recorded_by, create_time, update_time, revision)
				 VALUES ('c1', 'm1', 'Reads', '2026-03-01', 'teacher', 1, 1, 1)`,
			} {
				if _, err := old.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()

			db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: store.Migrations()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s := store.NewSQL(db)
			if c, err := s.GetChild(ctx, "c1"); err != nil || c.RequireApproval {
				t.Fatalf("child = %+v, %v", c, err)
			}
			want := store.Approval{State: store.Published}
			if a, err := s.GetAssessment(ctx, "c1", "a1"); err != nil || a.Approval != want {
				t.Fatalf("assessment = %+v, %v", a, err)
			}
			if m, err := s.GetMilestone(ctx, "c1", "m1"); err != nil || m.Approval != want {
				t.Fatalf("milestone = %+v, %v", m, err)
			}
		})
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/progress/store"
	"github.com/kinbridge/kinbridge/services/progress/summary"
)

func init() {
	contract = append(contract, recordsContract...)
}

func assessment(child, id, subject, date string) store.Assessment {
	return store.Assessment{ChildID: child, ID: id, Subject: subject, Title: "quiz " + id, Kind: 1, AssessedDate: date, RecordedBy: "teacher",
		Score: store.Score{Kind: store.ScoredPoints, Earned: 18, Possible: 20}}
}

func revision(t *testing.T, s store.Store, child string) int64 {
	t.Helper()
	rev, err := s.ProgressRevision(context.Background(), child)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

var recordsContract = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"the summary's worked example from stored rows", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		rows := []store.Assessment{
			assessment("c1", "a1", "Math", "2026-03-01"),
			assessment("c1", "a2", "Math", "2026-03-15"),
			assessment("c1", "a3", "Math", "2026-03-31"),
			assessment("c1", "a4", "Math", "2026-04-01"), // outside the window
		}
		rows[1].Score = store.Score{Kind: store.ScoredLetter, Letter: "B+"}
		rows[2].Score = store.Score{Kind: store.ScoredPoints, Earned: 70, Possible: 100}
		for _, a := range rows {
			if _, _, err := s.CreateAssessment(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ListAssessments(ctx, store.AssessmentQuery{ChildID: "c1", StartDate: "2026-03-01", EndDate: "2026-03-31"})
		if err != nil {
			t.Fatal(err)
		}
		var entries []summary.Entry
		for _, a := range got {
			var p float64
			switch a.Score.Kind {
			case store.ScoredPoints:
				p, _ = summary.PointsPercent(a.Score.Earned, a.Score.Possible)
			case store.ScoredLetter:
				p, _ = summary.LetterPercent(summary.DefaultScale(), a.Score.Letter)
			}
			day, err := time.Parse(time.DateOnly, a.AssessedDate)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, summary.Entry{Subject: a.Subject, Date: day, Percent: &p, Recorded: a.CreateTime})
		}
		_, overall := summary.Summarize(entries)
		if overall.Count != 3 || *overall.Latest != 70 || *overall.Mean != 82.33 || *overall.Trend != -20.28 {
			t.Fatalf("from stored rows: count %d latest %v mean %v trend %v; want 3, 70, 82.33, -20.28",
				overall.Count, *overall.Latest, *overall.Mean, *overall.Trend)
		}
	}},
	{"assessments round trip and raise the progress revision", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		rev0 := revision(t, s, "c1")
		in := assessment("c1", "a1", "Math", "2026-03-01")
		in.TeacherComment = "Well done"
		a, created, err := s.CreateAssessment(ctx, in)
		if err != nil || !created || a.Revision != 1 {
			t.Fatalf("create: %+v %v %v", a, created, err)
		}
		got, err := s.GetAssessment(ctx, "c1", "a1")
		if err != nil || got != a {
			t.Fatalf("read back %+v, %v; want %+v", got, err, a)
		}
		letter := assessment("c1", "a2", "Math", "2026-03-15")
		letter.Score = store.Score{Kind: store.ScoredLetter, Letter: "B+"}
		if _, _, err := s.CreateAssessment(ctx, letter); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAssessment(ctx, "c1", "a2"); got.Score != letter.Score {
			t.Fatalf("letter score %+v", got.Score)
		}
		rev1 := revision(t, s, "c1")
		if rev1 != rev0+2 {
			t.Fatalf("revision %d after two creates from %d", rev1, rev0)
		}
		if _, _, err := s.CreateAssessment(ctx, assessment("nochild", "a9", "Math", "2026-03-01")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("assessment of a missing child: %v", err)
		}
		if _, err := s.UpdateAssessment(ctx, "c1", "a1", 7, func(*store.Assessment) error { return nil }, nil); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale update: %v", err)
		}
		if revision(t, s, "c1") != rev1 {
			t.Fatal("a refused update raised the revision")
		}
		up, err := s.UpdateAssessment(ctx, "c1", "a1", 1, func(a *store.Assessment) error { a.Score.Earned = 10; return nil }, nil)
		if err != nil || up.Score.Earned != 10 || up.Revision != 2 || up.RecordedBy != "teacher" {
			t.Fatalf("update: %+v %v", up, err)
		}
		if err := s.DeleteAssessment(ctx, "c1", "a1", 1); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := s.DeleteAssessment(ctx, "c1", "a1", 2); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAssessment(ctx, "c1", "a1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if revision(t, s, "c1") != rev1+2 {
			t.Fatalf("revision %d after an update and a delete from %d", revision(t, s, "c1"), rev1)
		}
	}},
	{"a replayed request id returns the first record", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		mustChild(t, s, "c2")
		first := assessment("c1", "a1", "Math", "2026-03-01")
		first.RequestID = "req-1"
		a, created, err := s.CreateAssessment(ctx, first)
		if err != nil || !created {
			t.Fatal(err)
		}
		again := assessment("c1", "a2", "Art", "2026-03-02")
		again.RequestID = "req-1"
		b, created, err := s.CreateAssessment(ctx, again)
		if err != nil || created || b != a {
			t.Fatalf("replay gave %+v created=%v %v; want the first %+v", b, created, err, a)
		}
		other := assessment("c2", "a3", "Math", "2026-03-01")
		other.RequestID = "req-1" // request ids are per child
		if _, created, err := s.CreateAssessment(ctx, other); err != nil || !created {
			t.Fatalf("same request id on another child: %v %v", created, err)
		}
		m := store.Milestone{ChildID: "c1", ID: "m1", Title: "First book", AchievedDate: "2026-02-01", RecordedBy: "t", RequestID: "req-1"}
		m1, created, err := s.CreateMilestone(ctx, m)
		if err != nil || !created {
			t.Fatal(err)
		}
		m.ID, m.Title = "m2", "Second"
		m2, created, err := s.CreateMilestone(ctx, m)
		if err != nil || created || m2 != m1 {
			t.Fatalf("milestone replay: %+v %v %v", m2, created, err)
		}
		list, _ := s.ListAssessments(ctx, store.AssessmentQuery{ChildID: "c1"})
		if len(list) != 1 {
			t.Fatalf("replays stored %d assessments", len(list))
		}
	}},
	{"filters", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		for i, a := range []store.Assessment{
			assessment("c1", "a1", "Math", "2026-01-10"),
			assessment("c1", "a2", "Math", "2026-02-10"),
			assessment("c1", "a3", "Reading", "2026-02-11"),
			assessment("c1", "a4", "Math", "2026-03-10"),
		} {
			if i == 2 {
				a.Kind = 5
			}
			if _, _, err := s.CreateAssessment(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			q    store.AssessmentQuery
			want string
		}{
			{store.AssessmentQuery{}, "a1 a2 a3 a4"},
			{store.AssessmentQuery{Subject: "Math"}, "a1 a2 a4"},
			{store.AssessmentQuery{Kind: 5}, "a3"},
			{store.AssessmentQuery{StartDate: "2026-02-10", EndDate: "2026-02-11"}, "a2 a3"},
			{store.AssessmentQuery{Subject: "Math", StartDate: "2026-02-01"}, "a2 a4"},
			{store.AssessmentQuery{After: &store.DateCursor{Date: "2026-02-10", ID: "a2"}, Limit: 1}, "a3"},
		} {
			tt.q.ChildID = "c1"
			got, err := s.ListAssessments(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if fmt.Sprint(ids) != "["+tt.want+"]" {
				t.Errorf("%+v: got %v, want [%s]", tt.q, ids, tt.want)
			}
		}
		ms, err := s.ListMilestones(ctx, store.MilestoneQuery{ChildID: "c1"})
		if err != nil || len(ms) != 0 {
			t.Fatalf("milestones: %v %v", ms, err)
		}
	}},
	{"grading scale", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		if _, found, err := s.GradingScale(ctx, "c1"); err != nil || found {
			t.Fatalf("a new child has its own scale: %v %v", found, err)
		}
		grades := []store.Grade{{Letter: "S", Percent: 90}, {Letter: "U", Percent: 40}}
		gs, err := s.SetGradingScale(ctx, "c1", grades, 0)
		if err != nil || gs.Revision != 1 {
			t.Fatalf("set: %+v %v", gs, err)
		}
		if _, err := s.SetGradingScale(ctx, "c1", grades, 5); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale set: %v", err)
		}
		got, found, err := s.GradingScale(ctx, "c1")
		if err != nil || !found || fmt.Sprint(got.Grades) != fmt.Sprint(grades) || got.Revision != 1 {
			t.Fatalf("read back %+v %v %v", got, found, err)
		}
		if _, err := s.SetGradingScale(ctx, "nochild", grades, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("scale of a missing child: %v", err)
		}
	}},
	{"deleting a child removes its records", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		if _, _, err := s.CreateAssessment(ctx, assessment("c1", "a1", "Math", "2026-01-01")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateMilestone(ctx, store.Milestone{ChildID: "c1", ID: "m1", Title: "x", AchievedDate: "2026-01-01", RecordedBy: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetGradingScale(ctx, "c1", []store.Grade{{Letter: "A", Percent: 95}}, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild(ctx, "c1", 0); err != nil {
			t.Fatal(err)
		}
		mustChild(t, s, "c1") // the same id again starts empty
		as, _ := s.ListAssessments(ctx, store.AssessmentQuery{ChildID: "c1"})
		ms, _ := s.ListMilestones(ctx, store.MilestoneQuery{ChildID: "c1"})
		_, found, _ := s.GradingScale(ctx, "c1")
		if len(as) != 0 || len(ms) != 0 || found {
			t.Fatalf("records outlived their child: %d assessments, %d milestones, scale %v", len(as), len(ms), found)
		}
	}},
	{"paging 1000 assessments while another writer inserts", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustChild(t, s, "c1")
		original := map[string]bool{}
		for i := range 1000 {
			id := fmt.Sprintf("a%04d", i)
			// Dates repeat, so the cursor's id tie-break matters.
			if _, _, err := s.CreateAssessment(ctx, assessment("c1", id, "Math", fmt.Sprintf("2026-%02d-%02d", 1+i%12, 1+i%28))); err != nil {
				t.Fatal(err)
			}
			original[id] = true
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// New rows land before, between and after the pages read so far.
				date := fmt.Sprintf("2026-%02d-%02d", 1+i%12, 1+(i*7)%28)
				if _, _, err := s.CreateAssessment(ctx, assessment("c1", fmt.Sprintf("new%05d", i), "Math", date)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		seen := map[string]int{}
		var after *store.DateCursor
		for {
			page, err := s.ListAssessments(ctx, store.AssessmentQuery{ChildID: "c1", After: after, Limit: 37})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, a := range page {
				seen[a.ID]++
			}
			last := page[len(page)-1]
			after = &store.DateCursor{Date: last.AssessedDate, ID: last.ID}
		}
		close(stop)
		wg.Wait()
		for id := range original {
			if seen[id] != 1 {
				t.Errorf("%s listed %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("%s listed %d times", id, n)
			}
		}
	}},
}

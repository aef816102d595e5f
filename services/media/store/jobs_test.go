package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/store"
)

func claimOne(t *testing.T, s store.Store, owner string, at time.Time, lease time.Duration) (store.Job, bool) {
	t.Helper()
	jobs, err := s.ClaimJobs(context.Background(), owner, at, lease, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) == 0 {
		return store.Job{}, false
	}
	return jobs[0], true
}

var jobContract = []contractCase{
	{"two workers never claim the same job", func(t *testing.T, e env) {
		ctx := context.Background()
		const n = 40
		var jobs []store.Job
		for i := range n {
			jobs = append(jobs, store.Job{ChildID: "c1", ItemID: fmt.Sprintf("m%d", i), Kind: "thumbnail"})
		}
		if err := e.s.EnqueueJobs(ctx, jobs...); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		var mu sync.Mutex
		claimedBy := map[string]string{}
		var wg sync.WaitGroup
		for _, worker := range []string{"w1", "w2", "w3"} {
			wg.Go(func() {
				for {
					got, err := e.s.ClaimJobs(ctx, worker, now, time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, j := range got {
						if other, dup := claimedBy[j.ID]; dup {
							t.Errorf("job %s claimed by %s and %s", j.ID, other, worker)
						}
						claimedBy[j.ID] = worker
						if j.LeaseOwner != worker || j.Attempts != 1 || !j.LeaseUntil.Equal(now.Add(time.Minute).Truncate(time.Microsecond)) {
							t.Errorf("claimed job = %+v", j)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimedBy) != n {
			t.Fatalf("%d jobs claimed, want %d", len(claimedBy), n)
		}
		if more, _ := e.s.ClaimJobs(ctx, "w4", now, time.Minute, 10); len(more) != 0 {
			t.Fatalf("leased jobs claimed again: %+v", more)
		}
	}},
	{"a failed job comes back after its next attempt", func(t *testing.T, e env) {
		ctx := context.Background()
		if err := e.s.EnqueueJobs(ctx, store.Job{ChildID: "c1", ItemID: "m1", Kind: "metadata"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now() // after the enqueue, which makes the job due at once
		job, ok := claimOne(t, e.s, "w1", now, time.Minute)
		if !ok {
			t.Fatal("nothing to claim")
		}
		if err := e.s.FailJob(ctx, job.ID, "w2", errors.New("x"), now); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("fail by a worker without the lease: %v", err)
		}
		if err := e.s.FailJob(ctx, job.ID, "w1", errors.New("ffprobe: exit 1"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, ok := claimOne(t, e.s, "w1", now.Add(30*time.Second), time.Minute); ok {
			t.Fatal("claimed before its next attempt")
		}
		again, ok := claimOne(t, e.s, "w2", now.Add(2*time.Minute), time.Minute)
		if !ok {
			t.Fatal("not claimable after its next attempt")
		}
		if again.ID != job.ID || again.Attempts != 2 || again.LastError != "ffprobe: exit 1" || again.LeaseOwner != "w2" {
			t.Fatalf("retried job = %+v", again)
		}
		// The first worker's lease ended with its failure.
		if err := e.s.CompleteJob(ctx, job.ID, "w1"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("complete after failing: %v", err)
		}
		if err := e.s.CompleteJob(ctx, job.ID, "w2"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.FailJob(ctx, job.ID, "w2", errors.New("x"), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("fail of a completed job: %v", err)
		}
	}},
	{"an expired lease lets another worker take the job", func(t *testing.T, e env) {
		ctx := context.Background()
		if err := e.s.EnqueueJobs(ctx, store.Job{ChildID: "c1", ItemID: "m1", Kind: "thumbnail"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now() // after the enqueue, which makes the job due at once
		first, ok := claimOne(t, e.s, "w1", now, time.Minute)
		if !ok {
			t.Fatal("nothing to claim")
		}
		if _, ok := claimOne(t, e.s, "w2", now.Add(30*time.Second), time.Minute); ok {
			t.Fatal("claimed under a live lease")
		}
		second, ok := claimOne(t, e.s, "w2", now.Add(2*time.Minute), time.Minute)
		if !ok || second.ID != first.ID || second.Attempts != 2 {
			t.Fatalf("takeover = %+v, %v", second, ok)
		}
		if err := e.s.CompleteJob(ctx, first.ID, "w1"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("complete by the worker that lost the lease: %v", err)
		}
		if _, err := e.s.FinishJob(ctx, first.ID, "w1", func(*store.Item) error { return nil }); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish by the worker that lost the lease: %v", err)
		}
		if err := e.s.CompleteJob(ctx, first.ID, "w2"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.CompleteJob(ctx, first.ID, "w2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second complete: %v", err)
		}
	}},
	{"finishing a job stores its result, events and references at once", func(t *testing.T, e env) {
		ctx := context.Background()
		mustCreate(t, e.s, item("c1", "m1", sha("orig"), sha("content")), store.Job{Kind: "thumbnail"})
		job, ok := claimOne(t, e.s, "w1", time.Now(), time.Minute)
		if !ok || job.ChildID != "c1" || job.ItemID != "m1" {
			t.Fatalf("claimed %+v, %v", job, ok)
		}
		// The worker pins the thumbnails before it writes their bytes.
		for _, th := range []string{"small", "large"} {
			if err := e.s.PinBlob(ctx, sha(th), store.JobHolder(job.ID)); err != nil {
				t.Fatal(err)
			}
		}
		// A user edit while the job ran: FinishJob changes the current item, keeping both.
		if _, err := e.s.UpdateItem(ctx, "c1", "m1", 0, func(it *store.Item) error { it.Title = "edited"; return nil }); err != nil {
			t.Fatal(err)
		}
		ready, err := e.s.FinishJob(ctx, job.ID, "w1", func(it *store.Item) error {
			it.State = store.StateReady
			it.Thumbnails = []store.Thumbnail{{Size: "small", Width: 320, Height: 240, SHA256: sha("small")}}
			return nil
		}, event("c1"))
		if err != nil {
			t.Fatal(err)
		}
		if ready.State != store.StateReady || ready.Title != "edited" || ready.Revision != 3 || len(ready.Thumbnails) != 1 {
			t.Fatalf("finished item = %+v", ready)
		}
		// The used thumbnail is held by the item, the unused one by nobody.
		wantRefs(t, e.s, map[string]int64{sha("small"): 1, sha("large"): 0, sha("content"): 1})
		if _, err := e.s.GetJob(ctx, job.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("job left after finishing: %v", err)
		}
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}

		// A change that fails leaves the job leased and nothing written.
		if err := e.s.EnqueueJobs(ctx, store.Job{ChildID: "c1", ItemID: "m1", Kind: "metadata"}); err != nil {
			t.Fatal(err)
		}
		job2, _ := claimOne(t, e.s, "w1", time.Now(), time.Minute)
		refused := errors.New("refused")
		if _, err := e.s.FinishJob(ctx, job2.ID, "w1", func(*store.Item) error { return refused }, event("c1")); !errors.Is(err, refused) {
			t.Fatalf("failing change: %v", err)
		}
		if j, err := e.s.GetJob(ctx, job2.ID); err != nil || j.LeaseOwner != "w1" {
			t.Fatalf("job after a failed finish = %+v, %v", j, err)
		}
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}
		// A job whose item was deleted is gone with it.
		if err := e.s.DeleteItem(ctx, "c1", "m1", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishJob(ctx, job2.ID, "w1", func(*store.Item) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finish of a job whose item was deleted: %v", err)
		}
	}},
	{"enqueue in the caller's transaction, depth and age", func(t *testing.T, e env) {
		ctx := context.Background()
		sqlStore := e.s.(*store.SQL)
		if n, err := e.s.JobDepth(ctx); err != nil || n != 0 {
			t.Fatalf("empty depth = %d, %v", n, err)
		}
		if age, err := e.s.OldestJobAge(ctx, time.Now()); err != nil || age != 0 {
			t.Fatalf("empty age = %v, %v", age, err)
		}
		rollback := errors.New("rollback")
		err := e.db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := sqlStore.EnqueueTx(ctx, tx, store.Job{ChildID: "c1", ItemID: "m1", Kind: "thumbnail"}); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if n, _ := e.s.JobDepth(ctx); n != 0 {
			t.Fatalf("a rolled back enqueue left %d jobs", n)
		}
		var stored []store.Job
		if err := e.db.InTx(ctx, func(tx *sqldb.Tx) error {
			var err error
			stored, err = sqlStore.EnqueueTx(ctx, tx,
				store.Job{ChildID: "c1", ItemID: "m1", Kind: "thumbnail"},
				store.Job{ChildID: "c1", ItemID: "m2", Kind: "thumbnail", NextAttempt: time.Now().Add(time.Hour)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.GetJob(ctx, stored[0].ID); err != nil || !reflect.DeepEqual(got, stored[0]) {
			t.Fatalf("read back %+v, %v; want %+v", got, err, stored[0])
		}
		if err := e.s.EnqueueJobs(ctx, store.Job{ChildID: "c1", Kind: "thumbnail"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("job without an item: %v", err)
		}
		if err := e.s.EnqueueJobs(ctx, stored[0]); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate job id: %v", err)
		}
		if n, _ := e.s.JobDepth(ctx); n != 2 {
			t.Fatalf("depth = %d, want 2", n)
		}
		age, err := e.s.OldestJobAge(ctx, stored[0].CreateTime.Add(time.Minute))
		if err != nil || age != time.Minute {
			t.Fatalf("age = %v, %v; want 1m", age, err)
		}
		if _, err := e.s.ClaimJobs(ctx, "", time.Now(), time.Minute, 1); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("claim without an owner: %v", err)
		}
		// Only the due job is claimed; the other waits for its hour.
		got, err := e.s.ClaimJobs(ctx, "w1", time.Now(), time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != stored[0].ID {
			t.Fatalf("claimed %+v, %v", got, err)
		}
	}},
	{"a job keeps the trace of the request that enqueued it, retries included", func(t *testing.T, e env) {
		// The store captures with the global propagator, as outbox.Add does.
		prev := otel.GetTextMapPropagator()
		otel.SetTextMapPropagator(propagation.TraceContext{})
		t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 1}, SpanID: trace.SpanID{0xb7, 0xad, 2}, TraceFlags: trace.FlagsSampled,
		})
		traced := trace.ContextWithSpanContext(context.Background(), sc)
		mustCreateCtx := func(ctx context.Context, id string) {
			t.Helper()
			if _, created, err := e.s.CreateItem(ctx, item("c1", id, sha("o"+id), sha("c"+id)), []store.Job{{Kind: "thumbnail"}}); err != nil || !created {
				t.Fatalf("CreateItem(%s) = %v, %v", id, created, err)
			}
		}
		mustCreateCtx(traced, "m1")
		mustCreateCtx(context.Background(), "m2") // no trace: no context, as for rows older than the column
		want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
		now := time.Now()
		for attempt := 1; attempt <= 2; attempt++ {
			jobs, err := e.s.ClaimJobs(context.Background(), "w1", now, time.Minute, 10)
			if err != nil || len(jobs) != 2 {
				t.Fatalf("attempt %d: claimed %+v, %v", attempt, jobs, err)
			}
			for _, j := range jobs {
				switch j.ItemID {
				case "m1":
					if got := j.TraceContext["traceparent"]; got != want {
						t.Errorf("attempt %d: traceparent %q, want %q (context %v)", attempt, got, want, j.TraceContext)
					}
				case "m2":
					if j.TraceContext != nil {
						t.Errorf("attempt %d: a job enqueued outside any trace has context %v", attempt, j.TraceContext)
					}
				}
				// A failure, recorded outside the trace, keeps the context for the retry.
				if err := e.s.FailJob(context.Background(), j.ID, "w1", errors.New("flaky"), now); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A context the caller sets is stored as given.
		given := map[string]string{"traceparent": want, "tracestate": "k=v"}
		if err := e.s.EnqueueJobs(context.Background(), store.Job{ChildID: "c1", ItemID: "m3", Kind: "metadata", TraceContext: given}); err != nil {
			t.Fatal(err)
		}
		jobs, err := e.s.ClaimJobs(context.Background(), "w2", now.Add(time.Hour), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ItemID == "m3" && !reflect.DeepEqual(j.TraceContext, given) {
				t.Errorf("given context read back as %v", j.TraceContext)
			}
		}
	}},
}

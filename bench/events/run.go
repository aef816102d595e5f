package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/kinbridge/kinbridge/bench/internal/check"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// eventPrefix starts the title of every assessment the benchmark records;
// the notification's body is the title, which is how an inbox entry is
// matched to its recording.
const eventPrefix = "ev-"

// ownInbox is the caller's own inbox, where each guardian counts and reads.
var ownInbox = names.User{ID: names.Me}.String()

// result is what one run measured.
type result struct {
	events  int
	elapsed time.Duration
	cpu     float64 // server CPU seconds from the first recording to the last delivery
	calls   float64 // Publish and PublishBatch calls the notification service served meanwhile
	wrong   error   // what check.Recorded found, if anything
}

func (r *result) rate() float64          { return float64(r.events) / r.elapsed.Seconds() }
func (r *result) cpuPerEvent() float64   { return r.cpu / float64(r.events) }
func (r *result) callsPerEvent() float64 { return r.calls / float64(r.events) }

// child is one child of a run and its two guardians.
type child struct {
	name      string // children/<id>
	id        string // <id>
	guardians []guardian
	recorded  []check.Event // in the order they were sent
}

type guardian struct {
	user, token string
	baseline    int64 // unread notifications before the run: the setup's
}

// epoch is the zero of every time the run records.
var epoch = time.Now()

// measure runs one scenario on a fresh server started with args.
func measure(ctx context.Context, bin, dir string, args []string, sc scenario, workers int, settle time.Duration, out io.Writer) (*result, error) {
	srv, err := suite.Start(ctx, bin, dir, nil, args...)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	fail := func(err error) (*result, error) { return nil, fmt.Errorf("%w\n%s", err, srv.LogTail(10)) }
	opts := grpc.WithTransportCredentials(insecure.NewCredentials())
	pconn, err := grpc.NewClient(srv.Progress, opts)
	if err != nil {
		return nil, err
	}
	defer pconn.Close()
	nconn, err := grpc.NewClient(srv.Notification, opts)
	if err != nil {
		return nil, err
	}
	defer nconn.Close()
	progress := progressv1.NewProgressServiceClient(pconn)
	notification := notificationv1.NewNotificationServiceClient(nconn)
	admin, err := srv.Token("bench-admin", true)
	if err != nil {
		return nil, err
	}

	// The children and their guardians.
	children := make([]*child, sc.children)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range children {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := progress.CreateChild(bearer(cctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: fmt.Sprintf("Bench %d", i)}})
			if err != nil {
				return fmt.Errorf("create child: %w", err)
			}
			n, err := names.ParseChild(c.GetName())
			if err != nil {
				return fmt.Errorf("create child: %w", err)
			}
			ch := &child{name: n.String(), id: n.ID}
			for j := range 2 {
				user := fmt.Sprintf("guardian-%03d-%d", i, j)
				if _, err := progress.CreateGuardianship(bearer(cctx, admin), &progressv1.CreateGuardianshipRequest{Parent: ch.name,
					Guardianship: &progressv1.Guardianship{User: user, Role: progressv1.Role_ROLE_GUARDIAN}}); err != nil {
					return fmt.Errorf("grant %s: %w", user, err)
				}
				token, err := srv.Token(user, false)
				if err != nil {
					return err
				}
				ch.guardians = append(ch.guardians, guardian{user: user, token: token})
			}
			children[i] = ch
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	// The setup's events (the grants) are delivered before the clock starts.
	if err := drained(ctx, srv, 2*time.Minute); err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	for _, ch := range children {
		for j := range ch.guardians {
			n, err := unread(ctx, notification, ch.guardians[j].token)
			if err != nil {
				return fail(err)
			}
			ch.guardians[j].baseline = n
		}
	}

	perChild := make([]int, sc.children)
	for i := range sc.events {
		perChild[i%sc.children]++
	}
	for i, ch := range children {
		ch.recorded = make([]check.Event, perChild[i])
	}
	calls0, err := publishCalls(ctx, srv)
	if err != nil {
		return fail(err)
	}
	cpu0, err := suite.CPUSeconds(srv.PID())
	if err != nil {
		return fail(err)
	}

	// Record: event i goes to child i % children, so every child's events
	// are spread over the whole run.
	var next atomic.Int64
	var mu sync.Mutex
	var failures int
	var firstErr error
	began := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= sc.events || ctx.Err() != nil {
					return
				}
				ch := children[i%sc.children]
				k := i / sc.children
				id := fmt.Sprintf("%s%s-%05d", eventPrefix, ch.id, k)
				sent := time.Since(epoch)
				err := record(ctx, progress, admin, ch.name, id)
				ch.recorded[k] = check.Event{ID: id, Sent: sent, Acked: time.Since(epoch)}
				if err != nil {
					mu.Lock()
					failures++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failures > 0 {
		return fail(fmt.Errorf("%d of %d recordings failed, first: %w", failures, sc.events, firstErr))
	}
	recordedIn := time.Since(began)

	// Delivered: the outbox is empty, and every inbox counts every event.
	if err := drained(ctx, srv, settle); err != nil {
		return fail(err)
	}
	if err := inboxesFull(ctx, notification, children, perChild, settle); err != nil {
		fmt.Fprintf(out, "  not every inbox filled up: %v\n", err) // check.Recorded names what is missing
	}
	elapsed := time.Since(began)
	cpu1, err := suite.CPUSeconds(srv.PID())
	if err != nil {
		return fail(err)
	}
	calls1, err := publishCalls(ctx, srv)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "  recorded in %s (%.0f/s)\n", recordedIn.Round(time.Millisecond), float64(sc.events)/recordedIn.Seconds())

	// Correctness: read every inbox.
	recorded := map[string][]check.Event{}
	var inboxes []check.Inbox
	var imu sync.Mutex
	for _, ch := range children {
		recorded[ch.name] = ch.recorded
		for _, gd := range ch.guardians {
			g.Go(func() error {
				got, err := inbox(ctx, notification, gd.token)
				imu.Lock()
				inboxes = append(inboxes, check.Inbox{Guardian: gd.user, Children: []string{ch.name}, Got: got})
				imu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	return &result{events: sc.events, elapsed: elapsed, cpu: cpu1 - cpu0, calls: calls1 - calls0,
		wrong: check.Recorded(recorded, inboxes)}, nil
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// record records one assessment, retrying a failed call with the same
// request id (which makes it idempotent) a few times.
func record(ctx context.Context, progress progressv1.ProgressServiceClient, token, child, id string) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = progress.CreateAssessment(bearer(cctx, token), &progressv1.CreateAssessmentRequest{Parent: child, RequestId: id,
			Assessment: &progressv1.Assessment{Subject: "Math", Title: id,
				Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}})
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// drained waits until the server's progress outbox holds nothing, giving
// up after settle without the outbox shrinking.
func drained(ctx context.Context, srv *suite.Server, settle time.Duration) error {
	last, moved := int64(-1), time.Now()
	for {
		n, err := pending(ctx, srv)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n != last {
			last, moved = n, time.Now()
		} else if time.Since(moved) > settle {
			return fmt.Errorf("the progress outbox still holds %d events after %s without progress", n, settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pending reads how many messages the progress outbox holds from the
// server's /metrics.
func pending(ctx context.Context, srv *suite.Server) (int64, error) {
	all, err := srv.ScrapeAll(ctx)
	if err != nil {
		return 0, err
	}
	for series, v := range all {
		if strings.HasPrefix(series, "kinbridge_outbox_pending") && strings.Contains(series, `="progress"`) {
			return int64(v), nil
		}
	}
	return 0, errors.New("/metrics has no kinbridge_outbox_pending for the progress outbox")
}

// publishCalls is how many Publish and PublishBatch calls the server has
// served.
func publishCalls(ctx context.Context, srv *suite.Server) (float64, error) {
	all, err := srv.ScrapeAll(ctx)
	if err != nil {
		return 0, err
	}
	var n float64
	for series, v := range all {
		name, labels, ok := strings.Cut(series, "{")
		if ok && name == "rpc_server_call_duration_seconds_count" &&
			(strings.Contains(labels, `PublishService/Publish"`) || strings.Contains(labels, `PublishService/PublishBatch"`)) {
			n += v
		}
	}
	return n, nil
}

// inboxesFull waits until every guardian's unread count has grown by its
// child's events, giving up after settle without any growing.
func inboxesFull(ctx context.Context, notification notificationv1.NotificationServiceClient, children []*child, perChild []int, settle time.Duration) error {
	moved := time.Now()
	short := map[string]int64{}
	for {
		clear(short)
		for i, ch := range children {
			for _, gd := range ch.guardians {
				n, err := unread(ctx, notification, gd.token)
				if err != nil {
					return err
				}
				if missing := gd.baseline + int64(perChild[i]) - n; missing > 0 {
					short[gd.user] = missing
				}
			}
		}
		if len(short) == 0 {
			return nil
		}
		if time.Since(moved) > settle {
			return fmt.Errorf("%d inboxes short after %s", len(short), settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func unread(ctx context.Context, notification notificationv1.NotificationServiceClient, token string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := notification.CountUnreadNotifications(bearer(cctx, token), &notificationv1.CountUnreadNotificationsRequest{Parent: ownInbox})
	if err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	return resp.GetUnreadCount(), nil
}

// inbox reads a guardian's whole inbox and returns the benchmark's
// assessment events in it, oldest first.
func inbox(ctx context.Context, notification notificationv1.NotificationServiceClient, token string) ([]string, error) {
	var ids []string
	page := ""
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := notification.ListNotifications(bearer(cctx, token), &notificationv1.ListNotificationsRequest{Parent: ownInbox, PageSize: 1000, PageToken: page})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		for _, n := range resp.GetNotifications() {
			if n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
				ids = append(ids, n.GetBody())
			}
		}
		if page = resp.GetNextPageToken(); page == "" {
			break
		}
	}
	slices.Reverse(ids) // newest first -> oldest first
	return ids, nil
}

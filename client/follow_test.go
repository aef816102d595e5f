package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/client"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// record has the teacher record an assessment for child.
func record(t *testing.T, teacher *client.Client, child, title string) {
	t.Helper()
	_, err := teacher.Progress().CreateAssessment(context.Background(), &progressv1.CreateAssessmentRequest{Parent: child,
		Assessment: &progressv1.Assessment{Subject: "Math", Title: title, Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST,
			AssessedDate: "2026-03-01", Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 9, Possible: 10}}}}})
	if err != nil {
		t.Error(err)
	}
}

// inbox lists every notification of the client's user, oldest first.
func inbox(t *testing.T, c *client.Client) []int64 {
	t.Helper()
	var seqs []int64
	token := ""
	for {
		resp, err := c.Notifications().ListNotifications(context.Background(), &notificationv1.ListNotificationsRequest{
			Parent: client.Inbox, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNotifications() {
			seqs = append(seqs, n.GetSequence())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	slices.Sort(seqs)
	return seqs
}

// TestFollowAcrossCutsDeliversEveryNotificationOnce follows a guardian's
// feed through a proxy that drops the connection every few notifications
// (and refuses to reconnect for a moment), while a teacher records: every
// notification of the inbox from the start on arrives, once, in order.
func TestFollowAcrossCutsDeliversEveryNotificationOnce(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	const recorded = 30
	p := testenv.NewProxy(t, suite.notification)
	maria := dial(t, "maria", false, client.WithNotificationAddr(p.Addr()))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	started := make(chan string, 1)
	var retries atomic.Int32
	var got []int64
	var titles []string
	done := make(chan struct{})
	var end struct {
		token string
		err   error
	}
	go func() {
		defer close(done)
		end.token, end.err = maria.Follow(ctx, client.FollowOptions{
			Backoff: fast,
			Started: func(token string) { started <- token },
			Retrying: func(err error, token string, delay time.Duration) {
				retries.Add(1)
			},
		}, func(n *notificationv1.Notification) error {
			got = append(got, n.GetSequence())
			if n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED && n.GetChild() == child {
				titles = append(titles, n.GetBody())
			}
			if len(got)%5 == 0 {
				p.CutFor(50 * time.Millisecond)
			}
			if len(titles) == recorded {
				cancel()
			}
			return nil
		})
	}()
	var startToken string
	select {
	case startToken = <-started:
	case <-ctx.Done():
		t.Fatal("the feed never started")
	}
	start, err := strconv.ParseInt(startToken, 10, 64)
	if err != nil {
		t.Fatalf("start token %q", startToken)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range recorded {
			record(t, teacher, child, fmt.Sprintf("Quiz %d", i))
		}
	})
	wg.Wait()
	<-done
	if !errors.Is(end.err, context.Canceled) {
		t.Fatalf("Follow ended with %v after %d of %d assessments", end.err, len(titles), recorded)
	}
	// A cut may find the next messages already received, or come while
	// the follower waits to reconnect, so not every cut costs a stream.
	t.Logf("%d notifications over %d reconnections", len(got), retries.Load())
	if retries.Load() < 1 {
		t.Fatalf("only %d reconnections: the cuts were not felt", retries.Load())
	}
	var want []int64
	for _, seq := range inbox(t, dial(t, "maria", false)) {
		if seq > start && seq <= got[len(got)-1] {
			want = append(want, seq)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v,\nthe inbox holds %v", got, want)
	}
	for i, title := range titles {
		if title != fmt.Sprintf("Quiz %d: 9/10", i) {
			t.Fatalf("assessment %d arrived as %q", i, title)
		}
	}
	if end.token != strconv.FormatInt(got[len(got)-1], 10) {
		t.Fatalf("resume token %q, want the last sequence %d", end.token, got[len(got)-1])
	}
}

func TestFollowResumesFromAToken(t *testing.T) {
	child := family(t)
	teacher := dial(t, "teacher", false)
	maria := dial(t, "maria", false)
	before := inbox(t, maria)
	last := int64(0)
	if len(before) > 0 {
		last = before[len(before)-1]
	}
	record(t, teacher, child, "Spelling")
	record(t, teacher, child, "Reading")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var bodies []string
	token, err := maria.Follow(ctx, client.FollowOptions{ResumeToken: strconv.FormatInt(last, 10)}, func(n *notificationv1.Notification) error {
		if n.GetChild() == child && n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
			bodies = append(bodies, n.GetBody())
		}
		if len(bodies) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || !slices.Equal(bodies, []string{"Spelling: 9/10", "Reading: 9/10"}) {
		t.Fatalf("got %q, %v", bodies, err)
	}
	if n, err := strconv.ParseInt(token, 10, 64); err != nil || n <= last {
		t.Fatalf("resume token %q after %d", token, last)
	}
}

var errStop = errors.New("stop")

func TestFollowStopsOnWhatNoRetryFixes(t *testing.T) {
	c, err := client.New(suite.progress, client.WithToken("not-a-token"), client.WithNotificationAddr(suite.notification))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	retried := false
	_, err = c.Follow(ctx, client.FollowOptions{ResumeToken: "0", Retrying: func(error, string, time.Duration) { retried = true }},
		func(*notificationv1.Notification) error { return nil })
	if status.Code(err) != codes.Unauthenticated || retried {
		t.Fatalf("got %v (retried %v)", err, retried)
	}
}

// silentFirstFeed is a notification service whose first feed opens and
// never answers, as a server wedged behind a working connection would;
// later feeds answer with notification 1.
type silentFirstFeed struct {
	notificationv1.UnimplementedNotificationServiceServer
	opened atomic.Int32
}

func (s *silentFirstFeed) StreamNotifications(req *notificationv1.StreamNotificationsRequest, stream notificationv1.NotificationService_StreamNotificationsServer) error {
	if s.opened.Add(1) == 1 {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	if err := stream.Send(&notificationv1.StreamNotificationsResponse{Event: &notificationv1.StreamNotificationsResponse_Notification{
		Notification: &notificationv1.Notification{Sequence: 1, Title: "after the silence"}}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func TestFollowReopensAFeedThatDoesNotAnswer(t *testing.T) {
	feed := &silentFirstFeed{}
	srv := grpc.NewServer()
	notificationv1.RegisterNotificationServiceServer(srv, feed)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	c, err := client.New(suite.progress, client.WithNotificationAddr(lis.Addr().String()), client.WithTimeout(300*time.Millisecond),
		client.WithToken("token"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var lost []error
	var got []string
	_, err = c.Follow(ctx, client.FollowOptions{ResumeToken: "0", Retrying: func(err error, _ string, _ time.Duration) { lost = append(lost, err) }},
		func(n *notificationv1.Notification) error {
			got = append(got, n.GetTitle())
			return errStop
		})
	if !errors.Is(err, errStop) || !slices.Equal(got, []string{"after the silence"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if len(lost) != 1 || status.Code(lost[0]) != codes.DeadlineExceeded {
		t.Fatalf("the silent feed was reported as %v, want one DeadlineExceeded", lost)
	}
}

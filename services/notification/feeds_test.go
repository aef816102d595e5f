package notification_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// TestMain checks that nothing the tests start (the service, its streams
// and watches, the clients) outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	assessment = notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED
	milestone  = notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED
)

// conn is what one connection of a feed (a StreamNotifications call or a
// LiveService watch) handed out: where it started, the notifications it
// sent, and every resume token it gave, in order (with notifications, with
// heartbeats or WatchStarted, and in the status or WatchEnded it ended with).
type conn struct {
	kind  string
	start int64

	mu     sync.Mutex
	sent   []*notificationv1.Notification
	tokens []int64
	err    error // why it ended; nil while open
	done   chan struct{}

	grant func(n int32) // a watch's credit; nil for a stream
	owed  int32         // credit held back while stalled
	stall bool

	cancel context.CancelFunc // closes the connection from the client's side
}

func (c *conn) token(t *testing.T, tok string) {
	t.Helper()
	if tok == "" {
		return
	}
	seq, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		t.Errorf("%s handed out resume token %q", c.kind, tok)
		return
	}
	c.tokens = append(c.tokens, seq)
}

func (c *conn) record(t *testing.T, n *notificationv1.Notification, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != nil {
		c.sent = append(c.sent, n)
		if c.grant != nil {
			if c.stall {
				c.owed++
			} else {
				c.grant(1)
			}
		}
	}
	c.token(t, tok)
}

var statusToken = regexp.MustCompile(`resume_token (\d+)\s*$`)

func (c *conn) end(t *testing.T, err error, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := statusToken.FindStringSubmatch(status.Convert(err).Message()); m != nil {
		tok = m[1]
	}
	c.token(t, tok)
	c.err = err
	close(c.done)
}

// setStall holds back (or gives) a watch's credit, so that it falls behind.
func (c *conn) setStall(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stall = on
	if !on && c.owed > 0 {
		c.grant(c.owed)
		c.owed = 0
	}
}

func (c *conn) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// last is the last resume token the connection handed out.
func (c *conn) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) == 0 {
		return strconv.FormatInt(c.start, 10)
	}
	return strconv.FormatInt(c.tokens[len(c.tokens)-1], 10)
}

func (c *conn) has(body string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.sent, func(n *notificationv1.Notification) bool { return n.GetBody() == body })
}

func (c *conn) notifications() []*notificationv1.Notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

// openStream opens StreamNotifications for user from resume (a sequence).
func openStream(t *testing.T, e *notificationtest.Env, user string, resume int64) *conn {
	t.Helper()
	ctx, cancel := context.WithCancel(e.As(context.Background(), t, user))
	stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: strconv.FormatInt(resume, 10)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &conn{kind: "stream of " + user, start: resume, done: make(chan struct{}), cancel: cancel}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				c.end(t, err, "")
				return
			}
			c.record(t, resp.GetNotification(), resp.GetResumeToken())
		}
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	c.waitOpen(t)
	return c
}

// waitOpen waits for the first resume token: the first heartbeat of a
// stream, the start of a watch. The feed is then subscribed.
func (c *conn) waitOpen(t *testing.T) {
	t.Helper()
	notificationtest.Eventually(t, c.kind+" to open", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.tokens) > 0 || c.err != nil
	})
}

// openWatch starts a LiveService watch of user's feed from resume, on a
// Watch stream of its own, with a credit of one notification at a time.
func openWatch(t *testing.T, e *notificationtest.Env, user string, resume int64) *conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := e.Live.Watch(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var sendMu sync.Mutex
	send := func(req *notificationpeerv1.WatchRequest) {
		sendMu.Lock()
		defer sendMu.Unlock()
		_ = stream.Send(req) // a failed send ends the stream, which Recv reports
	}
	c := &conn{kind: "watch of " + user, start: resume, done: make(chan struct{}), cancel: cancel, grant: func(n int32) {
		send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Credit{Credit: &notificationpeerv1.GrantCredit{WatchId: 1, Count: n}}})
	}}
	send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Start{Start: &notificationpeerv1.StartWatch{
		WatchId: 1, User: user, ResumeToken: strconv.FormatInt(resume, 10), InitialCredit: 1}}})
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				c.end(t, err, "")
				return
			}
			if ended := resp.GetEnded(); ended != nil {
				c.end(t, status.Error(codes.Code(ended.GetCode()), ended.GetReason()), resp.GetResumeToken())
				return
			}
			c.record(t, resp.GetNotification(), resp.GetResumeToken())
		}
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	c.waitOpen(t)
	return c
}

// checkPositions checks the rule of resume tokens on every connection of a
// feed against the inbox: no token passes a notification of the inbox
// that the connection did not send; what it sent came in order, once.
func checkPositions(t *testing.T, inbox []*notificationv1.Notification, conns ...*conn) {
	t.Helper()
	for _, c := range conns {
		c.mu.Lock()
		sent := map[int64]bool{}
		prev := c.start
		for _, n := range c.sent {
			if n.GetSequence() <= prev {
				t.Errorf("%s from %d sent #%d after #%d", c.kind, c.start, n.GetSequence(), prev)
			}
			prev = n.GetSequence()
			sent[n.GetSequence()] = true
		}
		furthest := slices.Max(append([]int64{c.start}, c.tokens...))
		for _, n := range inbox {
			if seq := n.GetSequence(); seq > c.start && seq <= furthest && !sent[seq] {
				t.Errorf("%s from %d handed out resume token %d, past %s, which is in the inbox and was not sent",
					c.kind, c.start, furthest, notificationtest.String(n))
			}
		}
		c.mu.Unlock()
	}
}

// checkNothingSkipped checks that a feed followed across reconnects, each
// from the last token of the one before, sent everything the inbox holds
// after the first one's start.
func checkNothingSkipped(t *testing.T, inbox []*notificationv1.Notification, conns []*conn) {
	t.Helper()
	got := map[int64]bool{}
	for _, c := range conns {
		for _, n := range c.notifications() {
			got[n.GetSequence()] = true
		}
	}
	for _, n := range inbox {
		if n.GetSequence() > conns[0].start && !got[n.GetSequence()] {
			t.Errorf("%s skipped %s across %d connections", conns[0].kind, notificationtest.String(n), len(conns))
		}
	}
}

// TestRegrantedGuardianHearsTheChildAgain leaves maria's and joao's feeds
// open while maria is removed from a child and added again: her feeds
// (a gRPC stream and a gateway watch) carry the child's new notifications
// again, and joao's, never removed, carry everything.
func TestRegrantedGuardianHearsTheChildAgain(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, nil)
			const ada = "children/ada"
			e.Grant(t, ada, "maria")
			e.Grant(t, ada, "joao")
			maria, joao := e.Position(t, "maria"), e.Position(t, "joao")
			feeds := []*conn{openStream(t, e, "maria", maria), openWatch(t, e, "maria", maria)}
			joaoFeed := openStream(t, e, "joao", joao)

			e.Record(t, ada, assessment, "before")
			// Delivered before the revocation: one still on its way when the
			// revocation empties the inbox is rightly never sent.
			for _, f := range feeds {
				notificationtest.Eventually(t, f.kind+" to carry the notification before the revocation", func() bool { return f.has("before") })
			}
			e.Revoke(t, ada, "maria")
			notificationtest.Eventually(t, "the revocation to empty maria's inbox", func() bool { return len(e.InboxOf(t, "maria")) == 0 })
			e.Record(t, ada, assessment, "while revoked")
			e.Grant(t, ada, "maria")
			e.Record(t, ada, assessment, "after")

			for _, f := range append(feeds, joaoFeed) {
				notificationtest.Eventually(t, f.kind+" to carry the notification after the new grant", func() bool { return f.has("after") })
			}
			for _, f := range feeds {
				var bodies []string
				for _, n := range f.notifications() {
					bodies = append(bodies, n.GetBody())
				}
				if want := []string{"before", "maria may now follow", "after"}; !slices.Equal(bodies, want) {
					t.Errorf("%s carried %q, want %q", f.kind, bodies, want)
				}
			}
			for _, want := range []string{"before", "while revoked", "maria may now follow", "after"} {
				if !joaoFeed.has(want) {
					t.Errorf("joao, never removed, missed %q", want)
				}
			}
			inbox := e.InboxOf(t, "maria")
			checkPositions(t, inbox, feeds...)
			checkPositions(t, e.InboxOf(t, "joao"), joaoFeed)

			// Resuming from the last position skips nothing and goes on live.
			for i, f := range feeds {
				last, _ := strconv.ParseInt(f.last(), 10, 64)
				var again *conn
				if i == 0 {
					again = openStream(t, e, "maria", last)
				} else {
					again = openWatch(t, e, "maria", last)
				}
				e.Record(t, ada, assessment, fmt.Sprintf("resumed %d", i))
				notificationtest.Eventually(t, again.kind+" to go on live", func() bool { return again.has(fmt.Sprintf("resumed %d", i)) })
				inbox := e.InboxOf(t, "maria")
				checkPositions(t, inbox, f, again)
				checkNothingSkipped(t, inbox, []*conn{f, again})
			}
		})
	}
}

// TestResumePositionNeverPassesTheInbox drives maria's feeds through
// random orders of revocations, new grants, filtered types, stalls (so a
// watch falls behind and resumes), reconnects and heartbeats, and checks
// every resume token any of their connections handed out against her
// inbox: none passes a notification the inbox holds that the connection
// did not send, and a feed followed across reconnects skips nothing.
func TestResumePositionNeverPassesTheInbox(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			for seed := range 3 {
				t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { resumeOrders(t, b, uint64(seed)) })
			}
		})
	}
}

// follower follows one of maria's feeds across connections, each opened
// from the last resume token of the one before.
type follower struct {
	conns []*conn
	open  func(*testing.T, *notificationtest.Env, string, int64) *conn
}

func (f *follower) current() *conn { return f.conns[len(f.conns)-1] }

func (f *follower) reconnect(t *testing.T, e *notificationtest.Env) {
	from, _ := strconv.ParseInt(f.current().last(), 10, 64)
	f.conns = append(f.conns, f.open(t, e, "maria", from))
}

func resumeOrders(t *testing.T, b notificationtest.Backend, seed uint64) {
	// Heartbeats every few milliseconds hand out many positions; a live
	// buffer of 3 makes a stalled watch fall behind quickly.
	e := notificationtest.Start(t, b, func(c *notification.Config) { c.Heartbeat = 3 * time.Millisecond; c.StreamBuffer = 3 })
	const ada, bo = "children/ada", "children/bo"
	e.Grant(t, ada, "maria")
	e.Grant(t, bo, "maria")
	start := e.Position(t, "maria")
	stream := &follower{conns: []*conn{openStream(t, e, "maria", start)}, open: openStream}
	watch := &follower{conns: []*conn{openWatch(t, e, "maria", start)}, open: openWatch}

	rng := rand.New(rand.NewPCG(seed, 11))
	granted, filtered, stalled, subscribed := true, false, false, false
	for i := range 60 {
		switch rng.IntN(8) {
		case 0, 1:
			e.Record(t, ada, assessment, fmt.Sprint("ada ", i))
		case 2:
			e.Record(t, bo, assessment, fmt.Sprint("bo ", i))
		case 3:
			e.Record(t, bo, milestone, fmt.Sprint("bo milestone ", i))
		case 4:
			if granted {
				e.Revoke(t, ada, "maria")
			} else {
				e.Grant(t, ada, "maria")
			}
			granted = !granted
		case 5:
			// Only milestones of bo, or everything again: what is filtered
			// never enters the inbox.
			filtered = !filtered
			sub := &notificationv1.Subscription{Name: "users/maria/subscriptions/bo", Child: bo}
			if filtered {
				sub.EventTypes = []notificationv1.EventType{milestone}
			}
			ctx := e.As(context.Background(), t, "maria")
			var err error
			if !subscribed {
				_, err = e.Notifications.CreateSubscription(ctx, &notificationv1.CreateSubscriptionRequest{Parent: "users/me", Subscription: sub})
				subscribed = true
			} else {
				_, err = e.Notifications.UpdateSubscription(ctx, &notificationv1.UpdateSubscriptionRequest{Subscription: sub,
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"event_types"}}})
			}
			if err != nil {
				t.Fatalf("subscription: %v", err)
			}
		case 6:
			stalled = !stalled
			watch.current().setStall(stalled)
		case 7:
			stream.reconnect(t, e) // the client drops its stream and resumes
		}
		if watch.current().ended() { // fell behind: resume, and read again
			watch.reconnect(t, e)
			stalled = false
		}
	}
	watch.current().setStall(false)
	if !granted {
		e.Grant(t, ada, "maria")
	}
	e.Record(t, ada, assessment, "final")
	for _, f := range []*follower{stream, watch} {
		notificationtest.Eventually(t, f.current().kind+" to carry the last notification", func() bool {
			if f.current().ended() {
				f.reconnect(t, e)
			}
			return f.current().has("final")
		})
	}
	inbox := e.InboxOf(t, "maria")
	checkPositions(t, inbox, append(slices.Clone(stream.conns), watch.conns...)...)
	checkNothingSkipped(t, inbox, stream.conns)
	checkNothingSkipped(t, inbox, watch.conns)
	t.Logf("%d notifications in the inbox; %d stream and %d watch connections", len(inbox), len(stream.conns), len(watch.conns))
}

// TestResumeTokensRefused opens feeds from tokens no feed could have
// issued: they are refused before anything is sent, INVALID_ARGUMENT when
// not a sequence, OUT_OF_RANGE when beyond the inbox, on a stream and on a
// watch; the watch stream serves its other watches on.
func TestResumeTokensRefused(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, nil)
			const ada = "children/ada"
			e.Grant(t, ada, "maria")
			e.Record(t, ada, assessment, "one")
			e.Revoke(t, ada, "maria") // the inbox is empty; its position is 2
			last := e.Position(t, "maria")
			if last != 2 {
				t.Fatalf("maria's position is %d, want 2", last)
			}
			cases := []struct {
				token string
				code  codes.Code
			}{
				{"x", codes.InvalidArgument}, {"-1", codes.InvalidArgument}, {"+1", codes.InvalidArgument},
				{"01", codes.InvalidArgument}, {" 1", codes.InvalidArgument}, {"1.0", codes.InvalidArgument},
				{"99999999999999999999", codes.InvalidArgument},
				{"3", codes.OutOfRange}, {"9223372036854775807", codes.OutOfRange},
				{"0", codes.OK}, {"2", codes.OK},
			}
			ctx, cancel := context.WithTimeout(e.As(context.Background(), t, "maria"), notificationtest.WaitLimit)
			defer cancel()
			for _, tc := range cases {
				stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: tc.token})
				if err == nil {
					var resp *notificationv1.StreamNotificationsResponse
					resp, err = stream.Recv()
					if err == nil && resp.GetHeartbeat() == nil {
						t.Errorf("token %q: the stream sent %v first", tc.token, resp)
					}
				}
				if status.Code(err) != tc.code {
					t.Errorf("token %q: %v, want %v", tc.token, err, tc.code)
				}
				if tc.code != codes.OK && !namesResumeToken(err) {
					t.Errorf("token %q: %v has no field violation of resume_token", tc.token, err)
				}
			}

			wctx, wcancel := context.WithTimeout(context.Background(), notificationtest.WaitLimit)
			defer wcancel()
			watch, err := e.Live.Watch(wctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, tc := range cases {
				id := int64(i + 1)
				if err := watch.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Start{Start: &notificationpeerv1.StartWatch{
					WatchId: id, User: "maria", ResumeToken: tc.token}}}); err != nil {
					t.Fatal(err)
				}
				resp, err := watch.Recv()
				if err != nil {
					t.Fatalf("token %q: the watch stream ended: %v", tc.token, err)
				}
				switch {
				case resp.GetWatchId() != id:
					t.Fatalf("token %q: an answer for watch %d", tc.token, resp.GetWatchId())
				case tc.code == codes.OK && resp.GetStarted() == nil:
					t.Errorf("token %q: %v, want started", tc.token, resp)
				case tc.code == codes.OK && resp.GetResumeToken() != tc.token:
					t.Errorf("token %q: started at %q", tc.token, resp.GetResumeToken())
				case tc.code != codes.OK && codes.Code(resp.GetEnded().GetCode()) != tc.code:
					t.Errorf("token %q: %v, want ended with %v", tc.token, resp, tc.code)
				case tc.code != codes.OK && resp.GetResumeToken() != "":
					t.Errorf("token %q: a refused watch handed out resume token %q", tc.token, resp.GetResumeToken())
				}
			}
		})
	}
}

// namesResumeToken reports whether err carries a field violation of resume_token.
func namesResumeToken(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == "resume_token" {
					return true
				}
			}
		}
	}
	return false
}

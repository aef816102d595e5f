//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/client"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// as returns ctx carrying a bearer token.
func as(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// assessmentsIn counts the assessment notifications in a user's inbox by
// title, so a duplicate shows up as a count of 2.
func assessmentsIn(t *testing.T, client notificationv1.NotificationServiceClient, token string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	page := ""
	for {
		ctx, cancel := context.WithTimeout(as(context.Background(), token), 10*time.Second)
		resp, err := client.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1000, PageToken: page})
		cancel()
		if err != nil {
			return nil // the service may be restarting
		}
		for _, n := range resp.GetNotifications() {
			if n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
				seen[n.GetBody()]++
			}
		}
		if page = resp.GetNextPageToken(); page == "" {
			return seen
		}
	}
}

// TestNotificationKilledDuringBurst SIGKILLs the notification process while
// 1,000 assessments are being recorded. The outbox keeps every event until
// it is delivered and notification de-duplicates redeliveries, so after a
// restart every guardian's inbox holds exactly 1,000 new notifications,
// and a guardian following her live feed with the SDK throughout receives
// each of them once, in order.
func TestNotificationKilledDuringBurst(t *testing.T) {
	dataDir := t.TempDir()
	progressAddr, notificationAddr := freePort(t), freePort(t)
	progress := start(t, "progress", dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	notification := start(t, "notification", dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")

	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	token := func(user string, admin bool) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin, teacher := token("admin", true), token("teacher", false)
	guardians := map[string]string{"maria": token("maria", false), "joao": token("joao", false), "teacher": teacher}

	ctx := context.Background()
	progressClient := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	child, err := progressClient.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]progressv1.Role{"maria": progressv1.Role_ROLE_GUARDIAN, "joao": progressv1.Role_ROLE_GUARDIAN, "teacher": progressv1.Role_ROLE_CONTRIBUTOR} {
		if _, err := progressClient.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name,
			Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			t.Fatal(err)
		}
	}

	const total = 1000
	// maria follows her live feed with the SDK all along: across the kill
	// and the restart it must deliver every notification once, in order.
	follower, err := client.New(progressAddr, client.WithToken(guardians["maria"]), client.WithNotificationAddr(notificationAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	followCtx, stopFollowing := context.WithTimeout(ctx, 5*time.Minute)
	defer stopFollowing()
	started := make(chan int64, 1)
	var delivered []int64
	assessments, reconnects := 0, 0
	followed := make(chan error, 1)
	go func() {
		_, err := follower.Follow(followCtx, client.FollowOptions{
			Backoff: client.Backoff{Base: 100 * time.Millisecond, Max: time.Second},
			Started: func(token string) {
				n, _ := strconv.ParseInt(token, 10, 64)
				started <- n
			},
			Retrying: func(err error, token string, _ time.Duration) {
				reconnects++
				t.Logf("the live feed broke (%v); resuming after %s", err, token)
			},
		}, func(n *notificationv1.Notification) error {
			delivered = append(delivered, n.GetSequence())
			if n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
				if assessments++; assessments == total {
					stopFollowing()
				}
			}
			return nil
		})
		followed <- err
	}()
	from := <-started

	var recorded atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := progressClient.CreateAssessment(as(ctx, teacher), &progressv1.CreateAssessmentRequest{
					Parent: child.Name, RequestId: fmt.Sprintf("burst-%d", i),
					Assessment: &progressv1.Assessment{Subject: "Math", Title: fmt.Sprintf("burst %04d", i),
						Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}})
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					continue
				}
				recorded.Add(1)
			}
		}()
	}
	killed := make(chan struct{})
	go func() {
		for i := range total {
			if i == total/4 {
				notification.kill(t) // mid-burst, as a crash
				close(killed)
			}
			work <- i
		}
		close(work)
	}()
	<-killed
	time.Sleep(500 * time.Millisecond) // the burst goes on while notification is down
	start(t, "notification", dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")
	wg.Wait()
	if recorded.Load() != total {
		t.Fatalf("recorded %d of %d", recorded.Load(), total)
	}

	inbox := notificationv1.NewNotificationServiceClient(dialGRPC(t, notificationAddr))
	deadline := time.Now().Add(3 * time.Minute)
	for user, tok := range guardians {
		for {
			seen := assessmentsIn(t, inbox, tok)
			if len(seen) == total {
				for title, n := range seen {
					if n != 1 {
						t.Errorf("%s received %q %d times", user, title, n)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d of %d notifications; progress stderr:\n%s", user, len(seen), total, progress.stderr)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	if err := <-followed; !errors.Is(err, context.Canceled) {
		t.Fatalf("the live feed ended with %v after %d of %d assessments", err, assessments, total)
	}
	if reconnects == 0 {
		t.Fatal("the live feed never noticed the kill")
	}
	var want []int64
	for _, seq := range sequencesIn(t, inbox, guardians["maria"]) {
		if seq > from && seq <= delivered[len(delivered)-1] {
			want = append(want, seq)
		}
	}
	if !slices.Equal(delivered, want) {
		t.Fatalf("the live feed delivered %d notifications, the inbox holds %d after %d: a gap or a duplicate", len(delivered), len(want), from)
	}
}

// sequencesIn lists the sequences of the notifications in a user's inbox,
// oldest first.
func sequencesIn(t *testing.T, client notificationv1.NotificationServiceClient, token string) []int64 {
	t.Helper()
	var seqs []int64
	page := ""
	for {
		ctx, cancel := context.WithTimeout(as(context.Background(), token), 10*time.Second)
		resp, err := client.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1000, PageToken: page})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNotifications() {
			seqs = append(seqs, n.GetSequence())
		}
		if page = resp.GetNextPageToken(); page == "" {
			slices.Sort(seqs)
			return seqs
		}
	}
}

// regrant is a liveFamily whose guardian maria is removed from the child
// and added again while her live feed stays open.
type regrant struct {
	*liveFamily
	admin string
}

func newRegrant(t *testing.T, p *process) *regrant {
	t.Helper()
	key, err := auth.LoadKey(filepath.Join(p.dataDir, "keys", "user.pem"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.NewUserIssuer(key).Issue("admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &regrant{liveFamily: newLiveFamily(t, p), admin: admin}
}

// away revokes maria, waits until her inbox no longer holds the child, has
// the teacher record `tag while revoked` and waits until the teacher's
// inbox has it, then grants maria again and records `tag after`. Her feed
// must carry the new grant and `tag after`, and never `tag while revoked`.
func (r *regrant) away(t *testing.T, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(as(context.Background(), r.admin), 30*time.Second)
	defer cancel()
	if _, err := r.progress.DeleteGuardianship(ctx, &progressv1.DeleteGuardianshipRequest{Name: r.child + "/guardians/maria"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	poll(t, "the revocation to reach maria's inbox", func() bool {
		for _, n := range r.inboxAfter(t, 0) {
			if n.GetChild() == r.child {
				return false
			}
		}
		return true
	})
	r.record(t, tag+" while revoked")
	poll(t, "the teacher's inbox to show what was recorded while maria was away", func() bool {
		return assessmentsIn(t, r.inbox, r.teacher)[tag+" while revoked"] == 1
	})
	if _, err := r.progress.CreateGuardianship(ctx, &progressv1.CreateGuardianshipRequest{Parent: r.child,
		Guardianship: &progressv1.Guardianship{User: "maria", Role: progressv1.Role_ROLE_GUARDIAN}}); err != nil {
		t.Fatalf("grant again: %v", err)
	}
	r.record(t, tag+" after")
}

// inboxAfter returns maria's notifications after a sequence, oldest first.
func (r *regrant) inboxAfter(t *testing.T, after int64) []*notificationv1.Notification {
	t.Helper()
	var out []*notificationv1.Notification
	for page := ""; ; {
		ctx, cancel := context.WithTimeout(as(context.Background(), r.maria), 10*time.Second)
		resp, err := r.inbox.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1000, PageToken: page})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNotifications() {
			if n.GetSequence() > after {
				out = append(out, n)
			}
		}
		if page = resp.GetNextPageToken(); page == "" {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// requireInbox checks that what a feed carried after from (bodies, in
// order) is exactly maria's inbox after from: nothing skipped, nothing
// that is not hers.
func (r *regrant) requireInbox(t *testing.T, what string, from int64, got []string) {
	t.Helper()
	var want []string
	for _, n := range r.inboxAfter(t, from) {
		want = append(want, n.GetBody())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s carried %q after %d; the inbox holds %q", what, got, from, want)
	}
}

// poll waits until cond holds, failing after a minute.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// grpcStream is a StreamNotifications call read into a channel: every
// message, then the error it ended with.
type grpcStream struct {
	messages chan *notificationv1.StreamNotificationsResponse
	err      error // set before messages closes
}

func openGRPCStream(t *testing.T, ctx context.Context, client notificationv1.NotificationServiceClient, token, resume string) *grpcStream {
	t.Helper()
	stream, err := client.StreamNotifications(as(ctx, token), &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: resume})
	if err != nil {
		t.Fatal(err)
	}
	s := &grpcStream{messages: make(chan *notificationv1.StreamNotificationsResponse, 100)}
	go func() {
		defer close(s.messages)
		for {
			resp, err := stream.Recv()
			if err != nil {
				s.err = err
				return
			}
			s.messages <- resp
		}
	}()
	return s
}

// next returns the stream's next message.
func (s *grpcStream) next(t *testing.T) *notificationv1.StreamNotificationsResponse {
	t.Helper()
	select {
	case resp, ok := <-s.messages:
		if !ok {
			t.Fatalf("the stream ended: %v", s.err)
		}
		return resp
	case <-time.After(30 * time.Second):
		t.Fatal("the stream sent nothing for 30s")
	}
	return nil
}

// notifications returns the bodies of the next n notifications, and the
// resume token of the last message read.
func (s *grpcStream) notifications(t *testing.T, n int) (bodies []string, token string) {
	t.Helper()
	for len(bodies) < n {
		resp := s.next(t)
		token = resp.GetResumeToken()
		if nt := resp.GetNotification(); nt != nil {
			if strconv.FormatInt(nt.GetSequence(), 10) != token {
				t.Errorf("notification #%d came with resume token %q", nt.GetSequence(), token)
			}
			bodies = append(bodies, nt.GetBody())
		}
	}
	return bodies, token
}

// refused checks that a stream ended with code before any message.
func (s *grpcStream) refused(t *testing.T, what string, code codes.Code) {
	t.Helper()
	select {
	case resp, ok := <-s.messages:
		if ok {
			t.Fatalf("%s: the stream sent %v", what, resp)
		}
		if status.Code(s.err) != code {
			t.Fatalf("%s: %v, want %v", what, s.err, code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer", what)
	}
}

// refusedOverHTTP checks the gateway's answer to a live request that
// resumes from a bad position: 400, the JSON error shape, the code, and a
// field violation naming the parameter.
func refusedOverHTTP(t *testing.T, req *http.Request, code codes.Code, param string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Code    codes.Code
		Details []struct{ FieldViolations []struct{ Field string } }
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != http.StatusBadRequest || body.Code != code ||
		len(body.Details) == 0 || len(body.Details[0].FieldViolations) == 0 || body.Details[0].FieldViolations[0].Field != param {
		t.Fatalf("%s %s: %d %s, want 400 with code %d naming %s", req.Method, req.URL, resp.StatusCode, b, code, param)
	}
}

// TestRegrantedGuardianLiveFeeds follows maria's live feed over each
// transport, with the real clients, while she is removed from her child
// and added again: the feed left open carries what is recorded after the
// new grant, live, and never what was recorded while she was away;
// reconnecting from the last position skips nothing of her inbox; resume
// positions no feed issued are refused in a way the client can tell from
// a lost connection.
func TestRegrantedGuardianLiveFeeds(t *testing.T) {
	p := serve(t, t.TempDir(), nil)
	granted := "maria may now follow as guardian"

	t.Run("gRPC", func(t *testing.T) {
		r := newRegrant(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := openGRPCStream(t, ctx, r.inbox, r.maria, "")
		hello := first.next(t) // a heartbeat at once, with where the stream starts
		if hello.GetHeartbeat() == nil {
			t.Fatalf("the stream began with %v, not a heartbeat", hello)
		}
		start, err := strconv.ParseInt(hello.GetResumeToken(), 10, 64)
		if err != nil {
			t.Fatalf("heartbeat resume token %q", hello.GetResumeToken())
		}
		r.record(t, "grpc before")
		if got, _ := first.notifications(t, 1); got[0] != "grpc before" {
			t.Fatalf("first: %q", got)
		}
		r.away(t, "grpc")
		got, last := first.notifications(t, 2)
		if want := []string{granted, "grpc after"}; !slices.Equal(got, want) {
			t.Fatalf("the open stream carried %q after the new grant, want %q", got, want)
		}
		cancel()

		// From the first heartbeat's position the inbox is replayed whole
		// (what was withdrawn left it); from the last one, nothing is.
		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel2()
		replay := openGRPCStream(t, ctx2, r.inbox, r.maria, hello.GetResumeToken())
		got, _ = replay.notifications(t, 2)
		r.requireInbox(t, "the replay from the first heartbeat", start, got)
		resumed := openGRPCStream(t, ctx2, r.inbox, r.maria, last)
		r.record(t, "grpc resumed")
		got, _ = resumed.notifications(t, 1)
		from, _ := strconv.ParseInt(last, 10, 64)
		r.requireInbox(t, "the stream resumed from the last token", from, got)

		end := strconv.FormatInt(from+1, 10) // the inbox's end is grpc resumed
		openGRPCStream(t, ctx2, r.inbox, r.maria, "abc").refused(t, "resume token abc", codes.InvalidArgument)
		openGRPCStream(t, ctx2, r.inbox, r.maria, strconv.FormatInt(from+2, 10)).refused(t, "a resume token beyond the inbox", codes.OutOfRange)
		openGRPCStream(t, ctx2, r.inbox, r.maria, end).next(t) // the end itself is a position
	})

	t.Run("EventSource", func(t *testing.T) {
		dir := nodeClients(t)
		r := newRegrant(t, p)
		timeout := strconv.Itoa(int(clientTimeout / time.Millisecond))
		feed := func(lastEventID string) string {
			return "http://" + p.gateway + "/v1/notifications/events?" + url.Values{"access_token": {r.maria}, "last_event_id": {lastEventID}}.Encode()
		}
		start := r.position(t)
		es := runNode(t, dir, "sse.mjs", feed(start), "3", timeout)
		es.expect(t, "open")
		r.record(t, "sse before")
		before := es.notifications(t, 1)
		r.away(t, "sse")
		after := es.notifications(t, 2)
		es.finished(t)
		var got []string
		for _, l := range append(before, after...) {
			got = append(got, l.Body)
		}
		if want := []string{"sse before", granted, "sse after"}; !slices.Equal(got, want) {
			t.Fatalf("EventSource carried %q, want %q", got, want)
		}

		last := after[len(after)-1].ID
		resumed := runNode(t, dir, "sse.mjs", feed(last), "1", timeout)
		resumed.expect(t, "open")
		r.record(t, "sse resumed")
		from, _ := strconv.ParseInt(last, 10, 64)
		r.requireInbox(t, "EventSource resumed from its last id", from, []string{resumed.notifications(t, 1)[0].Body})
		resumed.finished(t)

		// A refused position is a failed connection EventSource does not
		// retry (a 400), not an error event it reconnects after.
		for _, bad := range []string{"abc", strconv.FormatInt(from+2, 10)} {
			es := runNode(t, dir, "sse.mjs", feed(bad), "1", timeout)
			l := es.next(t)
			var failed struct {
				Kind string
				Code int
			}
			if err := json.Unmarshal([]byte(l.raw), &failed); err != nil || failed.Kind != "failed" || failed.Code != http.StatusBadRequest {
				t.Fatalf("EventSource from last_event_id %s: %s, want a failed connection with 400; it printed:\n%s", bad, l.raw, es.output)
			}
		}
		for _, bad := range []struct {
			id   string
			code codes.Code
		}{{"abc", codes.InvalidArgument}, {strconv.FormatInt(from+2, 10), codes.OutOfRange}} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+p.gateway+"/v1/notifications/events", nil)
			req.Header.Set("Authorization", "Bearer "+r.maria)
			req.Header.Set("Last-Event-ID", bad.id)
			refusedOverHTTP(t, req, bad.code, "Last-Event-ID")
		}
	})

	t.Run("WebSocket", func(t *testing.T) {
		dir := nodeClients(t)
		r := newRegrant(t, p)
		timeout := strconv.Itoa(int(clientTimeout / time.Millisecond))
		feed := func(resume string) string {
			return "ws://" + p.gateway + "/v1/notifications/ws?" + url.Values{"access_token": {r.maria}, "resume": {resume}}.Encode()
		}
		ws := runNode(t, dir, "ws.mjs", feed(r.position(t)), "3", timeout)
		ws.expect(t, "open")
		r.record(t, "ws before")
		before := ws.notifications(t, 1)
		r.away(t, "ws")
		after := ws.notifications(t, 2)
		ws.expect(t, "closed")
		ws.finished(t)
		var got []string
		for _, l := range append(before, after...) {
			got = append(got, l.Body)
		}
		if want := []string{"ws before", granted, "ws after"}; !slices.Equal(got, want) {
			t.Fatalf("the WebSocket carried %q, want %q", got, want)
		}

		last := after[len(after)-1].ResumeToken
		resumed := runNode(t, dir, "ws.mjs", feed(last), "1", timeout)
		resumed.expect(t, "open")
		r.record(t, "ws resumed")
		from, _ := strconv.ParseInt(last, 10, 64)
		r.requireInbox(t, "the WebSocket resumed from its last token", from, []string{resumed.notifications(t, 1)[0].Body})
		resumed.expect(t, "closed")
		resumed.finished(t)

		for _, bad := range []struct {
			resume string
			code   codes.Code
		}{{"abc", codes.InvalidArgument}, {strconv.FormatInt(from+2, 10), codes.OutOfRange}} {
			ws := runNode(t, dir, "ws.mjs", feed(bad.resume), "1", timeout)
			l := ws.next(t)
			var failed struct {
				Kind   string
				Status int
			}
			if err := json.Unmarshal([]byte(l.raw), &failed); err != nil || failed.Kind != "failed" || failed.Status != http.StatusBadRequest {
				t.Fatalf("WebSocket from resume %s: %s, want a refused upgrade with 400; it printed:\n%s", bad.resume, l.raw, ws.output)
			}
			req, _ := http.NewRequest(http.MethodGet, strings.Replace(feed(bad.resume), "ws://", "http://", 1), nil)
			refusedOverHTTP(t, req, bad.code, "resume")
		}
	})
}

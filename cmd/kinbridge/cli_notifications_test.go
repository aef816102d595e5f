package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// The tests in this file run `kinbridge notifications ...` in process:
// against a real `serve all`, through a TCP proxy that can cut the
// connection, and against a scripted stream for the ends a real service
// cannot be made to produce on cue (ABORTED, UNAVAILABLE).

// waitFor bounds every wait of these tests: generous, since a wait that
// succeeds returns at once, and only a broken watch ever waits this long.
const waitFor = 30 * time.Second

// lineFeed collects what a command prints, line by line, as it prints it.
type lineFeed struct {
	ch   chan string // every line, in order
	done chan struct{}
	mu   sync.Mutex
	all  []string
}

func feedLines(r io.Reader) *lineFeed {
	f := &lineFeed{ch: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer close(f.ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			f.mu.Lock()
			f.all = append(f.all, sc.Text())
			f.mu.Unlock()
			f.ch <- sc.Text()
		}
	}()
	return f
}

func (f *lineFeed) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.all)
}

// nextLine returns the next line, waiting (bounded) for it.
func nextLine(t *testing.T, f *lineFeed, what string) string {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	select {
	case line, ok := <-f.ch:
		if !ok {
			t.Fatalf("%s: the output ended; it was:\n%s", what, strings.Join(f.lines(), "\n"))
		}
		return line
	case <-timer.C:
		t.Fatalf("%s: nothing printed; so far:\n%s", what, strings.Join(f.lines(), "\n"))
	}
	return ""
}

// waitLine skips lines until one contains text, waiting (bounded) for it.
func waitLine(t *testing.T, f *lineFeed, what, text string) string {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-f.ch:
			if !ok {
				t.Fatalf("%s: the output ended without %q:\n%s", what, text, strings.Join(f.lines(), "\n"))
			}
			if strings.Contains(line, text) {
				return line
			}
		case <-deadline.C:
			t.Fatalf("%s: no line with %q; so far:\n%s", what, text, strings.Join(f.lines(), "\n"))
		}
	}
}

// watchRun is a `kinbridge notifications watch` running in the background
// until stop (or the end of the test) interrupts it, as Ctrl-C would.
type watchRun struct {
	cancel      context.CancelFunc
	done        chan error
	out, errOut *lineFeed
	once        sync.Once
	err         error
}

func startWatch(t *testing.T, args ...string) *watchRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	w := &watchRun{cancel: cancel, done: make(chan error, 1), out: feedLines(outR), errOut: feedLines(errR)}
	go func() {
		err := run(ctx, append([]string{"notifications", "watch"}, args...), outW, errW)
		outW.Close()
		errW.Close()
		w.done <- err
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop interrupts the watch and returns how it ended, once everything it
// printed has been read.
func (w *watchRun) stop(t *testing.T) error {
	t.Helper()
	w.once.Do(func() {
		w.cancel()
		timer := time.NewTimer(waitFor)
		defer timer.Stop()
		select {
		case w.err = <-w.done:
		case <-timer.C:
			t.Fatal("the watch did not stop when interrupted")
		}
		for range w.out.ch { // lines no one waited for stay in out.all
		}
		for range w.errOut.ch {
		}
	})
	return w.err
}

// sequenceOf reads the sequence a watch line starts with.
func sequenceOf(t *testing.T, line string) int64 {
	t.Helper()
	first, _, _ := strings.Cut(line, "  ")
	seq, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		t.Fatalf("watch line without a sequence: %q", line)
	}
	return seq
}

func TestCLINotificationsListCountRead(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher, olga := s.userToken(t, "maria", false), s.userToken(t, "teacher", false), s.userToken(t, "olga", false)
	s.settled(t, maria, "teacher may now follow")
	for _, title := range []string{"one", "two", "three"} {
		s.record(t, child, teacher, title)
	}
	s.settled(t, maria, "three: 9/10")
	t.Setenv("KINBRIDGE_NOTIFICATION_ADDR", s.notification)
	t.Setenv("KINBRIDGE_TOKEN", maria)
	t.Setenv("KINBRIDGE_ADDR", "127.0.0.1:1") // the progress address plays no part

	// Two guardians granted (maria, teacher), then three assessments.
	rows := tableRows(t, mustKB(t, "notifications", "list"), "SEQUENCE")
	if len(rows) != 5 {
		t.Fatalf("rows %q", rows)
	}
	for i, body := range []string{"three: 9/10", "two: 9/10", "one: 9/10"} {
		if r := rows[i]; len(r) != 6 || r[2] != child || r[3] != "New assessment in Math" || r[4] != body || r[5] != "no" {
			t.Errorf("row %d: %q, want the assessment %q, unread", i, r, body)
		}
	}
	seqs := make([]int64, len(rows))
	for i, r := range rows {
		seq, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil || (i > 0 && seq >= seqs[i-1]) {
			t.Fatalf("sequences not newest first: %q", rows)
		}
		seqs[i] = seq
	}
	seq := func(i int) string { return strconv.FormatInt(seqs[i], 10) }

	t.Run("every page", func(t *testing.T) {
		if paged := tableRows(t, mustKB(t, "notifications", "list", "--page-size", "2"), "SEQUENCE"); !slices.EqualFunc(paged, rows, slices.Equal) {
			t.Fatalf("paged %q, want %q", paged, rows)
		}
	})
	t.Run("up to a limit", func(t *testing.T) {
		out := mustKB(t, "notifications", "list", "--limit", "2", "--page-size", "1")
		if got := tableRows(t, out, "SEQUENCE"); !slices.EqualFunc(got, rows[:2], slices.Equal) {
			t.Fatalf("limited %q", got)
		}
		if !strings.Contains(out, "raise --limit") {
			t.Errorf("no word of the older ones:\n%s", out)
		}
		var resp notificationv1.ListNotificationsResponse
		if err := protojson.Unmarshal([]byte(mustKB(t, "notifications", "list", "--limit", "3", "--json")), &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.GetNotifications()) != 3 || resp.GetNotifications()[0].GetSequence() != seqs[0] || resp.GetNextPageToken() == "" {
			t.Fatalf("--json: %v", &resp)
		}
		if out := mustKB(t, "notifications", "list", "--limit", "5"); strings.Contains(out, "raise --limit") {
			t.Errorf("a limit that left nothing out:\n%s", out)
		}
	})
	t.Run("count", func(t *testing.T) {
		if out := mustKB(t, "notifications", "count"); out != "5 unread notifications.\n" {
			t.Fatalf("count %q", out)
		}
		var resp notificationv1.CountUnreadNotificationsResponse
		if err := protojson.Unmarshal([]byte(mustKB(t, "notifications", "count", "--json")), &resp); err != nil || resp.GetUnreadCount() != 5 {
			t.Fatalf("--json: %v, %v", &resp, err)
		}
	})
	t.Run("read one, by sequence", func(t *testing.T) {
		if out := mustKB(t, "notifications", "read", seq(0)); out != "Marked 1 notification read.\n" {
			t.Fatalf("read: %q", out)
		}
		if out := mustKB(t, "notifications", "count"); out != "4 unread notifications.\n" {
			t.Fatalf("count %q", out)
		}
		if got := tableRows(t, mustKB(t, "notifications", "list"), "SEQUENCE"); got[0][0] != seq(0) || got[0][5] != "yes" || got[1][5] != "no" {
			t.Fatalf("after reading one: %q", got)
		}
		unread := tableRows(t, mustKB(t, "notifications", "list", "--unread"), "SEQUENCE")
		if len(unread) != 4 || unread[0][0] != seq(1) {
			t.Fatalf("unread %q", unread)
		}
		if out := mustKB(t, "notifications", "read", seq(0)); !strings.HasPrefix(out, "Nothing changed") {
			t.Fatalf("read again: %q", out)
		}
	})
	t.Run("read two, by name and by sequence", func(t *testing.T) {
		if out := mustKB(t, "notifications", "read", "users/maria/notifications/"+seq(1), seq(2)); out != "Marked 2 notifications read.\n" {
			t.Fatalf("read: %q", out)
		}
	})
	t.Run("another user has an inbox of her own", func(t *testing.T) {
		if out := mustKB(t, "notifications", "count", "--token", olga); out != "No unread notifications.\n" {
			t.Fatalf("olga's count %q", out)
		}
		if out := mustKB(t, "notifications", "read", seq(3), "--token", olga); !strings.HasPrefix(out, "Nothing changed") {
			t.Fatalf("olga marked maria's: %q", out)
		}
		if _, err := kb(t, "notifications", "read", "users/maria/notifications/"+seq(3), "--token", olga); err == nil || !strings.Contains(err.Error(), "names[0]") {
			t.Fatalf("olga named maria's: %v", err)
		}
		if out := mustKB(t, "notifications", "count"); out != "2 unread notifications.\n" {
			t.Fatalf("maria's count after olga tried: %q", out)
		}
	})
	t.Run("read all", func(t *testing.T) {
		if out := mustKB(t, "notifications", "read", "--all"); out != "Marked 2 notifications read.\n" {
			t.Fatalf("read --all: %q", out)
		}
		if out := mustKB(t, "notifications", "count"); out != "No unread notifications.\n" {
			t.Fatalf("count %q", out)
		}
		if out := mustKB(t, "notifications", "list", "--unread"); out != "No unread notifications.\n" {
			t.Fatalf("list --unread %q", out)
		}
		if out := mustKB(t, "notifications", "list", "--token", olga); out != "No notifications.\n" {
			t.Fatalf("olga's list %q", out)
		}
	})
	t.Run("an unreachable service is named with its flag", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close()
		_, err = kb(t, "notifications", "count", "--notification-addr", addr)
		if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the notification service at "+addr+" (--notification-addr, KINBRIDGE_NOTIFICATION_ADDR): ") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCLINotificationsRefuseBadInputBeforeAnyCall(t *testing.T) {
	addr, connections := countingListener(t)
	t.Setenv("KINBRIDGE_NOTIFICATION_ADDR", addr)
	t.Setenv("KINBRIDGE_TOKEN", "some-token")
	tooMany := append([]string{"notifications", "read"}, slices.Repeat([]string{"7"}, maxMarked+1)...)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"read nothing", []string{"notifications", "read"}, "which notifications?"},
		{"read both", []string{"notifications", "read", "3", "--all"}, "not both"},
		{"read a word", []string{"notifications", "read", "three"}, `"three" is not a notification`},
		{"read zero", []string{"notifications", "read", "0"}, `"0" is not a notification`},
		{"read a bad name", []string{"notifications", "read", "users/me/notifications/x"}, "is not a notification"},
		{"read another resource", []string{"notifications", "read", "children/abc"}, "is not a notification"},
		{"read too many", tooMany, "at most 1000 notifications at once, got 1001"},
		{"list page size", []string{"notifications", "list", "--page-size", "0"}, "--page-size must be 1 to 1000"},
		{"list negative limit", []string{"notifications", "list", "--limit", "-1"}, "--limit must be 0 (all) or more"},
		{"count with arguments", []string{"notifications", "count", "now"}, "unexpected arguments: now"},
		{"watch with arguments", []string{"notifications", "watch", "42"}, "unexpected arguments: 42"},
		{"unknown flag", []string{"notifications", "watch", "--follow"}, "flag provided but not defined: -follow"},
		{"unknown command", []string{"notifications", "clear"}, `unknown command "notifications clear"`},
		{"no token", []string{"notifications", "count", "--token", " "}, "no token: pass --token or export KINBRIDGE_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := kb(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("printed %q on a refusal", out)
			}
		})
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("bad input reached the service: %d connections", n)
	}

	var help bytes.Buffer
	if err := run(context.Background(), []string{"notifications", "watch", "-h"}, &help, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("watch -h: %v", err)
	}
	for _, want := range []string{"Usage: kinbridge notifications watch [--resume TOKEN]", "-resume", "-notification-addr", "KINBRIDGE_NOTIFICATION_ADDR", "127.0.0.1:9103", "KINBRIDGE_TOKEN"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("watch -h lacks %q:\n%s", want, help.String())
		}
	}
	group := mustKB(t, "notifications", "help")
	for _, sub := range notificationsCommands {
		if !strings.Contains(group, "kinbridge notifications "+sub.name) {
			t.Errorf("notifications help lacks %s:\n%s", sub.name, group)
		}
	}
	if top := mustKB(t, "help"); !strings.Contains(top, "kinbridge notifications watch") {
		t.Errorf("the usage does not mention notifications:\n%s", top)
	}
}

func TestCLINotificationsWatchPrintsWhatIsRecorded(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")

	text := startWatch(t, "--notification-addr", s.notification, "--token", maria)
	asJSON := startWatch(t, "--notification-addr", s.notification, "--token", maria, "--json")
	// Once a watch says it is watching, its starting point is fixed:
	// whatever is recorded from then on reaches it.
	waitLine(t, text.errOut, "the text watch", "Watching your notifications at "+s.notification)
	waitLine(t, asJSON.errOut, "the JSON watch", "Watching your notifications")

	s.record(t, child, teacher, "Fractions quiz")

	line := nextLine(t, text.out, "the text watch")
	fields := strings.Split(line, "  ")
	if len(fields) != 4 || fields[2] != child || fields[3] != "New assessment in Math — Fractions quiz: 9/10" {
		t.Fatalf("watch line %q", line)
	}
	seq := sequenceOf(t, line)

	var n notificationv1.Notification
	if err := protojson.Unmarshal([]byte(nextLine(t, asJSON.out, "the JSON watch")), &n); err != nil {
		t.Fatal(err)
	}
	if n.GetSequence() != seq || n.GetType() != notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED || n.GetChild() != child || n.GetBody() != "Fractions quiz: 9/10" || n.GetRead() {
		t.Fatalf("JSON watch: %v", &n)
	}

	for _, w := range []*watchRun{text, asJSON} {
		if err := w.stop(t); err != nil {
			t.Fatalf("an interrupted watch ended with %v", err)
		}
		if out := w.out.lines(); len(out) != 1 {
			t.Errorf("printed %q, want the one notification", out)
		}
		errOut := w.errOut.lines()
		if last := errOut[len(errOut)-1]; last != fmt.Sprintf("To continue from here: kinbridge notifications watch --resume %d", seq) {
			t.Errorf("last words %q", last)
		}
	}
}

func TestCLINotificationsWatchSurvivesACutConnection(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")
	proxy := testenv.NewProxy(t, s.notification)

	w := startWatch(t, "--notification-addr", proxy.Addr(), "--token", maria)
	waitLine(t, w.errOut, "the watch", "Watching your notifications")

	s.record(t, child, teacher, "one")
	if line := nextLine(t, w.out, "before the cut"); !strings.HasSuffix(line, "— one: 9/10") {
		t.Fatalf("before the cut: %q", line)
	}

	proxy.Cut()
	waitLine(t, w.errOut, "the watch after the cut", "Watch interrupted: cannot reach the notification service at "+proxy.Addr())
	s.record(t, child, teacher, "two")
	s.record(t, child, teacher, "three")
	s.settled(t, maria, "three: 9/10") // delivered to the inbox while the watch is cut off
	proxy.Restore()

	for _, want := range []string{"two", "three"} {
		if line := nextLine(t, w.out, "after the cut"); !strings.HasSuffix(line, "— "+want+": 9/10") {
			t.Fatalf("want %s next, got %q", want, line)
		}
	}
	// Whatever the resumed stream might print twice, it would print before
	// what is recorded next: once that arrives, the output is complete.
	s.record(t, child, teacher, "four")
	if line := nextLine(t, w.out, "live after the cut"); !strings.HasSuffix(line, "— four: 9/10") {
		t.Fatalf("live after the cut: %q", line)
	}
	if err := w.stop(t); err != nil {
		t.Fatalf("the watch ended with %v", err)
	}

	out := w.out.lines()
	if len(out) != 4 {
		t.Fatalf("want each of the four once, got:\n%s", strings.Join(out, "\n"))
	}
	for i, want := range []string{"one", "two", "three", "four"} {
		if !strings.HasSuffix(out[i], "— "+want+": 9/10") || (i > 0 && sequenceOf(t, out[i]) <= sequenceOf(t, out[i-1])) {
			t.Fatalf("line %d is not %s, in order:\n%s", i, want, strings.Join(out, "\n"))
		}
	}
	if n := proxy.Connections(); n < 2 {
		t.Errorf("the watch never connected again: %d connections", n)
	}

	// Resuming after the first starts right after it.
	resumed := startWatch(t, "--notification-addr", s.notification, "--token", maria, "--resume", strconv.FormatInt(sequenceOf(t, out[0]), 10))
	for _, want := range out[1:] {
		if got := nextLine(t, resumed.out, "the resumed watch"); got != want {
			t.Fatalf("resumed: %q, want %q", got, want)
		}
	}
}

// scriptedFeed is a NotificationService whose n-th stream runs script[n],
// recording the resume token each stream asked for; streams beyond the
// script stay open and silent.
type scriptedFeed struct {
	notificationv1.UnimplementedNotificationServiceServer
	script []func(notificationv1.NotificationService_StreamNotificationsServer) error
	mu     sync.Mutex
	tokens []string
}

func (f *scriptedFeed) StreamNotifications(req *notificationv1.StreamNotificationsRequest, stream notificationv1.NotificationService_StreamNotificationsServer) error {
	f.mu.Lock()
	i := len(f.tokens)
	f.tokens = append(f.tokens, req.GetResumeToken())
	f.mu.Unlock()
	if i < len(f.script) {
		return f.script[i](stream)
	}
	<-stream.Context().Done()
	return nil
}

func (f *scriptedFeed) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tokens)
}

func serveFeed(t *testing.T, f *scriptedFeed) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	notificationv1.RegisterNotificationServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// send sends the notification seq (token: its sequence) or, with seq 0, a
// heartbeat with the given token.
func send(stream notificationv1.NotificationService_StreamNotificationsServer, seq int64, token string) error {
	resp := &notificationv1.StreamNotificationsResponse{ResumeToken: token}
	if seq > 0 {
		resp.Event = &notificationv1.StreamNotificationsResponse_Notification{Notification: &notificationv1.Notification{
			Name: fmt.Sprintf("users/maria/notifications/%d", seq), Sequence: seq, Child: "children/ada",
			Title: "New milestone", Body: fmt.Sprintf("number %d", seq), CreateTime: timestamppb.Now(),
		}}
	} else {
		resp.Event = &notificationv1.StreamNotificationsResponse_Heartbeat{Heartbeat: &notificationv1.Heartbeat{Time: timestamppb.Now()}}
	}
	return stream.Send(resp)
}

func sendAll(stream notificationv1.NotificationService_StreamNotificationsServer, msgs ...[2]int64) error {
	for _, m := range msgs {
		if err := send(stream, m[0], strconv.FormatInt(m[1], 10)); err != nil {
			return err
		}
	}
	return nil
}

func TestNotificationWatchResumesAfterAbortedAndUnavailable(t *testing.T) {
	f := &scriptedFeed{script: []func(notificationv1.NotificationService_StreamNotificationsServer) error{
		// 6, a heartbeat at 7 (7 was for no one this stream carries), then
		// too slow: the end names 8, beyond what the stream said.
		func(s notificationv1.NotificationService_StreamNotificationsServer) error {
			if err := sendAll(s, [2]int64{6, 6}, [2]int64{0, 7}); err != nil {
				return err
			}
			return status.Error(codes.Aborted, "the stream fell behind; resume with resume_token 8")
		},
		// 9 twice, a heartbeat at 10, then an end that names no token, as
		// a proxy's would: the heartbeat's is where to resume.
		func(s notificationv1.NotificationService_StreamNotificationsServer) error {
			if err := sendAll(s, [2]int64{9, 9}, [2]int64{9, 9}, [2]int64{0, 10}); err != nil {
				return err
			}
			return status.Error(codes.Unavailable, "transport is closing")
		},
		// A replay that overlaps what was printed, then something new.
		func(s notificationv1.NotificationService_StreamNotificationsServer) error {
			if err := sendAll(s, [2]int64{6, 6}, [2]int64{9, 9}, [2]int64{11, 11}); err != nil {
				return err
			}
			<-s.Context().Done()
			return nil
		},
	}}
	addr := serveFeed(t, f)
	w := startWatch(t, "--notification-addr", addr, "--token", "t", "--resume", "5")
	var got []int64
	for len(got) < 3 {
		got = append(got, sequenceOf(t, nextLine(t, w.out, "the watch")))
	}
	if err := w.stop(t); err != nil {
		t.Fatalf("the watch ended with %v", err)
	}
	if !slices.Equal(got, []int64{6, 9, 11}) || len(w.out.lines()) != 3 {
		t.Fatalf("printed %q, want 6, 9 and 11 once each", w.out.lines())
	}
	if asked := f.asked(); !slices.Equal(asked, []string{"5", "8", "10"}) {
		t.Fatalf("streams resumed from %q, want 5, then 8 (ABORTED), then 10 (the heartbeat before UNAVAILABLE)", asked)
	}
	errOut := strings.Join(w.errOut.lines(), "\n")
	for _, want := range []string{"Watch interrupted: the stream fell behind", "Resuming from resume token 8 in ", "Resuming from resume token 10 in ", "--resume 11"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestNotificationWatchStopsOnWhatNoRetryFixes(t *testing.T) {
	f := &scriptedFeed{script: []func(notificationv1.NotificationService_StreamNotificationsServer) error{
		func(s notificationv1.NotificationService_StreamNotificationsServer) error {
			if err := sendAll(s, [2]int64{3, 3}); err != nil {
				return err
			}
			return status.Error(codes.Unavailable, "going away")
		},
		func(notificationv1.NotificationService_StreamNotificationsServer) error {
			return status.Error(codes.Unauthenticated, "token expired")
		},
	}}
	addr := serveFeed(t, f)
	w := startWatch(t, "--notification-addr", addr, "--token", "t", "--resume", "2")
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	var err error
	select {
	case err = <-w.done:
		w.done <- err // for stop
	case <-timer.C:
		t.Fatal("the watch kept retrying an expired token")
	}
	if err == nil || !strings.HasPrefix(err.Error(), "not signed in: token expired") {
		t.Fatalf("got %v", err)
	}
	w.stop(t)
	if out := w.out.lines(); len(out) != 1 || sequenceOf(t, out[0]) != 3 {
		t.Fatalf("printed %q", out)
	}
	if errOut := w.errOut.lines(); errOut[len(errOut)-1] != "To continue from here: kinbridge notifications watch --resume 3" {
		t.Fatalf("stderr %q", errOut)
	}
}

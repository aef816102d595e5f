package gateway

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// floodLive stands in for the notification service's LiveService: every
// watch receives `count` notifications as fast as its credit allows, and
// ends as fell_behind when its credit stays exhausted, as the real one
// does when its live buffer overflows.
type floodLive struct {
	notificationpeerv1.UnimplementedLiveServiceServer
	count int
	// fellBehind is closed when a watch is ended for want of credit.
	fellBehind     chan struct{}
	fellBehindOnce sync.Once
}

func (f *floodLive) Watch(stream notificationpeerv1.LiveService_WatchServer) error {
	var sendMu, mu sync.Mutex
	credit := map[int64]chan struct{}{}
	send := func(r *notificationpeerv1.WatchResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		if c := req.GetCredit(); c != nil {
			mu.Lock()
			for range c.GetCount() {
				credit[c.GetWatchId()] <- struct{}{}
			}
			mu.Unlock()
			continue
		}
		start := req.GetStart()
		if start == nil {
			continue
		}
		if send(&notificationpeerv1.WatchResponse{WatchId: start.GetWatchId(), ResumeToken: "0",
			Event: &notificationpeerv1.WatchResponse_Started{Started: &notificationpeerv1.WatchStarted{}}}) != nil {
			return nil
		}
		tokens := make(chan struct{}, f.count)
		for range start.GetInitialCredit() {
			tokens <- struct{}{}
		}
		mu.Lock()
		credit[start.GetWatchId()] = tokens
		mu.Unlock()
		go func(id int64) {
			for i := 1; i <= f.count; i++ {
				select {
				case <-tokens:
				case <-time.After(2 * time.Second): // patient enough for a reader on a loaded machine
					send(&notificationpeerv1.WatchResponse{WatchId: id, ResumeToken: strconv.Itoa(i - 1),
						Event: &notificationpeerv1.WatchResponse_Ended{Ended: &notificationpeerv1.WatchEnded{Reason: "fell behind", FellBehind: true}}})
					if f.fellBehind != nil {
						f.fellBehindOnce.Do(func() { close(f.fellBehind) })
					}
					return
				}
				// Bodies large enough that a stalled reader's socket buffers fill.
				n := &notificationv1.Notification{Sequence: int64(i), Title: "n" + strconv.Itoa(i), Body: strings.Repeat("x", 2048)}
				if send(&notificationpeerv1.WatchResponse{WatchId: id, ResumeToken: strconv.Itoa(i),
					Event: &notificationpeerv1.WatchResponse_Notification{Notification: n}}) != nil {
					return
				}
			}
		}(start.GetWatchId())
	}
}

// TestSlowBrowserIsToldToResume floods two browsers through one upstream
// stream: one reads, one does not. The reader gets everything; the stalled
// one is told to resume, and what it did get has no hole in it.
func TestSlowBrowserIsToldToResume(t *testing.T) {
	const total = 10000
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	flood := &floodLive{count: total, fellBehind: make(chan struct{})}
	notificationpeerv1.RegisterLiveServiceServer(gs, flood)
	go gs.Serve(lis)
	defer gs.Stop()

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{ProgressTarget: "127.0.0.1:1", NotificationTarget: lis.Addr().String(),
		Verifier: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	token, _ := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)

	open := func() *http.Response {
		resp, err := http.Get(srv.URL + "/v1/notifications/events?access_token=" + token)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("SSE: %v %v", resp, err)
		}
		return resp
	}
	// read returns the ids of the notification events and the last event's name.
	read := func(body io.Reader) (ids []int, last string) {
		sc := bufio.NewScanner(body)
		id := 0
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id, _ = strconv.Atoi(v)
			}
			if ev, ok := strings.CutPrefix(line, "event: "); ok {
				last = ev
				if ev == "resume" {
					return ids, last
				}
				if ev == "notification" {
					ids = append(ids, id)
				}
			}
			if len(ids) == total {
				return ids, last
			}
		}
		return ids, last
	}

	// The stalled browser is a raw connection with a small receive buffer,
	// so the kernel cannot absorb the flood on its behalf (loopback
	// autotuning would take tens of megabytes).
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /v1/notifications/events?access_token=%s HTTP/1.1\r\nHost: kinbridge\r\n\r\n", token)
	reader := open()
	defer reader.Body.Close()

	got, _ := read(reader.Body)
	if len(got) != total {
		t.Fatalf("the reading browser got %d of %d while another stalled", len(got), total)
	}
	// Only once notification has ended its watch for want of credit does
	// the stalled browser read (reading earlier would give credit back),
	// with a normal buffer again (a 16 KiB window would make reading the
	// backlog crawl).
	select {
	case <-flood.fellBehind:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled browser's watch was never ended for want of credit")
	}
	if err := conn.(*net.TCPConn).SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	stalled, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || stalled.StatusCode != 200 {
		t.Fatalf("stalled SSE: %v %v", stalled, err)
	}
	ids, last := read(stalled.Body)
	if last != "resume" {
		t.Fatalf("the stalled browser was not told to resume (last event %q, %d ids)", last, len(ids))
	}
	for i, id := range ids {
		if id != i+1 {
			t.Fatalf("the stalled browser's events have a hole at %d (got id %d): it must resume, not skip", i+1, id)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// Titles of the assessments the benchmark records; the notification's body
// is the assessment's title, which is how a delivery is matched to its send.
const (
	benchPrefix  = "bench-"
	warmupPrefix = "warmup-"
)

// transport of a subscriber.
const (
	viaGRPC = "gRPC stream"
	viaSSE  = "SSE (gateway)"
)

// subscriber is one user's live feed: a gRPC StreamNotifications or an SSE
// connection to the gateway. It records when each benchmark notification
// arrived, and resumes from its last token when the feed ends early.
type subscriber struct {
	user  string
	token string
	via   string

	heartbeats atomic.Int64
	reconnects atomic.Int64
	warmed     atomic.Bool
	opened     atomic.Bool

	mu     sync.Mutex
	got    map[string][]time.Duration // benchmark title -> receive times (since the epoch below)
	seq    []string                   // benchmark titles in arrival order, for check.Feeds
	resume string
	err    error // the last error that ended the feed
}

// epoch is the zero of every timestamp the load generator records; all
// times are monotonic offsets from it, taken in this one process.
var epoch = time.Now()

func since() time.Duration { return time.Since(epoch) }

func newSubscriber(user, token, via string) *subscriber {
	return &subscriber{user: user, token: token, via: via, got: map[string][]time.Duration{}}
}

// receive handles one notification.
func (s *subscriber) receive(at time.Duration, assessment bool, body string) {
	if !assessment {
		return // guardianship events of the setup, and anything else
	}
	switch {
	case strings.HasPrefix(body, benchPrefix):
		s.mu.Lock()
		s.got[body] = append(s.got[body], at)
		s.seq = append(s.seq, body)
		s.mu.Unlock()
	case strings.HasPrefix(body, warmupPrefix):
		s.warmed.Store(true)
	}
}

// distinct is how many different benchmark notifications arrived.
func (s *subscriber) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *subscriber) setResume(token string) {
	s.mu.Lock()
	s.resume = token
	s.mu.Unlock()
}

func (s *subscriber) resumeToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resume
}

func (s *subscriber) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// lastErr is the last error that ended this subscriber's feed, if any.
func (s *subscriber) lastErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// run keeps the feed open until ctx is done, reconnecting from the last
// resume token when it ends early; opened is called once, when the first
// connection is up (or has failed, with its error).
func (s *subscriber) run(ctx context.Context, connect func(ctx context.Context, resume string) (feed, error), opened func(error)) {
	first := true
	for ctx.Err() == nil {
		f, err := connect(ctx, s.resumeToken())
		if first {
			first = false
			s.opened.Store(err == nil)
			opened(err)
			if err != nil {
				s.setErr(err)
				return // an idle benchmark counts it as a failure to open
			}
		}
		if err == nil {
			err = f(s)
		}
		if ctx.Err() != nil {
			return
		}
		s.setErr(err)
		s.reconnects.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	if first { // ctx ended before the first connection: whoever waits for it must hear
		s.setErr(ctx.Err())
		opened(ctx.Err())
	}
}

// feed reads one connection until it ends.
type feed func(s *subscriber) error

// grpcClientOptions keep the load generator's own memory small when it
// holds thousands of connections; they change nothing on the server.
var grpcClientOptions = []grpc.DialOption{
	grpc.WithTransportCredentials(insecure.NewCredentials()),
	grpc.WithSharedWriteBuffer(true),
	grpc.WithReadBufferSize(8 << 10),
}

func dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpcClientOptions...)
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// grpcConnect opens StreamNotifications on conn.
func grpcConnect(conn *grpc.ClientConn, token string) func(ctx context.Context, resume string) (feed, error) {
	client := notificationv1.NewNotificationServiceClient(conn)
	return func(ctx context.Context, resume string) (feed, error) {
		stream, err := client.StreamNotifications(bearer(ctx, token), &notificationv1.StreamNotificationsRequest{Parent: names.User{ID: names.Me}.String(), ResumeToken: resume})
		if err != nil {
			return nil, err
		}
		return func(s *subscriber) error {
			for {
				resp, err := stream.Recv()
				if err != nil {
					return err
				}
				at := since()
				if resp.GetResumeToken() != "" {
					s.setResume(resp.GetResumeToken())
				}
				if resp.GetHeartbeat() != nil {
					s.heartbeats.Add(1)
					continue
				}
				n := resp.GetNotification()
				s.receive(at, n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED, n.GetBody())
			}
		}, nil
	}
}

// sseClient carries the SSE connections; each is its own TCP connection.
var sseClient = &http.Client{Transport: &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	ResponseHeaderTimeout: 30 * time.Second,
	DisableCompression:    true,
	MaxIdleConnsPerHost:   -1, // a finished SSE response's connection is not kept
}}

// sseConnect opens GET /v1/notifications/events on the gateway.
func sseConnect(gateway, token string) func(ctx context.Context, resume string) (feed, error) {
	return func(ctx context.Context, resume string) (feed, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway+"/v1/notifications/events", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		if resume != "" {
			req.Header.Set("Last-Event-ID", resume)
		}
		resp, err := sseClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("SSE: %s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return func(s *subscriber) error {
			defer resp.Body.Close()
			return readSSE(resp.Body, s)
		}, nil
	}
}

// sseNotification is the part of a notification's JSON the benchmark reads.
type sseNotification struct {
	Type string `json:"type"`
	Body string `json:"body"`
}

// readSSE parses a text/event-stream until it ends.
func readSSE(r io.Reader, s *subscriber) error {
	br := bufio.NewReaderSize(r, 4<<10)
	var id, event, data string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			at := since()
			switch event {
			case "notification":
				var n sseNotification
				if err := json.Unmarshal([]byte(data), &n); err != nil {
					return fmt.Errorf("SSE notification: %w", err)
				}
				s.setResume(id)
				s.receive(at, n.Type == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED.String(), n.Body)
			case "resume", "error":
				return fmt.Errorf("SSE %s: %s", event, data)
			}
			id, event, data = "", "", ""
		case strings.HasPrefix(line, ":"):
			if strings.Contains(line, "heartbeat") {
				s.heartbeats.Add(1)
			}
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
}

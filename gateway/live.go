package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
)

// liveMux carries every browser's live feed (SSE and WebSocket) over one
// upstream LiveService.Watch stream, instead of one gRPC stream per
// browser. Each browser connection is a watch with its own bounded buffer
// and flow control: the notification service sends a watch only as many
// notifications as its buffer has room for, and more as the browser
// consumes them. A browser that stops reading holds back only its own
// watch, which ends with "resume" once it has fallen too far behind.
type liveMux struct {
	client notificationpeerv1.LiveServiceClient
	logger *slog.Logger
	buffer int

	mu       sync.Mutex
	ctx      context.Context // the mux's lifetime
	stream   notificationpeerv1.LiveService_WatchClient
	cancel   context.CancelFunc // ends the current upstream stream
	watchers map[int64]*watcher
	nextID   int64
}

// watcher is one browser connection's view of the mux.
type watcher struct {
	id     int64
	events chan *notificationpeerv1.WatchResponse
	// started is closed when the notification service has opened the
	// watch; position is then the resume token it starts from. Only the
	// receive loop writes them.
	started  chan struct{}
	position string
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	err      error // why the watch ended, a status error
	consumed int32 // events taken since the last credit grant; guarded by liveMux.mu
}

func (w *watcher) end(err error) {
	w.once.Do(func() {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	})
}

// ended reports why a watch ended.
func (w *watcher) ended() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func newLiveMux(ctx context.Context, client notificationpeerv1.LiveServiceClient, logger *slog.Logger, buffer int) *liveMux {
	return &liveMux{client: client, logger: logger, buffer: buffer, ctx: ctx, watchers: map[int64]*watcher{}}
}

// watch starts a watch of user's feed after resumeToken and waits until
// the notification service has opened it, so that the browser hears of a
// refusal (a resume token beyond the inbox, say) before its stream starts.
// Errors are status errors: the service's refusal, UNAVAILABLE when the
// service cannot be reached, CANCELLED when ctx ends first.
func (m *liveMux) watch(ctx context.Context, user, resumeToken string) (*watcher, error) {
	w, err := m.start(user, resumeToken)
	if status.Code(err) == codes.Unavailable {
		return nil, err // as the connection said it: an open breaker's says when to retry
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "live feed unavailable: %v", err)
	}
	select {
	case <-w.started:
		return w, nil
	case <-w.done:
		return nil, w.ended()
	case <-ctx.Done():
		m.stop(w)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// start sends the start of a watch.
func (m *liveMux) start(user, resumeToken string) (*watcher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stream == nil {
		if err := m.connect(); err != nil {
			return nil, err
		}
	}
	m.nextID++
	w := &watcher{id: m.nextID, events: make(chan *notificationpeerv1.WatchResponse, m.buffer), started: make(chan struct{}), done: make(chan struct{})}
	m.watchers[w.id] = w
	err := m.stream.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Start{
		Start: &notificationpeerv1.StartWatch{WatchId: w.id, User: user, ResumeToken: resumeToken, InitialCredit: int32(m.buffer)}}})
	if err != nil {
		delete(m.watchers, w.id)
		m.dropLocked(err)
		return nil, err
	}
	return w, nil
}

// consumed records that the browser took one event, and grants the
// server more in batches of half the buffer.
func (m *liveMux) consumed(w *watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.consumed++
	if w.consumed < int32(max(m.buffer/2, 1)) || m.stream == nil {
		return
	}
	if _, ok := m.watchers[w.id]; !ok {
		return
	}
	err := m.stream.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Credit{
		Credit: &notificationpeerv1.GrantCredit{WatchId: w.id, Count: w.consumed}}})
	w.consumed = 0
	if err != nil {
		m.dropLocked(err)
	}
}

// stop ends a watch the browser left.
func (m *liveMux) stop(w *watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.watchers[w.id]; !ok {
		return
	}
	delete(m.watchers, w.id)
	w.end(status.Error(codes.Canceled, "closed"))
	if m.stream != nil {
		if err := m.stream.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Stop{
			Stop: &notificationpeerv1.StopWatch{WatchId: w.id}}}); err != nil {
			m.dropLocked(err)
		}
	}
}

// connect opens the upstream stream; m.mu is held.
func (m *liveMux) connect() error {
	if m.ctx.Err() != nil {
		return errors.New("gateway is shutting down")
	}
	ctx, cancel := context.WithCancel(m.ctx)
	stream, err := m.client.Watch(ctx)
	if err != nil {
		cancel()
		return err
	}
	m.stream, m.cancel = stream, cancel
	go m.receive(stream)
	return nil
}

// receive dispatches upstream messages to their watchers.
func (m *liveMux) receive(stream notificationpeerv1.LiveService_WatchClient) {
	for {
		resp, err := stream.Recv()
		if err != nil {
			m.mu.Lock()
			if m.stream == stream {
				m.dropLocked(err)
			}
			m.mu.Unlock()
			return
		}
		m.mu.Lock()
		w := m.watchers[resp.GetWatchId()]
		m.mu.Unlock()
		if w == nil {
			continue // stopped meanwhile
		}
		if ended := resp.GetEnded(); ended != nil {
			m.forget(w)
			code := codes.Code(ended.GetCode())
			if code == codes.OK {
				code = codes.Unavailable // a watch never ends by itself without a reason
			}
			// With its details: a refusal's ErrorInfo reaches the browser.
			w.end(status.FromProto(&spb.Status{Code: int32(code), Message: ended.GetReason(), Details: ended.GetDetails()}).Err())
			continue
		}
		if resp.GetStarted() != nil {
			select {
			case <-w.started: // said once already
			default:
				w.position = resp.GetResumeToken()
				close(w.started)
			}
			continue
		}
		select {
		case w.events <- resp:
		default:
			// More than the credit granted: the buffer is full. End the
			// watch and let the browser resume, rather than block the others.
			w.end(status.Error(codes.Aborted, "fell behind"))
			m.stop(w)
		}
	}
}

func (m *liveMux) forget(w *watcher) {
	m.mu.Lock()
	delete(m.watchers, w.id)
	m.mu.Unlock()
}

// dropLocked ends the upstream stream and every watch on it: browsers
// reconnect (with their last event id) and a new stream is opened.
func (m *liveMux) dropLocked(err error) {
	if m.stream == nil {
		return
	}
	if m.ctx.Err() == nil {
		m.logger.Warn("live upstream stream ended; browsers will resume", slog.Any("error", err))
	}
	m.cancel()
	m.stream, m.cancel = nil, nil
	for id, w := range m.watchers {
		w.end(status.Error(codes.Unavailable, "upstream reconnecting"))
		delete(m.watchers, id)
	}
}

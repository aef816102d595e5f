package fanout

import (
	"context"
	"sync"
)

// Subscription receives one user's messages. It ends when its owner calls Close, when its
// buffer overflows, when the bus loses messages for it, or when the bus closes; Err says which.
// Its methods are safe for concurrent use.
type Subscription struct {
	user string
	// c carries pointers: a buffer of a few hundred Messages (about 100
	// bytes each) would cost every idle subscriber tens of KiB up front.
	c       chan *Message
	done    chan struct{}
	hub     *hub
	release func() // gives back what the bus holds for this subscription (the NATS interest)
	once    sync.Once

	// Guarded by hub.mu, as is every send on c.
	ended bool
	err   error
}

// User returns the id of the user whose messages the subscription receives.
func (s *Subscription) User() string { return s.user }

// C returns the channel the messages arrive on, in the order this instance received them.
// Every subscription of the user gets the same *Message: read it, never change it.
//
// C is never closed: watch Done for the end. (A closed C would hand a reader that does not
// check for it nil Messages.) Messages buffered before the end stay readable.
func (s *Subscription) C() <-chan *Message { return s.c }

// Done returns a channel closed when the subscription ends; nothing is sent on C after that.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns nil while the subscription is live, and then why it ended: [ErrOverflow],
// [ErrInterrupted], [ErrClosed] or [ErrUnsubscribed].
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Overflowed reports whether the subscription ended because messages may have been missed: its
// buffer was full ([ErrOverflow]) or the bus itself lost messages ([ErrInterrupted]). The stream
// must then make its client resume from its cursor, since no later message is guaranteed to
// come and reveal the gap.
func (s *Subscription) Overflowed() bool {
	err := s.Err()
	return err == ErrOverflow || err == ErrInterrupted
}

// Close ends the subscription if it is still live and releases what the bus holds for it.
// Call it once the subscription is no longer wanted, even if it already ended by itself: until
// then a [NATS] bus keeps its interest in the user's messages. It is idempotent.
//
// Closing the last subscription of a user on a [NATS] bus unsubscribes on NATS, which waits
// while nats.go holds its connection locked for a reconnection attempt (at most its dial
// timeout, 2s by default).
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.hub.end(context.Background(), s, ErrUnsubscribed)
		if s.release != nil {
			s.release()
		}
	})
}

// hub is the in-process heart of both buses: which subscriptions each user has on this
// instance, and the non-blocking delivery to them.
//
// One mutex guards it all. Delivery under it is a few non-blocking channel sends, so it is held
// for microseconds; it also orders every send before the end of the subscription it goes to.
type hub struct {
	m *metrics

	mu     sync.Mutex
	users  map[string]map[*Subscription]struct{}
	closed bool
}

func newHub(m *metrics) *hub {
	return &hub{m: m, users: make(map[string]map[*Subscription]struct{})}
}

// subscribe adds a live subscription for user. release, if not nil, is called once by the
// subscription's Close.
func (h *hub) subscribe(user string, buffer int, release func()) (*Subscription, error) {
	s := &Subscription{
		user:    user,
		c:       make(chan *Message, buffer),
		done:    make(chan struct{}),
		hub:     h,
		release: release,
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	subs := h.users[user]
	if subs == nil {
		subs = make(map[*Subscription]struct{})
		h.users[user] = subs
	}
	subs[s] = struct{}{}
	// Subscribe has no context to record with; a metric needs none for correctness.
	h.m.live.Add(context.Background(), 1)
	return s, nil
}

// deliver offers m to every live subscription of m.User without waiting: a subscription
// whose buffer is full ends as overflowed. It reports false if the hub is closed.
func (h *hub) deliver(ctx context.Context, m Message) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	shared := &m // one copy for all of the user's subscriptions, which only read it
	for s := range h.users[m.User] {
		select {
		case s.c <- shared:
		default:
			h.endLocked(ctx, s, ErrOverflow) // deleting the entry being ranged over is allowed
		}
	}
	return true
}

// interrupt ends every live subscription of user with ErrInterrupted and returns how many
// there were.
func (h *hub) interrupt(ctx context.Context, user string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.users[user] {
		h.endLocked(ctx, s, ErrInterrupted)
		n++
	}
	return n
}

// interruptAll ends every live subscription with ErrInterrupted and returns how many there were.
func (h *hub) interruptAll(ctx context.Context) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, subs := range h.users {
		for s := range subs {
			h.endLocked(ctx, s, ErrInterrupted)
			n++
		}
	}
	return n
}

// end ends s with reason unless it already ended.
func (h *hub) end(ctx context.Context, s *Subscription, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(ctx, s, reason)
}

func (h *hub) endLocked(ctx context.Context, s *Subscription, reason error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = reason
	close(s.done)
	if subs := h.users[s.user]; subs != nil {
		delete(subs, s)
		if len(subs) == 0 {
			delete(h.users, s.user)
		}
	}
	h.m.live.Add(ctx, -1)
	switch reason {
	case ErrOverflow:
		h.m.overflows.Add(ctx, 1, reasonBuffer)
	case ErrInterrupted:
		h.m.overflows.Add(ctx, 1, reasonInterrupted)
	}
}

// close ends every subscription with ErrClosed and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.users {
		for s := range subs {
			h.endLocked(context.Background(), s, ErrClosed)
		}
	}
}

// Local is a [Bus] within one process: the default when the notification service runs alone.
type Local struct {
	hub *hub
}

var _ Bus = (*Local)(nil)

// NewLocal returns a bus that delivers within this process. Of the options it uses the logger and
// the meter provider.
func NewLocal(opts ...Option) *Local {
	o := buildOptions(opts)
	return &Local{hub: newHub(newMetrics(o.meterProvider, o.logger))}
}

// Publish delivers m to the subscribers of m.User without waiting for any of them.
func (l *Local) Publish(ctx context.Context, m Message) error {
	if err := validateMessage(m); err != nil {
		return err
	}
	m = withSpanContext(ctx, m)
	if !l.hub.deliver(ctx, m) {
		return ErrClosed
	}
	l.hub.m.published.Add(ctx, 1)
	return nil
}

// Subscribe returns a subscription to user's messages with room for buffer of them.
func (l *Local) Subscribe(user string, buffer int) (*Subscription, error) {
	if err := validateSubscribe(user, buffer); err != nil {
		return nil, err
	}
	return l.hub.subscribe(user, buffer, nil)
}

// Close ends every subscription with ErrClosed. It is idempotent and always returns nil.
func (l *Local) Close() error {
	l.hub.close()
	return nil
}

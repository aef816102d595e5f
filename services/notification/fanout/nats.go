package fanout

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Headers of a message on NATS. The payload travels as the message data, untouched.
const (
	// headerOrigin names the bus that published the message, so that bus can skip the copy
	// NATS echoes back to it: it already delivered the message to its own subscribers.
	headerOrigin = "Kinbridge-Origin"
	// headerSequence carries Message.Sequence in decimal.
	headerSequence = "Kinbridge-Sequence"
)

// interestTimeout bounds how long Subscribe waits for the server to confirm a new NATS
// subscription.
const interestTimeout = 2 * time.Second

// tokenEncoding turns a user id into one NATS subject token: base32's alphabet (A-Z, 2-7) has
// none of the characters that are special in a subject ('.', '*', '>', whitespace), and it is
// reversible, so an operator can tell whose subject it is.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NATS is a [Bus] across the instances of one [Deployment] over core NATS.
//
// A message goes to the subscribers on the publishing instance directly, and to NATS on subject
// "<prefix>.<deployment>.user.<token>", token being the base32 encoding of the user id, signed
// with the deployment's key. Each instance holds one NATS subscription per user that has
// subscribers on it (the first Subscribe makes it, the last Close drops it) and hands what
// arrives and verifies to its local subscribers through the same non-blocking,
// overflow-reporting delivery as [Local]. NATS moves messages between instances and nothing more.
//
// A message that does not verify (unsigned, another deployment's, changed on the way, or replayed
// onto another subject) is never delivered: it is counted (kinbridge.notification.nats_rejected)
// and logged at most once a minute. A message replayed onto its own subject verifies; it is a
// duplicate, which streams skip by sequence.
//
// When the connection is lost the bus keeps working on this instance: publishes still reach local
// subscribers at once. Messages for other instances queue in nats.go's reconnect buffer (8 MiB by
// default) and are sent after the reconnection; nats.go also subscribes again by itself. Messages other instances
// published meanwhile never reach this one, so once reconnected the bus ends every subscription on
// this instance with [ErrInterrupted] (Overflowed reports true): their clients resume from their
// cursors instead of waiting, perhaps for days, for a next message to reveal the gap. The same
// happens to a user's subscriptions when NATS drops messages for that user because this instance
// could not keep up, and when the server confirms a new subscription only after Subscribe gave up
// waiting (a stalled link): messages routed before the confirmation missed it.
//
// Connect with [NATSOptions] so that the connection never gives up reconnecting.
type NATS struct {
	nc      *nats.Conn
	subject string // "<prefix>.<deployment>.user.", followed by the token
	legacy  string // "<prefix>.user.", followed by the token, with Deployment.AcceptUnsigned; "" without
	signer  *signer
	origin  string
	hub     *hub
	m       *metrics
	logger  *slog.Logger

	// The rejected messages' log: one line per rejectLogEvery at most.
	rejectMu    sync.Mutex
	now         func() time.Time
	rejectNext  time.Time // when the next line may be written
	rejectQuiet int       // rejections since the last line

	// connected mirrors the connection's status, kept by watch: asking nats.go would block
	// for as long as a reconnection attempt holds its lock (up to its dial timeout).
	connected  atomic.Bool
	status     chan nats.Status
	watchDone  chan struct{}
	reconnects uint64 // the connection's reconnect count last seen; watch's alone after NewNATS
	gauge      metric.Registration

	// Messages for other instances go through queue to publishLoop, so that Publish never
	// waits for nats.go's lock.
	pubMu     sync.RWMutex
	pubClosed bool
	queue     chan Message
	pubDone   chan struct{}

	subMu     sync.Mutex
	subClosed bool
	remotes   map[string]*remote

	// Subscriptions NATS confirmed late (see confirmLate): stop ends their
	// waits, late counts them.
	stop chan struct{}
	late sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

var _ Bus = (*NATS)(nil)

// rejectLogEvery is how often at most a bus logs the messages it rejected: someone flooding a
// subject with forgeries must not flood the logs too. The metric counts every one.
const rejectLogEvery = time.Minute

// remote is this instance's interest in one user: its NATS subscription, and with
// Deployment.AcceptUnsigned a second one on the old subject.
type remote struct {
	subs  []*natsSub
	refs  int           // subscriptions holding it; guarded by NATS.subMu
	ready chan struct{} // closed once the server has the interest (or it is no use waiting)
}

// natsSub is one NATS subscription of a remote.
type natsSub struct {
	ns      *nats.Subscription
	legacy  bool // on the old, unsigned format's subject
	dropped int  // messages nats.go dropped, as last seen; the subscription's handler's alone
}

// unsubscribe drops r's NATS subscriptions; a closed connection has dropped them already.
func (r *remote) unsubscribe() error {
	var errs []error
	for _, s := range r.subs {
		if err := s.ns.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NewNATS returns a bus across the instances of deployment d connected to the same NATS, on
// subjects under subjectPrefix (such as "kinbridge.notification"; instances that should talk
// must share it, and d). nc stays the caller's: Close does not close it. Of the options it uses
// all.
func NewNATS(nc *nats.Conn, subjectPrefix string, d Deployment, opts ...Option) (*NATS, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalid)
	}
	if err := validatePrefix(subjectPrefix); err != nil {
		return nil, err
	}
	signer, err := newSigner(d.Secret)
	if err != nil {
		return nil, err
	}
	name := d.Name
	if name == "" {
		if name, err = DeploymentName(d.Secret); err != nil {
			return nil, err
		}
	}
	if err := ValidateDeploymentName(name); err != nil {
		return nil, err
	}
	if nc.IsClosed() {
		return nil, fmt.Errorf("fanout: %w", nats.ErrConnectionClosed)
	}
	o := buildOptions(opts)
	m := newMetrics(o.meterProvider, o.logger)
	b := &NATS{
		nc:        nc,
		subject:   subjectPrefix + "." + name + ".user.",
		signer:    signer,
		now:       time.Now,
		origin:    rand.Text(),
		hub:       newHub(m),
		m:         m,
		logger:    o.logger,
		watchDone: make(chan struct{}),
		stop:      make(chan struct{}),
		queue:     make(chan Message, o.publishQueue),
		pubDone:   make(chan struct{}),
		remotes:   make(map[string]*remote),
	}
	if d.AcceptUnsigned {
		b.legacy = subjectPrefix + ".user."
	}
	// Reading the options races with nothing: nats.go writes them only in its Set*Handler methods,
	// which touch the callbacks alone.
	if !nc.Opts.AllowReconnect || nc.Opts.MaxReconnect >= 0 {
		o.logger.Warn("fanout: the NATS connection gives up reconnecting at some point, after which instances stop "+
			"hearing each other; connect with fanout.NATSOptions",
			"allow_reconnect", nc.Opts.AllowReconnect, "max_reconnects", nc.Opts.MaxReconnect)
	}

	// Listen before reading the current state, so that no change falls between the two.
	b.status = nc.StatusChanged()
	b.connected.Store(nc.Status() == nats.CONNECTED)
	b.reconnects = nc.Stats().Reconnects
	if b.connected.Load() && !nc.HeadersSupported() {
		nc.RemoveStatusListener(b.status)
		return nil, errors.New("fanout: the NATS server does not support headers (nats-server 2.2 or later does)")
	}

	gauge, err := m.meter.Int64ObservableGauge(metricNATSConnected, metric.WithUnit("1"),
		metric.WithDescription("Whether the notification fan-out bus is connected to NATS (1) or delivers on this instance only (0)."))
	if err == nil {
		b.gauge, err = m.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
			v := int64(0)
			if b.connected.Load() {
				v = 1
			}
			obs.ObserveInt64(gauge, v)
			return nil
		}, gauge)
	}
	if err != nil {
		o.logger.Warn("fanout: cannot create metric", "metric", metricNATSConnected, "error", err)
	}

	o.logger.Info("fanout: live delivery across instances over NATS", "subjects", b.subject+"*", "deployment", name,
		"accept_unsigned", d.AcceptUnsigned)
	if d.AcceptUnsigned {
		o.logger.Warn("fanout: also hearing unsigned messages on " + b.legacy + "*, as before deployments were told apart: " +
			"any deployment or client on this NATS server can reach this one's live feeds there; turn it off once every " +
			"instance is upgraded")
	}
	go b.watch()
	go b.publishLoop()
	return b, nil
}

// Connected reports whether the bus reaches other instances: false while the NATS connection is
// down (this instance's subscribers still get this instance's messages). It never blocks, so a
// readiness probe may call it.
func (b *NATS) Connected() bool { return b.connected.Load() }

// Publish delivers m to the subscribers of m.User on this instance, without waiting for any of
// them, and queues it for the other instances. ctx only feeds metrics: the notification is
// stored by then, and delivering it is worth more than honouring a cancel.
//
// It returns [ErrBacklog] when the queue for other instances is full; the message then reached
// this instance's subscribers only, and the others will see a gap at their next message. Errors
// NATS reports later are logged and counted (kinbridge.notification.nats_dropped).
func (b *NATS) Publish(ctx context.Context, m Message) error {
	if err := validateMessage(m); err != nil {
		return err
	}
	b.pubMu.RLock()
	defer b.pubMu.RUnlock()
	if b.pubClosed {
		return ErrClosed
	}
	m = withSpanContext(ctx, m)
	// Local subscribers directly: they must not depend on NATS being up.
	b.hub.deliver(ctx, m)
	b.m.published.Add(ctx, 1)
	select {
	case b.queue <- m:
		return nil
	default:
		b.m.dropped.Add(ctx, 1)
		return ErrBacklog
	}
}

// publishLoop hands queued messages to NATS, in order, until Close closes the queue.
func (b *NATS) publishLoop() {
	defer close(b.pubDone)
	failing := 0 // messages lost since the first failure of the current streak
	for m := range b.queue {
		err := b.send(b.subjectFor(m.User), m)
		if b.legacy != "" {
			err = errors.Join(err, b.send(b.legacySubjectFor(m.User), m))
		}
		// While nats.go reconnects it buffers publishes, so an error means the message is lost
		// for other instances: the reconnect buffer is full, the connection is closed, or the
		// server refuses the size. One log line per streak, not one per message.
		if err != nil {
			b.m.dropped.Add(context.Background(), 1)
			if failing == 0 {
				b.logger.Warn("fanout: cannot publish to NATS; other instances miss messages until it recovers", "error", err)
			}
			failing++
			continue
		}
		if failing > 0 {
			b.logger.Info("fanout: publishing to NATS again", "lost", failing)
			failing = 0
		}
	}
}

// send hands m to nats.go for subject, signed.
func (b *NATS) send(subject string, m Message) error {
	header := nats.Header{
		headerOrigin:   {b.origin},
		headerSequence: {strconv.FormatInt(m.Sequence, 10)},
	}
	if m.SpanContext.IsValid() {
		traceContext.Inject(trace.ContextWithSpanContext(context.Background(), m.SpanContext), headerCarrier(header))
	}
	b.signer.sign(subject, header, m.Payload)
	return b.nc.PublishMsg(&nats.Msg{Subject: subject, Header: header, Data: m.Payload})
}

// Subscribe returns a subscription to user's messages from every instance with room for buffer
// of them. It returns once the NATS server knows of this instance's interest in the user (or the
// connection is down, in which case the subscription will end as interrupted once it is back; or
// the server took longer than 2s, in which case it ends as interrupted once the server confirms),
// so that a message another instance publishes after Subscribe returns is not missed.
//
// The first subscription of a user on this instance costs a round trip to the server (bounded
// by 2s), and like any nats.go call may wait while a reconnection attempt holds the
// connection's lock. It fails if the connection is closed for good.
func (b *NATS) Subscribe(user string, buffer int) (*Subscription, error) {
	if err := validateSubscribe(user, buffer); err != nil {
		return nil, err
	}
	r, err := b.acquire(user)
	if err != nil {
		return nil, err
	}
	s, err := b.hub.subscribe(user, buffer, func() { b.release(user, r) })
	if err != nil {
		b.release(user, r)
		return nil, err
	}
	return s, nil
}

// acquire returns the user's NATS subscription with one more reference, making it if needed.
func (b *NATS) acquire(user string) (*remote, error) {
	b.subMu.Lock()
	if b.subClosed {
		b.subMu.Unlock()
		return nil, ErrClosed
	}
	if r := b.remotes[user]; r != nil {
		r.refs++
		b.subMu.Unlock()
		<-r.ready // the first subscriber's wait covers this one too
		return r, nil
	}
	r := &remote{refs: 1, ready: make(chan struct{})}
	// Under subMu, so that two first subscribers cannot both subscribe; nats.go only buffers the
	// request (though it may wait for its own lock during a reconnection attempt).
	subjects := []string{b.subjectFor(user)}
	if b.legacy != "" {
		subjects = append(subjects, b.legacySubjectFor(user))
	}
	for i, subject := range subjects {
		s := &natsSub{legacy: i > 0}
		ns, err := b.nc.Subscribe(subject, func(msg *nats.Msg) { b.receive(user, s, msg) })
		if err != nil {
			err = errors.Join(err, r.unsubscribe())
			b.subMu.Unlock()
			return nil, fmt.Errorf("fanout: subscribe on NATS: %w", err)
		}
		s.ns = ns
		r.subs = append(r.subs, s)
	}
	b.remotes[user] = r
	b.subMu.Unlock()

	// A round trip makes sure the server has processed the subscription: the stream reads its
	// backlog next, and a message stored after that read but routed before the server knew of
	// us would be lost until a later message revealed the gap. Not waiting while disconnected
	// is safe: the reconnection interrupts the subscription anyway.
	if b.connected.Load() {
		if err := b.nc.FlushTimeout(interestTimeout); err != nil {
			b.logger.Warn("fanout: NATS did not confirm a subscription in time; the user's live subscriptions on this "+
				"instance resume from their cursors once it does", "error", err)
			b.late.Go(func() { b.confirmLate(user, r) })
		}
	}
	close(r.ready)
	return r, nil
}

// confirmLate waits for the server to confirm r, which Subscribe could not
// wait for (the link stalled), then ends user's live subscriptions here as
// interrupted: a message routed before the server knew of the interest was
// missed, and nothing may come later to reveal the gap, so their clients
// resume from their cursors now rather than at the next message. It gives
// up when the interest is dropped, the bus closes, or the connection is
// lost (the reconnection interrupts them anyway).
func (b *NATS) confirmLate(user string, r *remote) {
	for b.connected.Load() && b.holds(user, r) {
		if err := b.nc.FlushTimeout(interestTimeout); err == nil {
			if b.holds(user, r) {
				n := b.hub.interrupt(context.Background(), user)
				b.logger.Info("fanout: NATS confirmed a subscription late; its live subscriptions resume from their cursors",
					"subscriptions", n)
			}
			return
		}
		select {
		case <-b.stop:
			return
		case <-time.After(interestTimeout / 4):
		}
	}
}

// holds reports whether r is still the bus's interest in user.
func (b *NATS) holds(user string, r *remote) bool {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	return !b.subClosed && b.remotes[user] == r
}

// release gives back one reference to r, dropping the NATS subscription with the last one.
func (b *NATS) release(user string, r *remote) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.subClosed {
		return // Close dropped every NATS subscription
	}
	r.refs--
	if r.refs > 0 || b.remotes[user] != r {
		return
	}
	delete(b.remotes, user)
	if err := r.unsubscribe(); err != nil {
		b.logger.Warn("fanout: cannot unsubscribe on NATS", "error", err)
	}
}

// receive handles a message NATS delivers on one of user's subjects. It runs on the goroutine
// nats.go keeps for s, so messages for a user on a subject are handled one at a time, in order.
func (b *NATS) receive(user string, s *natsSub, msg *nats.Msg) {
	ctx := context.Background() // nothing to carry: the publisher's request is on another instance
	// nats.go drops messages when a subscription's pending queue is full, and tells no one but
	// the connection's error handler. A message counts as pending until its handler returns and
	// the limits (512Ki messages, 64 MiB) are far above one, so every drop happens while some
	// message is queued or being handled here: looking after each one sees every drop.
	defer func() {
		if n, err := msg.Sub.Dropped(); err == nil && n > s.dropped {
			s.dropped = n
			ended := b.hub.interrupt(ctx, user)
			b.logger.Warn("fanout: NATS dropped messages for a user; their subscriptions resume from their cursors",
				"dropped_total", n, "subscriptions", ended)
		}
	}()
	signed, valid := b.signer.verify(msg)
	switch {
	case !signed && !s.legacy, signed && !valid:
		b.reject(ctx, signed, msg.Subject)
		return
	case signed && s.legacy:
		return // a copy for old instances of what this deployment also sent on its own subject
	}
	if msg.Header.Get(headerOrigin) == b.origin {
		return // published here and already delivered to local subscribers
	}
	seq, err := strconv.ParseInt(msg.Header.Get(headerSequence), 10, 64)
	if err != nil {
		b.logger.Warn("fanout: ignoring a NATS message without a valid sequence", "subject", msg.Subject, "error", err)
		return
	}
	sc := trace.SpanContextFromContext(traceContext.Extract(ctx, headerCarrier(msg.Header)))
	b.hub.deliver(ctx, Message{User: user, Sequence: seq, Payload: msg.Data, SpanContext: sc})
}

// reject counts a message that is not authenticated as this deployment's, signed or not, and
// logs it unless a line was written less than rejectLogEvery ago.
func (b *NATS) reject(ctx context.Context, signed bool, subject string) {
	reason := reasonUnsigned
	if signed {
		reason = reasonBadMAC
	}
	b.m.rejected.Add(ctx, 1, reason)
	b.rejectMu.Lock()
	now := b.now()
	if now.Before(b.rejectNext) {
		b.rejectQuiet++
		b.rejectMu.Unlock()
		return
	}
	b.rejectNext = now.Add(rejectLogEvery)
	quiet := b.rejectQuiet
	b.rejectQuiet = 0
	b.rejectMu.Unlock()
	b.logger.Warn("fanout: dropped a NATS message not authenticated as this deployment's (another deployment's, "+
		"forged, or changed on the way)", "subject", subject, "signed", signed,
		"dropped_unlogged", quiet, "logged_at_most_every", rejectLogEvery)
}

// traceContext carries Message.SpanContext between instances: W3C traceparent and tracestate
// headers, whatever the process's global propagator, since only the span context travels.
var traceContext propagation.TraceContext

// headerCarrier lets a propagator read and write NATS message headers. Unlike http.Header it
// keeps keys as given: NATS header names are case-sensitive, and the propagator writes and
// reads them lowercase.
type headerCarrier nats.Header

func (h headerCarrier) Get(key string) string { return nats.Header(h).Get(key) }

func (h headerCarrier) Set(key, value string) { nats.Header(h).Set(key, value) }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// watch follows the connection's status until Close removes the listener.
func (b *NATS) watch() {
	defer close(b.watchDone)
	for range b.status {
		// nats.go drops events a listener is slow to take, so read the state itself rather
		// than trust the event; blocking here on nats.go's lock harms no one.
		connected := b.nc.Status() == nats.CONNECTED
		b.connected.Store(connected)
		if !connected {
			continue
		}
		if r := b.nc.Stats().Reconnects; r != b.reconnects {
			b.reconnects = r
			n := b.hub.interruptAll(context.Background())
			b.logger.Info("fanout: NATS reconnected; live subscriptions resume from their cursors", "subscriptions", n)
		}
	}
}

// Close ends every subscription with ErrClosed, hands the messages still queued to nats.go and
// drops the bus's NATS subscriptions. It does not close the connection, which is the caller's
// to drain or close (nats.go flushes what it buffered when it closes). It is idempotent. Like
// Subscription.Close it may wait for a reconnection attempt to let go of the connection.
func (b *NATS) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.pubMu.Lock()
		b.pubClosed = true
		close(b.queue)
		b.pubMu.Unlock()
		<-b.pubDone

		b.hub.close()

		b.subMu.Lock()
		b.subClosed = true
		remotes := b.remotes
		b.remotes = nil
		b.subMu.Unlock()
		var errs []error
		for _, r := range remotes {
			errs = append(errs, r.unsubscribe())
		}

		b.late.Wait()
		b.nc.RemoveStatusListener(b.status)
		<-b.watchDone
		b.connected.Store(false)
		if b.gauge != nil {
			errs = append(errs, b.gauge.Unregister())
		}
		if err := errors.Join(errs...); err != nil {
			b.closeErr = fmt.Errorf("fanout: close: %w", err)
		}
	})
	return b.closeErr
}

// subjectFor returns the NATS subject of user's messages.
func (b *NATS) subjectFor(user string) string {
	return b.subject + tokenEncoding.EncodeToString([]byte(user))
}

// legacySubjectFor returns the subject of user's messages in the old, unsigned format.
func (b *NATS) legacySubjectFor(user string) string {
	return b.legacy + tokenEncoding.EncodeToString([]byte(user))
}

// maxPrefixLen bounds the subject prefix so that a subject (prefix, deployment name, ".user.",
// and up to 1,639 characters of token for the longest user id) stays well inside the server's
// 4 KiB protocol line: a longer line makes the server drop the connection.
const maxPrefixLen = 256

// validatePrefix accepts a literal NATS subject: dot-separated non-empty tokens without
// wildcards, whitespace or control characters.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("%w: empty NATS subject prefix", ErrInvalid)
	}
	if len(prefix) > maxPrefixLen {
		return fmt.Errorf("%w: NATS subject prefix of %d bytes, more than %d", ErrInvalid, len(prefix), maxPrefixLen)
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if tok == "" {
			return fmt.Errorf("%w: NATS subject prefix %q has an empty token", ErrInvalid, prefix)
		}
		if strings.ContainsFunc(tok, func(r rune) bool {
			return r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r)
		}) {
			return fmt.Errorf("%w: NATS subject prefix %q has a wildcard, space or control character", ErrInvalid, prefix)
		}
	}
	return nil
}

// NATSOptions returns the nats.go options a process should connect with when it runs a [NATS]
// bus (append its own, such as nats.Name; later options win):
//
//   - never stop reconnecting: by default nats.go gives up after 60 attempts, and the
//     instances would stop hearing each other for good;
//   - a short reconnect wait (with nats.go's jitter), since live notifications wait meanwhile;
//   - pings often enough to notice a silently dead connection within about 30s, not minutes;
//   - handlers that log disconnections, reconnections, failed attempts (at debug) and
//     asynchronous errors such as a slow consumer.
func NATSOptions(logger *slog.Logger) []nats.Option {
	if logger == nil {
		logger = slog.Default()
	}
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.PingInterval(15 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil when the connection is closed on purpose
				logger.Warn("nats: disconnected, reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Debug("nats: reconnection attempt failed", "error", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				logger.Warn("nats: connection closed", "error", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Warn("nats: asynchronous error", "subject", sub.Subject, "error", err)
				return
			}
			logger.Warn("nats: asynchronous error", "error", err)
		}),
	}
}

// Package fanout is the notification service's live fan-out bus: it carries a user's new
// notifications, already stored, to the live streams of that user on every instance.
//
// The bus is best effort on purpose. The store is the source of truth and gives every
// notification a per-user, strictly increasing sequence, so a stream never relies on the bus
// alone. A stream is expected to:
//
//  1. Subscribe first, then read the backlog after its client's cursor from the store, so that
//     nothing stored between the read and the subscription falls through the crack;
//  2. skip a message whose Sequence is at or below the last one it sent (a duplicate of the
//     backlog, or a late arrival after a gap was filled);
//  3. fill a gap (Sequence above last+1) from the store before sending the message;
//  4. when the subscription ends with Overflowed() true, make its client resume from its cursor:
//     messages may have been missed and no later message is guaranteed to reveal the gap.
//
// [Local] delivers within one process. [NATS] does the same and moves messages between the
// instances of one [Deployment] over core NATS, authenticated so that deployments sharing a
// server never hear each other; see its documentation for what happens when the connection is
// lost.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Message is what travels on the bus: a user's new notification, already stored, as opaque
// bytes, with its sequence so that receivers can detect gaps and fetch what is missing from
// the store.
//
// Payload is shared, not copied, between all the subscribers it reaches on an instance:
// neither the publisher nor a receiver may modify it after Publish.
type Message struct {
	// User is the id of the user whose inbox holds the notification.
	User string
	// Sequence is the notification's position in the user's inbox: strictly increasing per user.
	// The bus carries it without interpreting it, so any value (0 included) is delivered as is.
	Sequence int64
	// Payload is the notification as the notification service encodes it; the bus never looks
	// inside.
	Payload []byte
	// SpanContext is the trace of the publish that produced the message, so that whoever hands
	// it on to a client can record that in the same trace. Publish sets it from its ctx when it
	// is not valid; [NATS] carries it to other instances as W3C trace context headers. Zero when
	// the publish had no trace.
	SpanContext trace.SpanContext
}

// withSpanContext returns m carrying ctx's span context unless it carries one already.
func withSpanContext(ctx context.Context, m Message) Message {
	if !m.SpanContext.IsValid() {
		m.SpanContext = trace.SpanContextFromContext(ctx)
	}
	return m
}

// Bus carries messages from publishers to the subscribers of a user on every instance.
// [Local] and [NATS] implement it; their methods are safe for concurrent use.
type Bus interface {
	// Publish sends m to every subscriber of m.User on every instance. It is best effort (the
	// store has the truth and subscribers detect gaps by sequence) and never blocks on slow
	// subscribers.
	Publish(ctx context.Context, m Message) error
	// Subscribe returns a subscription to user's messages with room for buffer messages.
	// A user may have several subscriptions (two browser tabs). When the buffer is full the
	// subscription ends and reports Overflowed instead of dropping messages silently.
	Subscribe(user string, buffer int) (*Subscription, error)
	// Close ends every subscription (their Err is ErrClosed) and makes later calls fail with
	// ErrClosed. It does not close connections the bus was given.
	Close() error
}

// Limits on what the bus accepts. They are the same for every implementation, so that code
// tested against [Local] behaves the same on [NATS].
const (
	// MaxUserLen is the longest user id, in bytes. User ids are short opaque ids (an OIDC
	// subject is at most 255 ASCII characters); the limit keeps the NATS subject, which encodes
	// the id, well inside the server's 4 KiB protocol line.
	MaxUserLen = 1024
	// MaxPayload is the largest payload, in bytes: a notification is small (a title, a link,
	// some ids), and a NATS server refuses anything over its max_payload (1 MiB by default).
	MaxPayload = 256 << 10
)

var (
	// ErrClosed is returned by a closed bus, and is the Err of the subscriptions it ended.
	ErrClosed = errors.New("fanout: bus closed")
	// ErrInvalid is wrapped by the errors for arguments the bus refuses.
	ErrInvalid = errors.New("fanout: invalid argument")
	// ErrOverflow is the Err of a subscription ended because its buffer was full.
	ErrOverflow = errors.New("fanout: subscription buffer overflowed")
	// ErrInterrupted is the Err of a subscription ended because the bus itself may have missed
	// messages for it: the NATS connection was lost and regained, or NATS dropped messages
	// because this instance could not keep up.
	ErrInterrupted = errors.New("fanout: live delivery interrupted")
	// ErrUnsubscribed is the Err of a subscription ended by its own Close.
	ErrUnsubscribed = errors.New("fanout: subscription closed")
	// ErrBacklog is returned by [NATS.Publish] when messages for other instances are queuing
	// faster than NATS takes them: the message reached this instance's subscribers only.
	ErrBacklog = errors.New("fanout: NATS publish queue full, message delivered on this instance only")
)

func validateUser(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: empty user id", ErrInvalid)
	case len(user) > MaxUserLen:
		return fmt.Errorf("%w: user id of %d bytes, more than %d", ErrInvalid, len(user), MaxUserLen)
	}
	return nil
}

func validateMessage(m Message) error {
	if err := validateUser(m.User); err != nil {
		return err
	}
	if len(m.Payload) > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes, more than %d", ErrInvalid, len(m.Payload), MaxPayload)
	}
	return nil
}

func validateSubscribe(user string, buffer int) error {
	if err := validateUser(user); err != nil {
		return err
	}
	if buffer < 1 {
		// A send to an unbuffered channel only succeeds while the reader waits in a receive,
		// so almost every message would overflow.
		return fmt.Errorf("%w: buffer %d, want at least 1", ErrInvalid, buffer)
	}
	return nil
}

// Option configures [NewLocal] and [NewNATS].
type Option func(*options)

type options struct {
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	publishQueue  int
}

// WithLogger sets the logger for what the bus cannot report to a caller (a lost NATS connection,
// messages NATS refused). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithMeterProvider sets where the bus's metrics go. The default is the otel global provider,
// which telemetry.Init points at the process's Prometheus registry.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) {
		if mp != nil {
			o.meterProvider = mp
		}
	}
}

// DefaultPublishQueue is how many messages [NATS] holds for other instances while NATS is
// slow to take them.
const DefaultPublishQueue = 4096

// WithPublishQueue sets how many messages [NATS] holds for other instances while NATS is slow to
// take them (during a reconnection attempt nats.go keeps its connection locked for up to its
// dial timeout); beyond that Publish returns [ErrBacklog]. [Local] ignores it.
func WithPublishQueue(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.publishQueue = n
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{publishQueue: DefaultPublishQueue}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.meterProvider == nil {
		o.meterProvider = otel.GetMeterProvider()
	}
	return o
}

package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults of a Breaker, and of the settings that configure the suite's.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = 10 * time.Second
)

// Metric names and attributes of breakers (docs/observability.md).
const (
	// MetricBreakerState is 0 while a breaker is closed, 1 half-open, 2 open.
	MetricBreakerState = "kinbridge.upstream.breaker.state"
	// MetricBreakerRefused counts the calls refused while a breaker is open.
	MetricBreakerRefused = "kinbridge.upstream.breaker.refused"

	// AttrCaller is the service whose calls a breaker follows: one process
	// of `serve all` runs several callers of the same upstream.
	AttrCaller = attribute.Key("caller")
	// AttrUpstream is the service called.
	AttrUpstream = attribute.Key("upstream")
)

// scopeName is the instrumentation scope of the breakers' metrics.
const scopeName = "github.com/kinbridge/kinbridge/pkg/grpcclient"

// BreakerConfig configures a Breaker.
type BreakerConfig struct {
	// Caller names the calling service ("gateway", "media"), for metrics
	// and logs.
	Caller string
	// Upstream names the service called ("progress"): refusals name it,
	// and nothing else about it (never its address).
	Upstream string
	// Failures is how many calls in a row must find the service not
	// answering to open the breaker (DefaultBreakerFailures when 0).
	Failures int
	// CoolDown is how long an open breaker refuses calls before it lets
	// one through to probe the service (DefaultBreakerCoolDown when 0).
	CoolDown      time.Duration
	MeterProvider metric.MeterProvider // otel's global one when nil
	Logger        *slog.Logger         // slog.Default() when nil
}

// Breaker stops one process calling a neighbour that does not answer: once
// Failures calls in a row found the service down or silent, every call
// fails at once, without touching the network, with UNAVAILABLE and a
// google.rpc.RetryInfo holding the rest of the cool-down. After the
// cool-down one call goes through as a probe: an answer closes the breaker,
// a failure opens it for another cool-down.
//
// Only what says the service is not answering counts as a failure: an
// UNAVAILABLE the connection made up (nothing listens, the connection
// broke), and a deadline that passed without an answer when the call had
// at least half the connection's default timeout to wait. Anything the
// service sends (NOT_FOUND, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, even
// UNAVAILABLE) is an answer, a success for the breaker: a service that
// refuses a request is up, and a user's bad request or rate limit must
// never shut the service off for everyone. Deadlines shorter than that,
// which a caller chose (a REST client's Grpc-Timeout), and cancellations
// count for nothing, so no client can open a breaker with impatient calls.
//
// A stream counts as answered once the service's connection takes it: it
// may last as long as its caller likes, so its outcome cannot wait for its
// end.
//
// One Breaker serves every connection a process has to one service, for all
// of its methods: the failures it counts are the process's, not a method's,
// and a service that is down is down for every method. With several
// instances of the service (a list of addresses), calls go only to those up
// and healthy, so failures come in a row, and the breaker opens, only once
// every instance is down: the call in flight on an instance that dies fails
// alone, and the next goes to another.
type Breaker struct {
	cfg       BreakerConfig
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	openUntil atomic.Int64 // unix nanoseconds: when the current open state ends
	refused   metric.Int64Counter
	attrs     metric.MeasurementOption
}

// errFailure and errNeutral are what a call tells the breaker about the
// service: not answering, or nothing at all.
var (
	errFailure = errors.New("the service did not answer")
	errNeutral = errors.New("the call says nothing about the service")
)

// NewBreaker returns a closed Breaker. Its metrics are reported for as long
// as the meter provider lives.
func NewBreaker(cfg BreakerConfig) *Breaker {
	if cfg.Failures <= 0 {
		cfg.Failures = DefaultBreakerFailures
	}
	if cfg.CoolDown <= 0 {
		cfg.CoolDown = DefaultBreakerCoolDown
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Breaker{cfg: cfg, attrs: metric.WithAttributes(AttrCaller.String(cfg.Caller), AttrUpstream.String(cfg.Upstream))}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.Upstream,
		MaxRequests: 1, // one probe at a time when half-open; its success closes
		Timeout:     cfg.CoolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(cfg.Failures) },
		IsExcluded:  func(err error) bool { return errors.Is(err, errNeutral) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.changed(from, to)
		},
	})
	meter := cfg.MeterProvider.Meter(scopeName)
	var errs [3]error
	state, err := meter.Int64ObservableGauge(MetricBreakerState,
		metric.WithDescription("State of the breaker of calls to an upstream service: 0 closed, 1 half-open (probing), 2 open (calls refused)."))
	errs[0] = err
	// Every breaker of the process reports through the one instrument.
	_, errs[1] = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(state, int64(b.State()), b.attrs)
		return nil
	}, state)
	b.refused, errs[2] = meter.Int64Counter(MetricBreakerRefused, metric.WithUnit("{call}"),
		metric.WithDescription("Calls to an upstream service refused at once because its breaker is open."))
	if err := errors.Join(errs[:]...); err != nil {
		otel.Handle(fmt.Errorf("grpcclient: breaker metrics: %w", err)) // the breaker works without them
	}
	return b
}

// State returns the breaker's state; an open breaker whose cool-down has
// passed is half-open.
func (b *Breaker) State() gobreaker.State { return b.cb.State() }

// changed runs, with the breaker locked, at every change of state.
func (b *Breaker) changed(from, to gobreaker.State) {
	log := b.cfg.Logger.With(slog.String("caller", b.cfg.Caller), slog.String("upstream", b.cfg.Upstream))
	switch to {
	case gobreaker.StateOpen:
		b.openUntil.Store(time.Now().Add(b.cfg.CoolDown).UnixNano())
		log.Warn("upstream breaker open: calls fail at once until the cool-down ends",
			slog.String("from", from.String()), slog.Duration("cool_down", b.cfg.CoolDown))
	case gobreaker.StateHalfOpen:
		log.Info("upstream breaker half-open: the next call probes the service")
	case gobreaker.StateClosed:
		log.Info("upstream breaker closed: the service answers again")
	}
}

// allow lets a call through, returning the context to make it with (which
// carries the watch that reports its outcome), or refuses it.
func (b *Breaker) allow(ctx context.Context, stream bool, timeout time.Duration) (context.Context, *callWatch, error) {
	done, err := b.cb.Allow()
	if err != nil {
		b.refused.Add(ctx, 1, b.attrs)
		return nil, nil, b.refusal(err)
	}
	budget := time.Duration(math.MaxInt64)
	if deadline, ok := ctx.Deadline(); ok {
		budget = time.Until(deadline)
	}
	w := &callWatch{outcome: &outcome{stream: stream, decide: func(err error, answered bool) {
		done(verdict(err, answered, budget >= timeout/2))
	}}}
	return context.WithValue(ctx, callWatchKey{}, w), w, nil
}

// verdict says what a call's end tells about the service: nil (it
// answered), errFailure or errNeutral. patient is whether the call had
// long enough that a deadline means the service did not answer.
func verdict(err error, answered, patient bool) error {
	if err == nil || errors.Is(err, io.EOF) || answered {
		return nil
	}
	switch status.Code(err) {
	case codes.Unavailable:
		return errFailure
	case codes.DeadlineExceeded:
		if patient {
			return errFailure
		}
	}
	return errNeutral
}

// refusal is the error of a call the breaker does not let through
// (gobreaker's reason is why).
func (b *Breaker) refusal(why error) error {
	wait := time.Until(time.Unix(0, b.openUntil.Load()))
	if errors.Is(why, gobreaker.ErrTooManyRequests) || wait <= 0 {
		wait = time.Second // half-open: a probe is under way, and says soon
	}
	st := status.New(codes.Unavailable, fmt.Sprintf("the %s service is unavailable; retry in %ds",
		b.cfg.Upstream, int(math.Ceil(wait.Seconds()))))
	if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = withInfo
	}
	return st.Err()
}

// unary follows unary calls; timeout is the connection's default deadline.
func (b *Breaker) unary(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, w, err := b.allow(ctx, false, timeout)
		if err != nil {
			return err
		}
		err = invoker(ctx, method, req, reply, cc, opts...)
		w.outcome.report(err, w.answered.Load()) // unless an answer was reported already
		return err
	}
}

// stream follows streams.
func (b *Breaker) stream(timeout time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, w, err := b.allow(ctx, true, timeout)
		if err != nil {
			return nil, err
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			w.outcome.report(err, w.answered.Load())
		}
		// Otherwise the stream reached the service, and answerWatch said so.
		return cs, err
	}
}

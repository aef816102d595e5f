package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// DefaultRetry is how long a [Fallback] limits in process after Redis
// failed before it asks Redis again.
const DefaultRetry = 2 * time.Second

// Backends, as [Fallback.Backend] and the backend metric name them.
const (
	BackendRedis = "redis"
	BackendLocal = "local"
)

// Fallback keeps buckets in a shared store (Redis) and, while that store
// fails, in process: requests are still limited, each instance on its own
// budget. It asks the shared store again every Retry, one request at a
// time, and goes back to it on the first answer. Both switches are logged
// once, at warn and info, counted (kinbridge_ratelimit_fallbacks_total) and
// shown by kinbridge_ratelimit_backend.
type Fallback struct {
	shared Store
	local  *Local
	retry  time.Duration
	logger *slog.Logger
	now    func() time.Time

	fallbacks metric.Int64Counter

	mu      sync.Mutex
	down    bool      // the shared store failed; buckets are local
	nextTry time.Time // when down: when to ask the shared store again
	probing bool      // when down: a request is asking it now
}

// FallbackOptions configure a [Fallback]; every field may be left zero.
type FallbackOptions struct {
	// Retry is how long to stay local after a failure ([DefaultRetry]).
	Retry time.Duration
	// LocalKeys bounds the in-process buckets (see [NewLocal]).
	LocalKeys     int
	Logger        *slog.Logger
	MeterProvider metric.MeterProvider
}

// NewFallback returns a store that uses shared while it answers.
func NewFallback(shared Store, opts FallbackOptions) *Fallback {
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = noop.NewMeterProvider()
	}
	f := &Fallback{shared: shared, local: NewLocal(opts.LocalKeys), retry: opts.Retry, logger: opts.Logger, now: time.Now}
	meter := opts.MeterProvider.Meter(ScopeName)
	var err error
	f.fallbacks, err = meter.Int64Counter(MetricFallbacks, metric.WithUnit("{fallback}"),
		metric.WithDescription("Times the rate limiter lost Redis and went on with in-process buckets."))
	if err != nil {
		otel.Handle(fmt.Errorf("ratelimit: metrics: %w", err))
	}
	observeBackend(meter, f.Backend)
	return f
}

// Backend returns where buckets are kept now: [BackendRedis] or, while it
// fails, [BackendLocal].
func (f *Fallback) Backend() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return BackendLocal
	}
	return BackendRedis
}

// Allow implements [Store]; it never fails.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if !f.useShared() {
		return f.local.Allow(ctx, key, l)
	}
	res, err := f.shared.Allow(ctx, key, l)
	switch {
	case err == nil:
		f.answered()
		return res, nil
	case ctx.Err() != nil:
		// The caller went away: that says nothing about Redis.
		f.mu.Lock()
		f.probing = false
		f.mu.Unlock()
	default:
		f.failed(err)
	}
	return f.local.Allow(ctx, key, l)
}

// useShared says whether this request asks the shared store: always while
// it answers, and one request per Retry while it does not.
func (f *Fallback) useShared() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return true
	}
	if f.probing || f.now().Before(f.nextTry) {
		return false
	}
	f.probing = true
	return true
}

func (f *Fallback) answered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	if f.down {
		f.down = false
		f.logger.Info("rate limits: Redis answers again; buckets are shared by every instance again")
	}
}

func (f *Fallback) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	f.nextTry = f.now().Add(f.retry)
	if !f.down {
		f.down = true
		f.fallbacks.Add(context.Background(), 1)
		f.logger.Warn("rate limits: Redis does not answer; limiting in process, each instance on its own, until it does",
			slog.Any("error", err), slog.Duration("retry", f.retry))
	}
}

// observeBackend reports backend() as 1 and the other backend as 0.
func observeBackend(meter metric.Meter, backend func() string) {
	gauge, err := meter.Int64ObservableGauge(MetricBackend,
		metric.WithDescription("1 for where rate-limit buckets are kept now (backend redis or local), 0 for the other."))
	if err == nil {
		redis, local := metric.WithAttributes(AttrBackend.String(BackendRedis)), metric.WithAttributes(AttrBackend.String(BackendLocal))
		_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			now := backend()
			o.ObserveInt64(gauge, b2i(now == BackendRedis), redis)
			o.ObserveInt64(gauge, b2i(now == BackendLocal), local)
			return nil
		}, gauge)
	}
	if err != nil {
		otel.Handle(fmt.Errorf("ratelimit: metrics: %w", err))
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Package ratelimit keeps callers to their share: token buckets per user,
// per client address and per service identity, kept in process ([Local]) or
// shared by every instance through Redis ([Redis]), with a [Fallback] that
// limits in process while Redis does not answer.
//
// A [Limiter] applies a surface's [Limits] (the gateway, or one service) on a
// [Store]; its refusals are RESOURCE_EXHAUSTED with a google.rpc.RetryInfo,
// which the gateway answers as 429 with Retry-After.
package ratelimit

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Limit is a token bucket: it holds up to Burst requests and refills at
// Rate requests per second. A Rate or Burst of 0 (or less) is no limit.
type Limit struct {
	Rate  float64
	Burst int
}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return !(l.Rate > 0) || l.Burst <= 0 }

// String reads like "20/s, burst 100".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%g/s, burst %d", l.Rate, l.Burst)
}

// Result is what a bucket said about one request.
type Result struct {
	Allowed bool
	// RetryAfter is, for a refused request, how long until the bucket holds
	// one again.
	RetryAfter time.Duration
}

// Store keeps buckets by key. Allow takes one request from key's bucket,
// which l describes, if it has one.
type Store interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Kind is what a bucket counts.
type Kind string

// The kinds of buckets.
const (
	// User is a person, by the user id of their verified token.
	User Kind = "user"
	// Address is a client address, for every request to the gateway (IPv6
	// by /64, see [AddressKey]).
	Address Kind = "address"
	// Service is a Kinbridge service calling another with its identity.
	Service Kind = "service"
)

// Limits are a surface's buckets: one per user, per address and per
// service identity, each of this size. A limit that is [Limit.Off] is not
// applied. The gateway counts users and addresses (it lets no service
// identity in); services count users and service identities.
type Limits struct {
	User    Limit
	Address Limit
	Service Limit
}

func (ls Limits) of(k Kind) Limit {
	switch k {
	case User:
		return ls.User
	case Address:
		return ls.Address
	case Service:
		return ls.Service
	}
	return Limit{}
}

// ErrorReason is the google.rpc.ErrorInfo reason of a refusal.
const ErrorReason = "RATE_LIMITED"

// errorDomain is the google.rpc.ErrorInfo domain of a refusal.
const errorDomain = "kinbridge"

// Limiter applies one surface's limits. A nil *Limiter allows everything,
// so servers built without limits (unit tests) need no special case.
type Limiter struct {
	store   Store
	surface string
	limits  Limits
	limited metric.Int64Counter
}

// New returns the limiter of surface ("gateway", "progress", ...): its
// buckets are keyed apart from other surfaces' in store. mp may be nil.
func New(store Store, surface string, limits Limits, mp metric.MeterProvider) *Limiter {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	limited, err := mp.Meter(ScopeName).Int64Counter(MetricLimited, metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused by a rate limit, by surface and kind of bucket."))
	if err != nil {
		otel.Handle(fmt.Errorf("ratelimit: metrics: %w", err))
	}
	l := &Limiter{store: store, surface: surface, limits: limits, limited: limited}
	// Every series this limiter can raise is there from the start, at 0,
	// so that a rate over it (a dashboard, an alert) has something to read.
	for _, kind := range []Kind{User, Address, Service} {
		if !limits.of(kind).Off() {
			limited.Add(context.Background(), 0, l.attrs(kind))
		}
	}
	return l
}

func (l *Limiter) attrs(kind Kind) metric.AddOption {
	return metric.WithAttributes(AttrSurface.String(l.surface), AttrKind.String(string(kind)))
}

// Allow takes one request from the bucket of (kind, id): nil if it had
// one, otherwise a RESOURCE_EXHAUSTED status error with RetryInfo (see
// [RetryDelay]). A store that fails lets the request through: a limiter
// must never be why the suite stops answering ([Fallback] keeps limiting
// in process meanwhile).
func (l *Limiter) Allow(ctx context.Context, kind Kind, id string) error {
	if l == nil {
		return nil
	}
	limit := l.limits.of(kind)
	if limit.Off() {
		return nil
	}
	res, err := l.store.Allow(ctx, l.surface+"/"+string(kind)+"/"+id, limit)
	if err != nil || res.Allowed {
		return nil
	}
	l.limited.Add(ctx, 1, l.attrs(kind))
	return refusal(kind, res.RetryAfter)
}

// refusal is the status of a refused request. The retry delay is rounded
// up to whole seconds, as Retry-After counts them, and is never 0: a
// client that retries at once would only be refused again.
func refusal(kind Kind, after time.Duration) error {
	secs := max(1, math.Ceil(after.Seconds()))
	delay := time.Duration(secs) * time.Second
	st := status.Newf(codes.ResourceExhausted, "too many requests for this %s; retry in %s", kind, delay)
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ErrorReason, Domain: errorDomain, Metadata: map[string]string{"limit": string(kind)}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)},
	); err == nil {
		st = d
	}
	return st.Err()
}

// RetryDelay returns the RetryInfo delay of a status error, if it has one.
func RetryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// IsRateLimited reports whether err is a refusal of a [Limiter].
func IsRateLimited(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == ErrorReason {
			return true
		}
	}
	return false
}

// ScopeName is the instrumentation scope of the package's metrics.
const ScopeName = "github.com/kinbridge/kinbridge/pkg/ratelimit"

// Metric names and attributes; docs/observability.md lists them.
const (
	// MetricLimited counts refused requests.
	MetricLimited = "kinbridge.ratelimit.limited"
	// MetricBackend is 1 for the store that keeps the buckets now ("redis"
	// or "local") and 0 for the other.
	MetricBackend = "kinbridge.ratelimit.backend"
	// MetricFallbacks counts switches from Redis to in-process buckets.
	MetricFallbacks = "kinbridge.ratelimit.fallbacks"

	AttrSurface = attribute.Key("surface")
	AttrKind    = attribute.Key("kind")
	AttrBackend = attribute.Key("backend")
)

// Config says where a process keeps its buckets.
type Config struct {
	// RedisURL names the Redis server every instance shares (see
	// [NewRedisClient]); empty keeps buckets in process.
	RedisURL string
	// Secret is what the deployment's instances share (the service key's
	// seed): the key that names buckets in Redis ([RedisOptions.Secret]) is
	// derived from it with HKDF-SHA256.
	Secret        []byte
	Logger        *slog.Logger
	MeterProvider metric.MeterProvider
}

// Open returns the store a process's limiters share: in process, or on
// Redis behind a [Fallback]. Redis need not answer yet: until it does,
// buckets are kept in process. closeStore releases the Redis client.
func Open(cfg Config) (store Store, closeStore func() error, err error) {
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = noop.NewMeterProvider()
	}
	if cfg.RedisURL == "" {
		observeBackend(cfg.MeterProvider.Meter(ScopeName), func() string { return BackendLocal })
		return NewLocal(0), func() error { return nil }, nil
	}
	client, err := NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redis url: %w", err)
	}
	// Keys are "kinbridge:ratelimit:<deployment>:<bucket>": a deployment's
	// keys can be found (and dropped) by their prefix, and the bucket part
	// is an HMAC that names no one.
	secret, err := hkdf.Key(sha256.New, cfg.Secret, nil, "kinbridge ratelimit: redis bucket names v1", 32)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	id, err := hkdf.Key(sha256.New, cfg.Secret, nil, "kinbridge ratelimit: redis deployment id v1", 10)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	prefix := DefaultRedisPrefix + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(id) + ":"
	f := NewFallback(NewRedis(client, RedisOptions{Prefix: prefix, Secret: secret}),
		FallbackOptions{Logger: cfg.Logger, MeterProvider: cfg.MeterProvider})
	return f, client.Close, nil
}

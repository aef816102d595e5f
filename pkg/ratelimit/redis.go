package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultRedisPrefix starts the name of every bucket kept in Redis.
const DefaultRedisPrefix = "kinbridge:ratelimit:"

// Redis keeps buckets in Redis, so that every instance of a deployment
// draws on the same ones. It is GCRA (github.com/go-redis/redis_rate): one
// Lua script per request reads and updates a bucket atomically, on Redis's
// clock, and the key expires once the bucket is full again.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
	secret  []byte
}

// RedisOptions name a [Redis] store's buckets.
type RedisOptions struct {
	// Prefix starts every key ([DefaultRedisPrefix] if empty).
	Prefix string
	// Secret keys the HMAC-SHA256 that names a bucket, so that keys carry
	// no user id or address, and only instances that share Secret (a
	// deployment's) share buckets on a Redis server others use too.
	Secret []byte
}

// NewRedis returns a store on client. Closing client is the caller's.
func NewRedis(client *redis.Client, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: opts.Prefix, secret: opts.Secret}
}

// Allow implements [Store]. It fails when Redis does not answer.
func (s *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	// GCRA spaces requests Period/Rate apart: one request per 1/l.Rate
	// seconds says the same as l.Rate a second, fractions included.
	period := max(time.Duration(float64(time.Second)/l.Rate), time.Nanosecond)
	res, err := s.limiter.Allow(ctx, s.key(key), redis_rate.Limit{Rate: 1, Period: period, Burst: l.Burst})
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if res.Allowed > 0 {
		return Result{Allowed: true}, nil
	}
	return Result{RetryAfter: res.RetryAfter}, nil
}

func (s *Redis) key(key string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(key))
	return s.prefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Timeouts of the Redis client: a rate limit is checked on every request,
// so a Redis that does not answer must cost little before [Fallback] takes
// over.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 250 * time.Millisecond
)

// NewRedisClient returns a client for rawURL: redis://[user:password@]host:port[/db],
// rediss:// for TLS, unix:///path, or a bare host:port. Timeouts the URL
// does not set are short, and failed commands are not retried: the
// limiter falls back instead of waiting.
func NewRedisClient(rawURL string) (*redis.Client, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "redis://" + rawURL
	}
	opts, err := redis.ParseURL(rawURL)
	if uerr := (*url.Error)(nil); errors.As(err, &uerr) {
		err = uerr.Err // its text would quote the URL, password and all
	}
	if err != nil {
		return nil, err
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = redisDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = redisIOTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = redisIOTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = redisIOTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = -1
	}
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	// Kinbridge speaks to one plain Redis server: no cluster maintenance
	// notifications to negotiate.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return redis.NewClient(opts), nil
}

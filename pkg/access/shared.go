package access

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultSharedPrefix starts the name of every key a [Shared] cache keeps.
const DefaultSharedPrefix = "kinbridge:access:"

// genLifetime is how long a child's generation outlives its last
// invalidation: longer than any question to progress takes (a call's
// deadline is seconds), so an answer asked before an invalidation can
// never be stored after it under a generation that has since expired.
const genLifetime = 10 * time.Minute

// Shared keeps access answers in Redis, so that every media and notification
// instance of a deployment shares them, and progress can invalidate a
// child's answers on all of them at once ([Shared.Invalidate]) when who may
// see it changes.
//
// A child's answers live in one hash; next to it, a generation counter that
// every invalidation increments as it deletes the hash. A Checker reads the
// generation with the answer (one script, one round trip) and stores what
// progress said only if the generation is still the one it read: an answer
// progress gave before a revocation can therefore never be stored after the
// revocation's invalidation, however the two interleave.
//
// Keys and fields are HMACs of the child and of the user and permission
// under the deployment's secret: Redis holds no ids, and deployments sharing
// a server do not share answers.
type Shared struct {
	client *redis.Client
	prefix string
	secret []byte
}

// SharedOptions name a [Shared] cache's keys.
type SharedOptions struct {
	// Prefix starts every key ([DefaultSharedPrefix] if empty).
	Prefix string
	// Secret keys the HMACs that name keys and fields; instances that
	// share it (a deployment's) share answers.
	Secret []byte
}

// NewShared returns a shared cache on client. Closing client is the
// caller's.
func NewShared(client *redis.Client, opts SharedOptions) *Shared {
	if opts.Prefix == "" {
		opts.Prefix = DefaultSharedPrefix
	}
	return &Shared{client: client, prefix: opts.Prefix, secret: opts.Secret}
}

// lookupScript returns the child's generation ("" before the first
// invalidation) and the cached answer for one field ("" when none).
var lookupScript = redis.NewScript(`
local gen = redis.call('GET', KEYS[2]) or ''
local value = redis.call('HGET', KEYS[1], ARGV[1]) or ''
return {gen, value}
`)

// storeScript stores an answer if the child's generation is still ARGV[3],
// and keeps the hash for ARGV[4] milliseconds after its newest answer.
var storeScript = redis.NewScript(`
local gen = redis.call('GET', KEYS[2]) or ''
if gen ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// invalidateScript drops a child's answers and moves its generation on.
var invalidateScript = redis.NewScript(`
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`)

// Invalidate drops every cached answer about child ("children/{id}") on
// every instance sharing the cache. Progress calls it when the child's
// guardianships change or the child is deleted.
func (s *Shared) Invalidate(ctx context.Context, child string) error {
	answers, gen := s.keys(child)
	if err := invalidateScript.Run(ctx, s.client, []string{answers, gen}, genLifetime.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("access: invalidating in redis: %w", err)
	}
	return nil
}

// lookup returns the cached answer for k if there is a fresh one, and the
// child's generation to store a new answer under.
func (s *Shared) lookup(ctx context.Context, k key, now time.Time) (a answer, gen string, ok bool, err error) {
	answers, genKey := s.keys(k.child)
	res, err := lookupScript.Run(ctx, s.client, []string{answers, genKey}, s.field(k)).StringSlice()
	if err != nil {
		return answer{}, "", false, fmt.Errorf("access: reading redis: %w", err)
	}
	if len(res) != 2 {
		return answer{}, "", false, fmt.Errorf("access: reading redis: %d values, want 2", len(res))
	}
	a, ok = decodeAnswer(res[1], now)
	return a, res[0], ok, nil
}

// store caches a for k until expires, unless the child was invalidated
// since gen was read.
func (s *Shared) store(ctx context.Context, k key, gen string, a answer, expires time.Time, ttl time.Duration) error {
	answers, genKey := s.keys(k.child)
	err := storeScript.Run(ctx, s.client, []string{answers, genKey},
		s.field(k), encodeAnswer(a, expires), gen, max(ttl.Milliseconds(), 1)).Err()
	if err != nil {
		return fmt.Errorf("access: writing redis: %w", err)
	}
	return nil
}

// keys names a child's hash of answers and its generation. The braces make
// Redis Cluster keep both on one node, as a script needs.
func (s *Shared) keys(child string) (answers, gen string) {
	base := s.prefix + "{" + s.mac(child) + "}"
	return base + ":answers", base + ":gen"
}

func (s *Shared) field(k key) string { return s.mac(k.flight()) }

func (s *Shared) mac(v string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// encodeAnswer writes an answer as five flags (exists, allowed, visible,
// contributor, approval) and its expiry in unix milliseconds:
// "11010:1733140000000". An answer of three flags, as releases before the
// last two wrote them, is a miss.
func encodeAnswer(a answer, expires time.Time) string {
	flag := func(b bool) byte {
		if b {
			return '1'
		}
		return '0'
	}
	return string([]byte{flag(a.exists), flag(a.allowed), flag(a.visible), flag(a.contributor), flag(a.approval)}) + ":" +
		strconv.FormatInt(expires.UnixMilli(), 10)
}

// decodeAnswer reads what encodeAnswer wrote, if it has not expired at now.
// Anything else (nothing, another format) is a miss.
func decodeAnswer(v string, now time.Time) (answer, bool) {
	flags, exp, ok := strings.Cut(v, ":")
	if !ok || len(flags) != 5 || strings.Trim(flags, "01") != "" {
		return answer{}, false
	}
	ms, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.UnixMilli(ms)) {
		return answer{}, false
	}
	return answer{exists: flags[0] == '1', allowed: flags[1] == '1', visible: flags[2] == '1',
		contributor: flags[3] == '1', approval: flags[4] == '1'}, true
}

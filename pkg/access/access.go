// Package access answers, for the services that keep things about a child
// without owning the child (media, notification), whether a user may see or
// contribute for that child.
//
// Progress owns children and guardianships, so the answer always comes from
// its service-only AccessService. This package asks it, caches the answers
// for a short while (a media upload or an inbox page would otherwise cost one
// call to progress per request), and turns them into the same gRPC statuses
// progress itself uses, so a user cannot tell from an error which service
// refused them:
//
//   - a child that does not exist, or that the user holds no role on, is
//     NOT_FOUND ("children/x not found"), so ids never reveal which children
//     exist;
//   - a user who may see the child but asks to contribute gets
//     PERMISSION_DENIED;
//   - administrators may do anything to a child that exists.
//
// A failure to reach progress is never reported as a refusal: it comes back
// as UNAVAILABLE (or DEADLINE_EXCEEDED / CANCELED), so callers and clients
// know to retry instead of concluding they have no access.
package access

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"golang.org/x/sync/singleflight"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// DefaultTTL is a reasonable cache lifetime for [New]: it spares progress the
// bursts of identical questions one user's activity produces, and a revoked
// guardianship stops working within seconds.
const DefaultTTL = 5 * time.Second

// defaultMaxEntries bounds the cache. An entry is a few hundred bytes, so the
// bound keeps a busy service's cache to a few megabytes however many users
// and children it sees.
const defaultMaxEntries = 10_000

// maxUserLen is the longest user id CheckAccessRequest accepts (in
// characters, as protovalidate counts). Guardianship.user has the same limit,
// so a longer id can hold no role on any child.
const maxUserLen = 128

// existenceProbe is the user progress is asked about when only the child's
// existence matters (an administrator whose id is too long for the
// contract). Any user would do: existence does not depend on who asks.
const existenceProbe = "service:access-probe"

// Checker asks progress whether users may see or contribute for children.
// It is safe for concurrent use. Build it with [New].
type Checker struct {
	client progresspeerv1.AccessServiceClient
	ttl    time.Duration
	// shared, when set, replaces the in-process cache: answers live in
	// Redis, where progress can invalidate them for every instance.
	shared  *Shared
	metrics *metrics
	logger  *slog.Logger
	// sharedDown is set while Redis fails, so that the switch is logged
	// once each way.
	sharedDown atomic.Bool
	// now and maxEntries are fields so tests can move time and fill the
	// cache without waiting or making ten thousand calls.
	now        func() time.Time
	maxEntries int

	// flights lets concurrent misses for the same key share one call, so a
	// burst (a page of thumbnails, all for the same child) costs progress
	// one question instead of one per request.
	flights singleflight.Group

	mu      sync.Mutex
	entries map[key]entry
}

// New returns a Checker that asks client (progress's AccessService, called
// with a service identity) and caches each answer for ttl. A ttl of zero (or
// less) turns the cache off: every Check then calls progress.
//
// A cached answer can outlive a change in progress by up to ttl: a revoked
// guardian keeps access, and a newly granted one waits, for at most that long.
//
// With [WithShared], answers are cached in Redis instead, shared by every
// instance and dropped by progress as soon as who may see a child changes
// ([Shared.Invalidate]); while Redis fails, every Check asks progress.
func New(client progresspeerv1.AccessServiceClient, ttl time.Duration, opts ...Option) *Checker {
	c := &Checker{
		client:     client,
		ttl:        ttl,
		now:        time.Now,
		maxEntries: defaultMaxEntries,
		entries:    make(map[key]entry),
		logger:     slog.Default(),
	}
	o := options{meterProvider: otel.GetMeterProvider()}
	for _, opt := range opts {
		opt(&o)
	}
	c.shared = o.shared
	if o.logger != nil {
		c.logger = o.logger
	}
	c.metrics = newMetrics(o.meterProvider, o.name)
	return c
}

// Option configures a [Checker].
type Option func(*options)

type options struct {
	shared        *Shared
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	name          string
}

// WithShared caches answers in s (Redis) instead of in process; a nil s
// leaves them in process.
func WithShared(s *Shared) Option { return func(o *options) { o.shared = s } }

// WithLogger logs to l (slog.Default otherwise): only when the shared cache
// starts or stops failing.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics reports the cache's lookups to mp, under service (the
// service the Checker answers for: media, notification).
func WithMetrics(mp metric.MeterProvider, service string) Option {
	return func(o *options) { o.meterProvider, o.name = mp, service }
}

// Check returns nil when p may do perm on child ("children/{id}"), and
// otherwise a gRPC status error:
//
//   - NotFound ("children/x not found") when the child does not exist or p
//     holds no role on it;
//   - PermissionDenied when p may see the child but asks to contribute;
//   - Unavailable when progress cannot be asked or answers with an error,
//     DeadlineExceeded or Canceled when ctx (or the call's deadline) ends
//     first; these are never cached, so the next Check asks again;
//   - InvalidArgument for a malformed child name or a permission other than
//     PERMISSION_VIEW and PERMISSION_CONTRIBUTE, and Unauthenticated for a
//     principal without a subject: both are bugs in the caller, which should
//     have validated its own request and authenticated its caller first.
//
// Administrators (p.Admin) are allowed whenever the child exists.
func (c *Checker) Check(ctx context.Context, p auth.Principal, child string, perm progresspeerv1.Permission) error {
	_, err := c.Grant(ctx, p, child, perm)
	return err
}

// Grant is what a caller allowed on a child holds there, for the rules of
// approval before publishing.
type Grant struct {
	// SeesDrafts: the caller is a contributor of the child or an
	// administrator, who see what waits for approval; guardians do not.
	SeesDrafts bool
	// ApprovalRequired is the child's require_approval: what a contributor
	// who is not an administrator adds is a draft until approved.
	ApprovalRequired bool
}

// Grant is Check, answering also what the caller holds when allowed (from
// the same answer, cached alike).
func (c *Checker) Grant(ctx context.Context, p auth.Principal, child string, perm progresspeerv1.Permission) (Grant, error) {
	// What CheckAccessRequest.child accepts, refused before a call.
	if _, err := names.ParseChild(child); err != nil {
		return Grant{}, status.Error(codes.InvalidArgument, err.Error())
	}
	switch perm {
	case progresspeerv1.Permission_PERMISSION_VIEW, progresspeerv1.Permission_PERMISSION_CONTRIBUTE:
	default:
		return Grant{}, status.Errorf(codes.InvalidArgument, "cannot check permission %v", perm)
	}
	if p.Subject == "" {
		return Grant{}, status.Error(codes.Unauthenticated, "missing caller identity")
	}
	user := p.Subject
	if utf8.RuneCountInString(user) > maxUserLen {
		// Progress would refuse the request; the answer is known anyway.
		if !p.Admin {
			return Grant{}, notFound(child)
		}
		user = existenceProbe
	}
	a, err := c.answer(ctx, key{child: child, user: user, perm: perm})
	if err != nil {
		return Grant{}, err
	}
	if err := decide(p, child, a); err != nil {
		return Grant{}, err
	}
	return Grant{SeesDrafts: p.Admin || a.contributor, ApprovalRequired: a.approval}, nil
}

// decide applies the suite's policy to what progress said. The admin flag
// comes from p's token, not from progress, which is why it is applied here
// and not cached: the same user may call with and without admin rights.
func decide(p auth.Principal, child string, a answer) error {
	switch {
	case !a.exists:
		return notFound(child)
	case p.Admin || a.allowed:
		return nil
	case !a.visible:
		return notFound(child)
	default:
		return status.Errorf(codes.PermissionDenied, "your role on %s does not allow contributing", child)
	}
}

func notFound(child string) error {
	return status.Errorf(codes.NotFound, "%s not found", child)
}

// key identifies one question to progress.
type key struct {
	child string
	user  string
	perm  progresspeerv1.Permission
}

// flight names the key for singleflight. The permission is a single digit
// and child names hold no '|', so the string is unambiguous even for user
// ids containing '|'.
func (k key) flight() string {
	return strconv.Itoa(int(k.perm)) + "|" + k.child + "|" + k.user
}

// answer is progress's answer, before the caller's admin flag is applied.
type answer struct {
	exists  bool // the child exists
	allowed bool // the user holds the permission
	visible bool // the user holds some role, so may at least see the child
	// contributor: the user is a contributor of the child; approval: the
	// child requires approval (CheckAccessResponse.approval_required).
	contributor, approval bool
}

type entry struct {
	answer
	expires time.Time
}

// answer returns progress's answer for k, from the cache when it is fresh.
func (c *Checker) answer(ctx context.Context, k key) (answer, error) {
	// gen is the child's generation in the shared cache, read with the
	// lookup; sharedOK says a new answer may be stored under it.
	var gen string
	var sharedOK bool
	switch {
	case c.ttl <= 0:
	case c.shared != nil:
		a, g, ok, err := c.shared.lookup(ctx, k, c.now())
		switch {
		case err != nil:
			c.sharedFailed(ctx, err)
			c.metrics.lookup(ctx, cacheShared, outcomeError)
		case ok:
			c.sharedWorks(ctx)
			c.metrics.lookup(ctx, cacheShared, outcomeHit)
			return a, nil
		default:
			c.sharedWorks(ctx)
			c.metrics.lookup(ctx, cacheShared, outcomeMiss)
			gen, sharedOK = g, true
		}
	default:
		if a, ok := c.cached(k); ok {
			c.metrics.lookup(ctx, cacheLocal, outcomeHit)
			return a, nil
		}
		c.metrics.lookup(ctx, cacheLocal, outcomeMiss)
	}
	// A caller that has already given up gets no call made for it (and
	// starts no shared call others might join only to fail with it).
	if err := ctx.Err(); err != nil {
		return answer{}, status.FromContextError(err).Err()
	}
	if c.ttl <= 0 {
		return c.ask(ctx, k)
	}

	// The shared call runs with the context of whoever started it, so the
	// trace shows it under that request. Everyone else waits on their own
	// context and never longer.
	var led bool // set only by the call this Check started itself
	ch := c.flights.DoChan(k.flight(), func() (any, error) {
		led = true
		asked := c.now()
		a, err := c.ask(ctx, k)
		if err == nil {
			// Cached before the flight ends, so a Check arriving after it
			// finds the answer instead of making a second call.
			c.keep(ctx, k, a, asked, gen, sharedOK)
		}
		return a, err
	})
	select {
	case <-ctx.Done():
		return answer{}, status.FromContextError(ctx.Err()).Err()
	case r := <-ch:
		if r.Err == nil {
			return r.Val.(answer), nil
		}
		if !led && ctx.Err() == nil {
			switch status.Code(r.Err) {
			case codes.Canceled, codes.DeadlineExceeded:
				// The call we joined ended with its starter's context, which
				// says nothing about ours: ask on our own.
				asked := c.now()
				a, err := c.ask(ctx, k)
				if err == nil {
					c.keep(ctx, k, a, asked, gen, sharedOK)
				}
				return a, err
			}
		}
		return answer{}, r.Err
	}
}

// ask calls progress once.
func (c *Checker) ask(ctx context.Context, k key) (answer, error) {
	resp, err := c.client.CheckAccess(ctx, &progresspeerv1.CheckAccessRequest{
		Child:      k.child,
		User:       k.user,
		Permission: k.perm,
	})
	if err != nil {
		return answer{}, callError(ctx, k.child, err)
	}
	exists := resp.GetChildExists()
	return answer{
		exists:  exists,
		allowed: exists && resp.GetAllowed(),
		visible: exists && resp.GetRole() != progressv1.Role_ROLE_UNSPECIFIED,

		contributor: exists && resp.GetRole() == progressv1.Role_ROLE_CONTRIBUTOR,
		approval:    exists && resp.GetApprovalRequired(),
	}, nil
}

// callError turns a failed call into what Check reports. Whatever progress
// answered (even PermissionDenied, say for a misconfigured service key) is
// about the call, not about the user's access, so it must not reach users
// as a refusal.
func callError(ctx context.Context, child string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	// What progress said, or the connection to it (which names the
	// address it dialled), stays on the call's span: the caller hears only
	// what failed.
	if status.Code(err) == codes.DeadlineExceeded {
		// The call's own deadline (the client's default timeout): progress
		// is too slow, which callers and the gateway report as a timeout.
		return status.Errorf(codes.DeadlineExceeded, "cannot check access to %s: the progress service did not answer in time", child)
	}
	st := status.Newf(codes.Unavailable, "cannot check access to %s: the progress service cannot be asked right now; retry shortly", child)
	// An open breaker (grpcclient.Breaker) knows when progress is worth
	// asking again: the caller's caller hears it (Retry-After at the gateway).
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if withInfo, derr := st.WithDetails(ri); derr == nil {
				st = withInfo
			}
		}
	}
	return st.Err()
}

// keep caches what progress answered to k, asked at asked: in the shared
// cache under the generation read before asking (sharedOK), or in process.
// A shared cache that failed keeps nothing: the next Check asks again.
func (c *Checker) keep(ctx context.Context, k key, a answer, asked time.Time, gen string, sharedOK bool) {
	if c.shared == nil {
		c.store(k, a, asked)
		return
	}
	if !sharedOK {
		return
	}
	// The answer is stored even if the caller leaves now: it is valid.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := c.shared.store(sctx, k, gen, a, asked.Add(c.ttl), c.ttl); err != nil {
		c.sharedFailed(ctx, err)
	}
}

// sharedFailed and sharedWorks log when the shared cache starts failing
// and when it works again, once each.
func (c *Checker) sharedFailed(ctx context.Context, err error) {
	if c.sharedDown.CompareAndSwap(false, true) {
		c.logger.WarnContext(ctx, "access: the shared cache (redis) fails; asking progress every time until it answers", "err", err)
	}
}

func (c *Checker) sharedWorks(ctx context.Context) {
	if c.sharedDown.CompareAndSwap(true, false) {
		c.logger.InfoContext(ctx, "access: the shared cache (redis) answers again")
	}
}

// cached returns a fresh cached answer for k.
func (c *Checker) cached(k key) (answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return answer{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, k)
		return answer{}, false
	}
	return e.answer, true
}

// store caches a for k. The entry expires ttl after the question was asked,
// not after the answer arrived, so no answer is ever served older than ttl.
func (c *Checker) store(k key, a answer, asked time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.maxEntries {
		c.evict()
	}
	c.entries[k] = entry{answer: a, expires: asked.Add(c.ttl)}
}

// evict makes room in a full cache: expired entries go first. If that frees
// less than a quarter of the room the cache starts over, rather than
// sweeping a nearly full map again on the next insert; nothing of value is
// lost, since every entry is at most ttl from going stale anyway.
func (c *Checker) evict() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if room := c.maxEntries - len(c.entries); room < max(1, c.maxEntries/4) {
		clear(c.entries)
	}
}

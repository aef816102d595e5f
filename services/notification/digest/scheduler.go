package digest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
	_ "time/tzdata" // users' time zones on machines without a zoneinfo database

	"github.com/kinbridge/kinbridge/services/notification/store"
)

// Clock tells the time; tests drive the scheduler with RunOnce instead.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Store is what the digest keeps and reads: users' settings, their
// notifications, the claims of days and the unsubscribe tokens
// (*store.SQL).
type Store interface {
	DigestCandidates(ctx context.Context, afterUser string, limit int) ([]store.Settings, error)
	SetDigestEnabled(ctx context.Context, user string, on bool) error
	NotificationsBetween(ctx context.Context, user string, from, to time.Time, limit int) ([]store.Notification, error)
	DigestDone(ctx context.Context, user, day string, now time.Time, maxAttempts int) (bool, error)
	ClaimDigest(ctx context.Context, user, day, claimID string, now, leaseUntil time.Time, maxAttempts int) (store.DigestClaim, bool, error)
	MarkDigestSent(ctx context.Context, c store.DigestClaim, now time.Time) (bool, error)
	RetryDigestAt(ctx context.Context, c store.DigestClaim, retryAt time.Time) error
	SaveDigestToken(ctx context.Context, user, tokenHash string, now time.Time) error
	DigestTokenUser(ctx context.Context, tokenHash string) (string, error)
}

// Defaults of [Config].
const (
	DefaultTick        = time.Minute
	DefaultLease       = 10 * time.Minute
	DefaultMaxAttempts = 5
	// DefaultSendMinute is when, in minutes after local midnight, a user
	// without quiet hours gets the digest of the day before: 07:00.
	DefaultSendMinute = 7 * 60
	// maxItems caps the notifications one digest lists; it says how many
	// more there were.
	maxItems = 50
	// pageSize is how many candidates a run reads at a time.
	pageSize = 200
)

// Config is what a [Runner] needs.
type Config struct {
	Store  Store
	Mailer Mailer
	// PublicURL is the gateway's public base URL: the links in the mail
	// and the host of the Message-ID.
	PublicURL string
	// Clock tells the time for Run; nil: the system clock.
	Clock Clock
	// Tick is how often Run looks for digests due; 0: DefaultTick.
	Tick time.Duration
	// Lease is how long a claim on a user's day holds: a runner that dies
	// after claiming leaves the day to others after it. It must be longer
	// than a send takes (the SMTP exchange is bounded by half of it).
	// 0: DefaultLease.
	Lease time.Duration
	// MaxAttempts caps the claims of one user's day (failed sends); 0:
	// DefaultMaxAttempts.
	MaxAttempts int
	Logger      *slog.Logger
}

// Runner sends the digests that are due.
type Runner struct {
	cfg    Config
	base   *url.URL
	zones  sync.Map // name -> *time.Location
	logger *slog.Logger
}

// New checks cfg and returns a runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Mailer == nil {
		return nil, errors.New("digest: a store and a mailer are required")
	}
	base, err := url.Parse(cfg.PublicURL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("digest: public URL %q is not an http(s) URL", cfg.PublicURL)
	}
	base.RawQuery, base.Fragment = "", ""
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runner{cfg: cfg, base: base, logger: cfg.Logger}, nil
}

// Run calls RunOnce every Tick until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Tick)
	defer tick.Stop()
	for {
		if _, err := r.RunOnce(ctx, r.cfg.Clock.Now()); err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "digest run failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Report counts what one run did.
type Report struct {
	// Sent counts the digests the mail server accepted.
	Sent int
	// Failed counts the sends that failed (tried again later).
	Failed int
}

// RunOnce sends every digest due at now: for each user with the digest on
// and a usable address, the digest of their most recent ended local day,
// once their quiet hours (or 07:00 local) on the day after are over, if
// that day brought notifications and nobody sent or holds it yet.
func (r *Runner) RunOnce(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	after := ""
	for {
		users, err := r.cfg.Store.DigestCandidates(ctx, after, pageSize)
		if err != nil {
			return rep, fmt.Errorf("digest candidates: %w", err)
		}
		for _, u := range users {
			sent, err := r.runUser(ctx, u, now)
			switch {
			case ctx.Err() != nil:
				return rep, ctx.Err()
			case err != nil:
				rep.Failed++
				r.logger.WarnContext(ctx, "digest not sent; tried again later", slog.String("user", u.User), slog.Any("error", err))
			case sent:
				rep.Sent++
			}
		}
		if len(users) < pageSize {
			return rep, nil
		}
		after = users[len(users)-1].User
	}
}

// Due returns the local day (YYYY-MM-DD) whose digest is due for a user at
// now, with its bounds, or ok=false when the send time of the most recent
// ended day has not come yet.
func Due(loc *time.Location, sendMinute int, now time.Time) (day string, from, to time.Time, ok bool) {
	local := now.In(loc)
	y, m, d := local.Date()
	sendAt := time.Date(y, m, d, sendMinute/60, sendMinute%60, 0, 0, loc)
	if now.Before(sendAt) {
		return "", time.Time{}, time.Time{}, false
	}
	to = time.Date(y, m, d, 0, 0, 0, 0, loc)
	from = time.Date(y, m, d-1, 0, 0, 0, 0, loc)
	return from.Format(time.DateOnly), from, to, true
}

// sendMinute is when the user's digest goes: the end of their quiet hours,
// or DefaultSendMinute.
func sendMinute(u store.Settings) int {
	if u.HasQuietHours() {
		return u.QuietEnd
	}
	return DefaultSendMinute
}

func (r *Runner) location(name string) *time.Location {
	if v, ok := r.zones.Load(name); ok {
		return v.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC // the settings service validates; an old row falls back
	}
	r.zones.Store(name, loc)
	return loc
}

// runUser sends u's digest if it is due; sent reports a send.
func (r *Runner) runUser(ctx context.Context, u store.Settings, now time.Time) (sent bool, err error) {
	addr := u.Address()
	if addr == "" {
		return false, nil
	}
	day, from, to, ok := Due(r.location(u.TimeZone), sendMinute(u), now)
	if !ok {
		return false, nil
	}
	if done, err := r.cfg.Store.DigestDone(ctx, u.User, day, now, r.cfg.MaxAttempts); err != nil || done {
		return false, err
	}
	items, err := r.cfg.Store.NotificationsBetween(ctx, u.User, from, to, maxItems+1)
	if err != nil || len(items) == 0 {
		return false, err
	}
	claim, ok, err := r.cfg.Store.ClaimDigest(ctx, u.User, day, randomID(), now, now.Add(r.cfg.Lease), r.cfg.MaxAttempts)
	if err != nil || !ok {
		return false, err
	}
	if err := r.send(ctx, u, addr, day, from, items, now); err != nil {
		// Another try after a pause that grows with the attempts, by
		// whichever runner comes first.
		retry := now.Add(time.Duration(claim.Attempts) * r.cfg.Tick)
		if rerr := r.cfg.Store.RetryDigestAt(ctx, claim, retry); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return false, err
	}
	fresh, err := r.cfg.Store.MarkDigestSent(ctx, claim, now)
	if err != nil {
		// The mail is out; the claim's lease runs out and the day is sent
		// again, with the same Message-ID.
		return true, fmt.Errorf("digest sent but not recorded: %w", err)
	}
	if !fresh {
		r.logger.WarnContext(ctx, "digest sent twice (a claim's lease ran out during its send); same Message-ID", slog.String("user", u.User), slog.String("day", day))
	}
	return true, nil
}

// send stores a fresh unsubscribe token, composes the mail and sends it.
func (r *Runner) send(ctx context.Context, u store.Settings, addr, day string, from time.Time, items []store.Notification, now time.Time) error {
	token := newToken()
	if err := r.cfg.Store.SaveDigestToken(ctx, u.User, HashToken(token), now); err != nil {
		return err
	}
	msg, err := r.compose(u.User, addr, day, from, items, token, now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Lease/2)
	defer cancel()
	return r.cfg.Mailer.Send(ctx, msg)
}

// Unsubscribe turns the digest off for the user a mailed token belongs
// to, and returns that user. An unknown token is store.ErrNotFound.
func (r *Runner) Unsubscribe(ctx context.Context, token string) (string, error) {
	return Unsubscribe(ctx, r.cfg.Store, token)
}

// Unsubscribe turns the digest off for the user a mailed token belongs to
// (without a runner: the service answers the unsubscribe link even where
// no SMTP server is configured). An unknown token is store.ErrNotFound.
func Unsubscribe(ctx context.Context, st interface {
	DigestTokenUser(ctx context.Context, tokenHash string) (string, error)
	SetDigestEnabled(ctx context.Context, user string, on bool) error
}, token string) (string, error) {
	user, err := st.DigestTokenUser(ctx, HashToken(token))
	if err != nil {
		return "", err
	}
	return user, st.SetDigestEnabled(ctx, user, false)
}

// HashToken is the form an unsubscribe token is stored in: SHA-256, hex.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken returns 32 random bytes, base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MessageID is the stable Message-ID of a user's digest for a day
// (without angle brackets): digest.{sha256(user)[:16]}.{day}@{host}.
func MessageID(user, day, host string) string {
	sum := sha256.Sum256([]byte(user))
	return fmt.Sprintf("digest.%s.%s@%s", hex.EncodeToString(sum[:])[:16], day, host)
}

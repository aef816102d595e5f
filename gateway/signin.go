package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// Browser sign-in (docs/signin.md). A browser holds an opaque session id in
// an HttpOnly cookie; the session, kept in a SessionStore, holds the user's
// upstream token (an OIDC ID token, or a built-in token for a one-time
// sign-in link), which the gateway puts in the Authorization header of the
// browser's requests, so everything past requireUserToken works as with a
// bearer token and every service verifies the same token as ever.

// SignIn configures browser sign-in; the zero value offers none (and
// /auth/session says signedIn:false to everyone).
type SignIn struct {
	// PublicURL is the gateway's public base URL, such as
	// "https://kin.example.com" (no path): the redirect URL registered at the
	// provider is PublicURL + "/auth/callback", sign-in links start with
	// it, and a cookie-authenticated write whose Origin is not PublicURL's
	// origin is refused. Required with OIDC or Links.
	PublicURL string
	// OIDC offers "Sign in" through an OpenID provider; nil offers none.
	OIDC *OIDCSignIn
	// Links enables one-time sign-in links (Gateway.SignInLink); nil
	// enables none.
	Links *LinkSignIn
	// SessionLifetime is how long a session lasts from sign-in, however
	// active; zero means DefaultSessionLifetime.
	SessionLifetime time.Duration
	// Sessions keeps sessions; nil keeps them in process
	// (NewMemorySessions). Gateways sharing a store (RedisSessions) share
	// their sessions when they also share SessionKey.
	Sessions SessionStore
	// SessionKey is secret key material (32 bytes or more; cmd/kinbridge
	// gives the service key's seed) from which the key sealing every value
	// in Sessions is derived, so that the store's contents neither sign
	// anyone in nor can be forged without it. Empty means a random key:
	// sessions then last as long as this process, and gateways sharing a
	// store do not share them.
	SessionKey []byte
}

// OIDCSignIn is the gateway's registration at an OpenID provider, as a
// confidential client when ClientSecret is set, a public one (PKCE only)
// otherwise.
type OIDCSignIn struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// on the first sign-in, not before, so the gateway starts while the
	// provider is down.
	Issuer string
	// ClientID is the gateway's client id, which is also the audience of
	// the ID tokens the services accept.
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back, exactly
	// as registered there; empty means PublicURL + "/auth/callback". It
	// must be on PublicURL's origin: the gateway answers at its path.
	RedirectURL string
	// Scopes are asked for beyond "openid"; nil means "offline_access"
	// (for a refresh token) and "email" (so the ID token may carry the
	// user's verified address, which the digest may use).
	Scopes []string
	// HTTPClient talks to the provider; nil means one with a 10s timeout.
	HTTPClient *http.Client
}

// LinkSignIn signs browsers in with one-time links (the `make run`
// banner's) as built-in users.
type LinkSignIn struct {
	// Mint issues a built-in user token for user, valid for ttl. It is
	// called at sign-in and again whenever the session's token nears its
	// end, so it must be in the process that holds the user signing key.
	Mint func(ctx context.Context, user string, admin bool, ttl time.Duration) (string, error)
}

// DefaultSessionLifetime is the default of SignIn.SessionLifetime.
const DefaultSessionLifetime = 7 * 24 * time.Hour

const (
	// sessionCookie's __Host- prefix makes browsers refuse one of that
	// name set by a sibling subdomain or without Secure and Path=/.
	sessionCookie = "__Host-kinbridge_session"
	// loginCookie binds a sign-in under way to the browser that started
	// it: a callback carrying another browser's state is refused.
	loginCookie = "kinbridge_signin"
	// csrfHeader carries the session's CSRF token on cookie writes.
	csrfHeader = "X-CSRF-Token"

	loginTTL = 10 * time.Minute
	// linkTokenTTL is how long a link session's built-in token lasts
	// before it is minted again.
	linkTokenTTL = time.Hour
	// refreshBefore is how long before the upstream token's end it is
	// refreshed (at most half its lifetime).
	refreshBefore = 5 * time.Minute
	// providerTimeout bounds each call to the provider.
	providerTimeout = 10 * time.Second
	// discoveryRetry is how long a failed discovery is the answer: while
	// the provider hangs, sign-ins queued behind one attempt fail at once
	// instead of each waiting providerTimeout in turn (anyone able to ask
	// /auth/login could otherwise queue every sign-in for minutes).
	discoveryRetry = 5 * time.Second
)

// errTokenRefused is a refreshed ID token that does not pass: the session
// ends at once.
var errTokenRefused = errors.New("the refreshed ID token is refused")

// session is what the store keeps for a signed-in browser.
type session struct {
	User    string    `json:"user"`
	Admin   bool      `json:"admin"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// Token is the upstream bearer token: an ID token (Via "oidc") or a
	// built-in token (Via "link").
	Token        string    `json:"token"`
	TokenIssued  time.Time `json:"tokenIssued"`
	TokenExpires time.Time `json:"tokenExpires"`
	Refresh      string    `json:"refresh,omitempty"`
	Via          string    `json:"via"`
	// Email is the address the provider vouches for (the ID token's email
	// with email_verified), "" if none. The calls carry it in Token, whose
	// claims the services read; the app reads it from /auth/session.
	Email string `json:"email,omitempty"`
}

// pendingLogin is what /auth/login leaves for /auth/callback.
type pendingLogin struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	ReturnTo string `json:"returnTo"`
}

// linkGrant is what a sign-in link's code stands for.
type linkGrant struct {
	User  string `json:"user"`
	Admin bool   `json:"admin"`
}

// signIn serves /auth/* and resolves session cookies.
type signIn struct {
	cfg    SignIn
	store  SessionStore
	origin string // PublicURL's scheme://host
	// callbackPath is the OIDC redirect URL's path, which serves the
	// callback (default /auth/callback).
	callbackPath string
	verifier     *auth.Verifier
	logger       *slog.Logger
	baseCtx      context.Context // the gateway's: the provider's key fetches outlive requests
	now          func() time.Time
	refresh      singleflight.Group

	mu       sync.Mutex
	provider *oidcProvider // nil until discovered
	// failedAt and failure are the last failed discovery, answered
	// again for discoveryRetry without asking the provider.
	failedAt time.Time
	failure  error
}

type oidcProvider struct {
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
}

func newSignIn(ctx context.Context, cfg SignIn, v *auth.Verifier, logger *slog.Logger) (*signIn, error) {
	s := &signIn{cfg: cfg, verifier: v, logger: logger, baseCtx: ctx, now: time.Now, callbackPath: "/auth/callback"}
	store := cfg.Sessions
	if store == nil {
		store = NewMemorySessions()
	}
	sealed, err := newSealedStore(store, cfg.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("gateway: session key: %w", err)
	}
	s.store = sealed
	if s.cfg.SessionLifetime <= 0 {
		s.cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("gateway: public URL %q is not an http(s) URL", cfg.PublicURL)
		}
		// The app and /auth/* are served at the root: a path prefix would
		// need every redirect rewritten.
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("gateway: public URL %q must be scheme://host[:port], without a path", cfg.PublicURL)
		}
		s.origin = webOrigin(u)
		s.cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	} else if cfg.OIDC != nil || cfg.Links != nil {
		return nil, errors.New("gateway: sign-in needs a public URL")
	}
	if o := cfg.OIDC; o != nil {
		if o.Issuer == "" || o.ClientID == "" {
			return nil, errors.New("gateway: OIDC sign-in needs an issuer and a client id")
		}
		oc := *o
		if oc.HTTPClient == nil {
			oc.HTTPClient = &http.Client{Timeout: providerTimeout}
		}
		if oc.Scopes == nil {
			oc.Scopes = []string{"offline_access", "email"}
		}
		if oc.RedirectURL == "" {
			oc.RedirectURL = s.cfg.PublicURL + "/auth/callback"
		}
		u, err := url.Parse(oc.RedirectURL)
		if err != nil || u.Scheme == "" || webOrigin(u) != s.origin || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
			path.Clean(u.Path) != u.Path || strings.ContainsAny(u.Path, "{}") || reservedCallback(u.Path) {
			return nil, fmt.Errorf("gateway: OIDC redirect URL %q must be the public URL %s with a path of its own "+
				"(/auth/callback, or one outside the gateway's routes)", oc.RedirectURL, s.cfg.PublicURL)
		}
		s.callbackPath = u.Path
		s.cfg.OIDC = &oc
	}
	if cfg.Links != nil && cfg.Links.Mint == nil {
		return nil, errors.New("gateway: sign-in links need a Mint func")
	}
	return s, nil
}

// reservedCallback says whether p, as the OIDC callback's path, would
// take the place of another route of the gateway's.
func reservedCallback(p string) bool {
	if p == "/auth/callback" {
		return false
	}
	if p == "/" {
		return true
	}
	for _, r := range appReserved {
		if strings.HasPrefix(p, r) || p+"/" == r {
			return true
		}
	}
	return false
}

// webOrigin is u's origin as a browser serializes it in the Origin header:
// lower case, without the scheme's default port. The CSRF and cross-origin
// checks compare it byte for byte, so "https://Kin.example:443" as the
// public URL must not refuse every write from https://kin.example.
func webOrigin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host
}

func (s *signIn) routes(mux *http.ServeMux) {
	noStore := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			privateAnswer(w.Header())
			// Nothing here is a page to frame or run scripts in.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			w.Header().Set("X-Frame-Options", "DENY")
			w.Header().Set("Referrer-Policy", "no-referrer")
			h(w, r)
		}
	}
	mux.HandleFunc("GET /auth/session", noStore(s.serveSession))
	mux.HandleFunc("GET /auth/login", noStore(s.serveLogin))
	mux.HandleFunc("GET "+s.callbackPath, noStore(s.serveCallback))
	mux.HandleFunc("GET /auth/link", noStore(s.serveLink))
	mux.HandleFunc("POST /auth/logout", noStore(s.serveLogout))
	mux.HandleFunc("/auth/", noStore(func(w http.ResponseWriter, r *http.Request) {
		routingErrorHandler(r.Context(), nil, jsonMarshaler, w, r, http.StatusNotFound)
	}))
}

// SignInLink returns a one-time link that signs a browser in as user for a
// session, usable once within ttl. It fails when the gateway has no
// LinkSignIn.
func (g *Gateway) SignInLink(ctx context.Context, user string, admin bool, ttl time.Duration) (string, error) {
	s := g.signIn
	if s.cfg.Links == nil {
		return "", errors.New("gateway: sign-in links are not enabled")
	}
	if user == "" || ttl <= 0 {
		return "", errors.New("gateway: a sign-in link needs a user and a positive ttl")
	}
	code := randomID()
	grant, _ := json.Marshal(linkGrant{User: user, Admin: admin})
	if err := s.store.Put(ctx, storeKey("link", code), grant, ttl); err != nil {
		return "", fmt.Errorf("gateway: storing a sign-in link: %w", err)
	}
	return s.cfg.PublicURL + "/auth/link?code=" + code, nil
}

// randomID is 256 random bits, base64url: session ids, codes, states,
// nonces and CSRF tokens.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeKey names what a browser-held secret stands for in the store by
// its hash, so that the store's contents (a Redis dump) sign no one in.
func storeKey(kind, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return kind + ":" + hex.EncodeToString(sum[:])
}

// sessionID is the browser's session id: its one session cookie. Two
// different ones mean a cookie was tossed in by a neighbour (a sibling
// subdomain can set one for the parent domain or a longer path, which the
// browser then sends first): rather than guess which is the user's and
// maybe act as the attacker's account, the request has no session.
func (s *signIn) sessionID(r *http.Request) (string, bool) {
	id := ""
	for _, c := range r.CookiesNamed(sessionCookie) {
		switch {
		case c.Value == "" || c.Value == id:
		case id == "":
			id = c.Value
		default:
			s.logger.WarnContext(r.Context(), "gateway: a request brought two session cookies; it is treated as signed out")
			return "", false
		}
	}
	return id, id != ""
}

// sessionFromCookie returns the browser's session and its store key;
// ok is false without a (live) one. A token near its end is refreshed
// first; a failed refresh ends the session.
func (s *signIn) sessionFromCookie(r *http.Request) (sess session, key string, ok bool, err error) {
	id, ok := s.sessionID(r)
	if !ok {
		return session{}, "", false, nil
	}
	key = storeKey("session", id)
	sess, ok, err = s.load(r.Context(), key)
	if err != nil || !ok {
		return session{}, "", false, err
	}
	if s.needsRefresh(sess) {
		// Detached from this request's cancellation: other requests may
		// wait for the same refresh, and a client going away must not end
		// the session. The calls to the provider have their own timeout.
		ctx := context.WithoutCancel(r.Context())
		v, err, _ := s.refresh.Do(key, func() (any, error) { return s.refreshSession(ctx, key, sess) })
		if err != nil {
			s.logger.InfoContext(r.Context(), "gateway: a session ended: its token could not be refreshed", slog.Any("error", err))
			return session{}, "", false, nil
		}
		sess = v.(session)
	}
	return sess, key, true, nil
}

func (s *signIn) load(ctx context.Context, key string) (session, bool, error) {
	data, err := s.store.Get(ctx, key)
	if errors.Is(err, ErrNoSession) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	var sess session
	if json.Unmarshal(data, &sess) != nil || !s.now().Before(sess.Expires) {
		_ = s.store.Delete(ctx, key)
		return session{}, false, nil
	}
	return sess, true, nil
}

func (s *signIn) save(ctx context.Context, key string, sess session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.store.Put(ctx, key, data, sess.Expires.Sub(s.now()))
}

func (s *signIn) needsRefresh(sess session) bool {
	margin := min(refreshBefore, sess.TokenExpires.Sub(sess.TokenIssued)/2)
	return !s.now().Before(sess.TokenExpires.Add(-margin))
}

// refreshSession renews sess's upstream token and stores it. When that
// fails it looks again: another request or gateway may have renewed it
// meanwhile (a provider may accept each refresh token once). When the
// provider could not be reached and the token has not ended yet, the
// session goes on with it and the next request tries again: an outage of
// the provider does not sign everybody out. Otherwise the session ends.
func (s *signIn) refreshSession(ctx context.Context, key string, sess session) (session, error) {
	next, err := s.renew(ctx, sess)
	if err == nil {
		if err := s.save(ctx, key, next); err != nil {
			s.logger.WarnContext(ctx, "gateway: storing a refreshed session", slog.Any("error", err))
		}
		return next, nil
	}
	if again, ok, lerr := s.load(ctx, key); lerr == nil && ok && !s.needsRefresh(again) {
		return again, nil
	}
	var refused *oauth2.RetrieveError
	if sess.Via == "oidc" && !errors.As(err, &refused) && !errors.Is(err, errTokenRefused) && s.now().Before(sess.TokenExpires) {
		s.logger.WarnContext(ctx, "gateway: refreshing a session's token failed; it goes on until the token ends", slog.Any("error", err))
		return sess, nil
	}
	_ = s.store.Delete(ctx, key)
	return session{}, err
}

func (s *signIn) renew(ctx context.Context, sess session) (session, error) {
	switch sess.Via {
	case "link":
		if s.cfg.Links == nil {
			return sess, errors.New("sign-in links are no longer enabled")
		}
		tok, err := s.cfg.Links.Mint(ctx, sess.User, sess.Admin, linkTokenTTL)
		if err != nil {
			return sess, err
		}
		sess.Token, sess.TokenIssued, sess.TokenExpires = tok, s.now(), s.now().Add(linkTokenTTL)
		return sess, nil
	case "oidc":
		if sess.Refresh == "" {
			return sess, errors.New("the provider gave no refresh token")
		}
		p, err := s.oidcProvider(ctx)
		if err != nil {
			return sess, err
		}
		ctx, cancel := context.WithTimeout(s.clientContext(ctx), providerTimeout)
		defer cancel()
		tok, err := p.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: sess.Refresh}).Token()
		if err != nil {
			return sess, fmt.Errorf("refresh: %w", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := p.verifier.Verify(ctx, raw)
		if err != nil {
			return sess, fmt.Errorf("%w: %v", errTokenRefused, err)
		}
		who, err := s.verifier.VerifyUser(ctx, raw)
		if err != nil || who.Subject != sess.User {
			return sess, fmt.Errorf("%w: it names another user or the verifier refuses it (%v)", errTokenRefused, err)
		}
		sess.Token, sess.TokenIssued, sess.TokenExpires, sess.Email = raw, s.now(), idt.Expiry, who.VerifiedEmail()
		if tok.RefreshToken != "" {
			sess.Refresh = tok.RefreshToken
		}
		return sess, nil
	}
	return sess, fmt.Errorf("unknown session kind %q", sess.Via)
}

// clientContext carries the provider's HTTP client for go-oidc and oauth2.
func (s *signIn) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.cfg.OIDC.HTTPClient)
}

// oidcProvider discovers the provider on first use and keeps it once
// discovery succeeded.
func (s *signIn) oidcProvider(ctx context.Context) (*oidcProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	if s.failure != nil && s.now().Before(s.failedAt.Add(discoveryRetry)) {
		return nil, s.failure
	}
	o := s.cfg.OIDC
	dctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	prov, err := oidc.NewProvider(s.clientContext(dctx), o.Issuer)
	if err != nil {
		s.failedAt, s.failure = s.now(), err
		return nil, err
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = prov.Claims(&extra)
	// The key set go-oidc builds keeps the context it is given for its
	// fetches: the gateway's, not this request's.
	keyCtx := s.clientContext(s.baseCtx)
	s.provider = &oidcProvider{
		oauth: oauth2.Config{
			ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Endpoint:    prov.Endpoint(),
			RedirectURL: o.RedirectURL,
			Scopes:      append([]string{oidc.ScopeOpenID}, o.Scopes...),
		},
		verifier:   prov.VerifierContext(keyCtx, &oidc.Config{ClientID: o.ClientID}),
		endSession: extra.EndSession,
	}
	return s.provider, nil
}

func (s *signIn) serveSession(w http.ResponseWriter, r *http.Request) {
	sess, _, ok, err := s.sessionFromCookie(r)
	if err != nil {
		writeError(w, r, s.storeError(r, err))
		return
	}
	// A page of another origin learns nothing, not even the CSRF token,
	// should a proxy in front ever add CORS credentials: browsers name
	// the origin of every cross-origin fetch.
	if o := r.Header.Get("Origin"); o != "" && o != s.origin {
		ok = false
	}
	out := map[string]any{"signedIn": ok, "oidc": s.cfg.OIDC != nil}
	if ok {
		out["user"], out["administrator"] = sess.User, sess.Admin
		out["expireTime"], out["csrfToken"] = sess.Expires.UTC().Format(time.RFC3339), sess.CSRF
		if sess.Email != "" {
			out["email"] = sess.Email
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *signIn) storeError(r *http.Request, err error) error {
	s.logger.WarnContext(r.Context(), "gateway: the session store failed", slog.Any("error", err))
	return status.Error(codes.Unavailable, "sessions are unavailable; retry shortly")
}

// safeReturnTo keeps a same-origin path: "/x" but not "//host" or "/\host"
// (which browsers take for another host), else "/".
func safeReturnTo(v string) string {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") ||
		strings.ContainsAny(v, "\r\n\t\\") {
		return "/"
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return v
}

func (s *signIn) serveLogin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		writeError(w, r, status.Error(codes.NotFound, "sign-in through an identity provider is not configured"))
		return
	}
	p, err := s.oidcProvider(r.Context())
	if err != nil {
		s.logger.WarnContext(r.Context(), "gateway: OIDC discovery failed", slog.Any("error", err))
		writeError(w, r, status.Error(codes.Unavailable, "the identity provider cannot be reached; retry shortly"))
		return
	}
	state, nonce, verifier := randomID(), randomID(), oauth2.GenerateVerifier()
	pending, _ := json.Marshal(pendingLogin{Nonce: nonce, Verifier: verifier, ReturnTo: safeReturnTo(r.URL.Query().Get("returnTo"))})
	if err := s.store.Put(r.Context(), storeKey("login", state), pending, loginTTL); err != nil {
		writeError(w, r, s.storeError(r, err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: state, Path: s.callbackPath, MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// failSignIn sends the browser to the app's sign-in page with a short
// reason; the details go to the log.
func (s *signIn) failSignIn(w http.ResponseWriter, r *http.Request, reason string, err error) {
	if err != nil {
		s.logger.InfoContext(r.Context(), "gateway: a sign-in failed", slog.String("reason", reason), slog.Any("error", err))
	}
	http.Redirect(w, r, "/signin?error="+reason, http.StatusSeeOther)
}

func (s *signIn) serveCallback(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		writeError(w, r, status.Error(codes.NotFound, "sign-in through an identity provider is not configured"))
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: s.callbackPath, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(loginCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		s.failSignIn(w, r, "invalid", errors.New("the state does not match this browser's sign-in"))
		return
	}
	data, err := s.store.Take(r.Context(), storeKey("login", state))
	if errors.Is(err, ErrNoSession) {
		s.failSignIn(w, r, "expired", nil)
		return
	}
	var pending pendingLogin
	if err == nil {
		err = json.Unmarshal(data, &pending)
	}
	if err != nil {
		s.failSignIn(w, r, "unavailable", err)
		return
	}
	if e := q.Get("error"); e != "" {
		reason := "invalid"
		if e == "access_denied" {
			reason = "denied"
		}
		s.failSignIn(w, r, reason, fmt.Errorf("the provider says %s: %s", e, q.Get("error_description")))
		return
	}
	sess, err := s.exchange(r.Context(), q.Get("code"), pending)
	if err != nil {
		s.failSignIn(w, r, "invalid", err)
		return
	}
	if err := s.startSession(w, r, sess); err != nil {
		s.failSignIn(w, r, "unavailable", err)
		return
	}
	http.Redirect(w, r, pending.ReturnTo, http.StatusSeeOther)
}

// exchange trades the authorization code for tokens and checks the ID
// token: signature, issuer, audience, expiry, then the nonce this browser's
// sign-in was started with, then that the services will accept it.
func (s *signIn) exchange(ctx context.Context, code string, pending pendingLogin) (session, error) {
	if code == "" {
		return session{}, errors.New("no code")
	}
	p, err := s.oidcProvider(ctx)
	if err != nil {
		return session{}, err
	}
	ctx, cancel := context.WithTimeout(s.clientContext(ctx), providerTimeout)
	defer cancel()
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return session{}, fmt.Errorf("code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return session{}, fmt.Errorf("ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {
		return session{}, errors.New("ID token: the nonce does not match")
	}
	who, err := s.verifier.VerifyUser(ctx, raw)
	if err != nil {
		return session{}, fmt.Errorf("ID token refused by the verifier: %w", err)
	}
	return session{User: who.Subject, Admin: who.Admin, Via: "oidc", Token: raw,
		TokenIssued: s.now(), TokenExpires: idt.Expiry, Refresh: tok.RefreshToken, Email: who.VerifiedEmail()}, nil
}

// startSession stores sess under a new id (never one the browser brought)
// and gives the browser its cookie; a session the browser had ends.
func (s *signIn) startSession(w http.ResponseWriter, r *http.Request, sess session) error {
	if old, ok := s.sessionID(r); ok {
		_ = s.store.Delete(r.Context(), storeKey("session", old))
	}
	id := randomID()
	sess.CSRF = randomID()
	sess.Expires = s.now().Add(s.cfg.SessionLifetime)
	if err := s.save(r.Context(), storeKey("session", id), sess); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *signIn) serveLink(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Links == nil {
		writeError(w, r, status.Error(codes.NotFound, "sign-in links are not enabled"))
		return
	}
	code := r.URL.Query().Get("code")
	if code == "" {
		s.failSignIn(w, r, "link", nil)
		return
	}
	data, err := s.store.Take(r.Context(), storeKey("link", code))
	var grant linkGrant
	if err == nil {
		err = json.Unmarshal(data, &grant)
	}
	if err != nil {
		if errors.Is(err, ErrNoSession) {
			err = nil // used, unknown or expired: nothing to log
		}
		s.failSignIn(w, r, "link", err)
		return
	}
	tok, err := s.cfg.Links.Mint(r.Context(), grant.User, grant.Admin, linkTokenTTL)
	if err != nil {
		s.failSignIn(w, r, "link", err)
		return
	}
	sess := session{User: grant.User, Admin: grant.Admin, Via: "link", Token: tok, TokenIssued: s.now(), TokenExpires: s.now().Add(linkTokenTTL)}
	if err := s.startSession(w, r, sess); err != nil {
		s.failSignIn(w, r, "link", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *signIn) serveLogout(w http.ResponseWriter, r *http.Request) {
	sess, key, ok, err := s.sessionFromCookie(r)
	if err != nil {
		writeError(w, r, s.storeError(r, err))
		return
	}
	out := map[string]string{}
	if ok {
		if err := s.checkWrite(r, sess); err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.store.Delete(r.Context(), key); err != nil {
			writeError(w, r, s.storeError(r, err))
			return
		}
		if sess.Via == "oidc" {
			if p, err := s.oidcProvider(r.Context()); err == nil && p.endSession != "" {
				// No id_token_hint: the ID token is the session's bearer
				// token, valid upstream until it expires, and this URL
				// goes to the page's script, the browser's history and
				// the provider's logs. OpenID RP-Initiated Logout lets
				// client_id stand in for it.
				q := url.Values{"client_id": {s.cfg.OIDC.ClientID},
					"post_logout_redirect_uri": {s.cfg.PublicURL + "/signin"}}
				out["logoutUrl"] = p.endSession + "?" + q.Encode()
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, out)
}

// checkWrite refuses a cookie-authenticated request that could have been
// forged by another site, whatever its method. An Origin, when the
// browser sends one, must be ours: browsers send it on every WebSocket
// handshake and cross-origin fetch or EventSource, never on a same-origin
// GET, so a page of another origin (even one on the CORS list, or a
// sibling subdomain, which SameSite=Lax does not keep out) cannot open
// the live feed or read an answer by a family's cookie. Sec-Fetch-Site,
// when sent, must not name another site, but for a link followed. A
// method that changes something must also carry the session's CSRF token
// (which only the app's own pages can read, from /auth/session).
func (s *signIn) checkWrite(r *http.Request, sess session) error {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin {
		return status.Error(codes.PermissionDenied, "cross-origin request refused")
	}
	// Fetch metadata (sent by current browsers) names what Origin does
	// not: an <img>, <video> or <script> of a sibling subdomain's page
	// (same-site, so SameSite=Lax sends the cookie). Only a top-level
	// navigation (a link followed) may come from elsewhere.
	if site := r.Header.Get("Sec-Fetch-Site"); (site == "same-site" || site == "cross-site") &&
		(r.Header.Get("Sec-Fetch-Mode") != "navigate" || r.Method != http.MethodGet) {
		return status.Error(codes.PermissionDenied, "cross-site request refused")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
		return status.Error(codes.PermissionDenied, "missing or wrong "+csrfHeader+" header")
	}
	return nil
}

// authenticate lets a browser's session stand for a bearer token: for a
// request that brings no token of its own but a session cookie, it checks
// CSRF and puts the session's token in the Authorization header. A
// request with no live session goes on without a token (and is refused
// 401 where one is needed).
func (s *signIn) authenticate(r *http.Request) error {
	if r.Header.Get("Authorization") != "" || r.URL.Query().Has("access_token") {
		return nil
	}
	if _, err := r.Cookie(sessionCookie); err != nil {
		return nil
	}
	sess, _, ok, err := s.sessionFromCookie(r)
	if err != nil {
		return s.storeError(r, err)
	}
	if !ok {
		return nil
	}
	if err := s.checkWrite(r, sess); err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+sess.Token)
	return nil
}

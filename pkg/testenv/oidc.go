package testenv

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// OIDCProvider is a real OpenID provider for tests: zitadel/oidc's op
// package with its example in-memory storage and login UI (an HTML form
// at /login/username with fields "username" and "password" and a
// "Login" button), on a loopback port. It serves discovery, the
// authorization code flow with PKCE, refresh tokens, JWKS and end_session.
// Clients and users are added by the test.
type OIDCProvider struct {
	// Issuer is the provider's issuer URL, such as "http://127.0.0.1:41234".
	Issuer string

	refreshes atomic.Int32
	refuse    atomic.Bool

	mu           sync.Mutex
	clients      map[string]op.Client
	redirectURLs map[string][]string      // by client id
	users        map[string]*storage.User // by username
}

// StartOIDCProvider starts a provider that runs until the test ends.
func StartOIDCProvider(t testing.TB) *OIDCProvider {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &OIDCProvider{Issuer: "http://" + lis.Addr().String(), clients: map[string]op.Client{}, redirectURLs: map[string][]string{}, users: map[string]*storage.User{}}
	st := &oidcStorage{Storage: storage.NewStorageWithClients(oidcUsers{p}, map[string]*storage.Client{}), p: p}
	srv := &http.Server{Handler: exampleop.SetupServer(p.Issuer, st, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return p
}

// AddClient registers a confidential web client (HTTP Basic client
// authentication; PKCE is accepted as well) that may redirect to
// redirectURL and, after sign-out, to postLogoutURLs. Its ID tokens last
// idTokenLifetime (zero: an hour). Adding a client id again adds its
// redirect URLs to those it had (several gateways, one client) and
// replaces the rest.
func (p *OIDCProvider) AddClient(id, secret, redirectURL string, idTokenLifetime time.Duration, postLogoutURLs ...string) {
	if idTokenLifetime == 0 {
		idTokenLifetime = time.Hour
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var logout []string
	if old, ok := p.clients[id].(oidcClient); ok {
		logout = old.postLogout
	}
	p.redirectURLs[id] = append(p.redirectURLs[id], redirectURL)
	p.clients[id] = oidcClient{Client: storage.WebClient(id, secret, p.redirectURLs[id]...), secret: secret,
		lifetime: idTokenLifetime, postLogout: append(logout, postLogoutURLs...)}
}

// AddUser adds a person who signs in with username and password; the
// ID tokens name them by subject.
func (p *OIDCProvider) AddUser(subject, username, password string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[username] = &storage.User{ID: subject, Username: username, Password: password,
		FirstName: username, Email: username + "@example.com", EmailVerified: true, PreferredLanguage: language.English}
}

// Refreshes counts the refresh token grants the provider was asked for.
func (p *OIDCProvider) Refreshes() int { return int(p.refreshes.Load()) }

// RefuseRefresh makes the provider refuse (or accept again) every refresh
// token, as when a person's access was revoked.
func (p *OIDCProvider) RefuseRefresh(refuse bool) { p.refuse.Store(refuse) }

// Authorize walks client (which must have a cookie jar) from start, a
// relying party's URL that sends the browser to the provider, through the
// provider's login form as username, and returns the URL the provider
// sends the browser back to (the relying party's callback with code and
// state) without requesting it.
func (p *OIDCProvider) Authorize(ctx context.Context, client *http.Client, start, username, password string) (string, error) {
	c := noFollow(client)
	// To the login form, through the relying party and the provider.
	form, err := p.redirects(ctx, c, http.MethodGet, start, nil, func(loc string) bool {
		return strings.HasPrefix(loc, p.Issuer+"/login/")
	})
	if err != nil {
		return "", err
	}
	resp, err := get(ctx, c, form)
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]*)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("testenv: %s did not show the login form: %s", form, resp.Status)
	}
	fields := url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}}
	// Back out of the provider.
	return p.redirects(ctx, c, http.MethodPost, p.Issuer+"/login/username", fields, func(loc string) bool {
		return !strings.HasPrefix(loc, p.Issuer+"/")
	})
}

// Login is Authorize, then the request of the callback URL, whose answer
// (not followed: typically a redirect with a session cookie) it returns.
func (p *OIDCProvider) Login(ctx context.Context, client *http.Client, start, username, password string) (*http.Response, error) {
	callback, err := p.Authorize(ctx, client, start, username, password)
	if err != nil {
		return nil, err
	}
	return get(ctx, noFollow(client), callback)
}

// redirects requests target (with form, if any) and follows its redirects
// until one whose Location done accepts, which it returns. An answer that
// is not a redirect is an error.
func (p *OIDCProvider) redirects(ctx context.Context, c *http.Client, method, target string, form url.Values, done func(string) bool) (string, error) {
	for range 20 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		if err != nil {
			return "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return "", fmt.Errorf("testenv: %s %s answered %s, not the expected redirect (wrong password?)", method, target, resp.Status)
		}
		if done(loc.String()) {
			return loc.String(), nil
		}
		method, target, form = http.MethodGet, loc.String(), nil
	}
	return "", errors.New("testenv: too many redirects")
}

func get(ctx context.Context, c *http.Client, target string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func noFollow(client *http.Client) *http.Client {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// oidcStorage is the example storage with the test's clients and users,
// and a refresh grant the test can count and refuse.
type oidcStorage struct {
	*storage.Storage
	p *OIDCProvider
}

func (s *oidcStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if c, ok := s.p.clients[id]; ok {
		return c, nil
	}
	return nil, errors.New("client not found")
}

func (s *oidcStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if c, ok := s.p.clients[id].(oidcClient); ok && c.secret == secret {
		return nil
	}
	return errors.New("invalid client")
}

func (s *oidcStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s.p.refreshes.Add(1)
	if s.p.refuse.Load() {
		return nil, errors.New("refresh tokens are refused")
	}
	return s.Storage.TokenRequestByRefreshToken(ctx, token)
}

type oidcClient struct {
	*storage.Client
	secret     string
	lifetime   time.Duration
	postLogout []string
}

func (c oidcClient) IDTokenLifetime() time.Duration   { return c.lifetime }
func (c oidcClient) PostLogoutRedirectURIs() []string { return c.postLogout }

// IDTokenUserinfoClaimsAssertion puts the claims of the scopes asked for
// (email, email_verified for "email") in the ID token itself, as the
// providers Kinbridge meets do, not only in the userinfo answer.
func (c oidcClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// oidcUsers is the provider's users, as the example storage asks for them.
type oidcUsers struct{ p *OIDCProvider }

func (u oidcUsers) GetUserByID(id string) *storage.User {
	u.p.mu.Lock()
	defer u.p.mu.Unlock()
	for _, user := range u.p.users {
		if user.ID == id {
			return user
		}
	}
	return nil
}

func (u oidcUsers) GetUserByUsername(name string) *storage.User {
	u.p.mu.Lock()
	defer u.p.mu.Unlock()
	return u.p.users[name]
}

func (oidcUsers) ExampleClientID() string { return "service" }

package auth

import (
	"sync"
	"time"
)

// A caller sends the same token with every call until it expires, and a
// request through the gateway has it checked twice (the gateway, then the
// service). Decoding it and checking an Ed25519 signature each time was
// about a third of a GetChild call's allocations, so a Verifier remembers
// the tokens it verified.
//
// What makes this safe: the key is the token's exact text, so a token that
// differs in any byte (another signature, another claim) is verified in
// full; an entry holds the token's own validity window (exp and nbf or iat,
// leeway included) and is used only inside it, so a cached token expires
// exactly when it would have; nothing that failed is stored, so a refusal
// never sticks and a token cannot be refused for good by a bad first try.
// Only built-in tokens are cached: their keys never change while the process
// runs, whereas an OIDC provider's key set is refreshed, and a key it drops
// must stop its tokens at once.

// maxCachedTokenBytes keeps the cache's memory bounded whatever tokens
// come: Kinbridge's own are a few hundred bytes.
const maxCachedTokenBytes = 2 << 10

// DefaultTokenCacheSize is VerifierConfig.CacheSize's default: enough for
// the callers of a busy instance, at most a few MiB.
const DefaultTokenCacheSize = 4096

// verified is a token that passed, and when its verdict holds.
type verified struct {
	p     Principal
	from  time.Time // zero when the token names no start
	until time.Time
}

func (e verified) validAt(now time.Time) bool {
	return now.Before(e.until) && !now.Before(e.from)
}

// tokenCache is a bounded set of verified tokens. When it is full, expired
// entries go first, then arbitrary ones, an eighth of the cache at once so
// the sweep is paid once per many additions: tokens are used in bursts by
// the clients holding them, so which ones go matters little, and keeping
// no order keeps a hit to a read lock and a map lookup.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]verified
	size    int
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{entries: make(map[string]verified, min(size, 256)), size: size}
}

// get returns the principal token was verified as, if that verdict holds at
// now.
func (c *tokenCache) get(token string, now time.Time) (Principal, bool) {
	if c == nil {
		return Principal{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok || !e.validAt(now) {
		return Principal{}, false
	}
	return e.p, true
}

// put remembers that token verified as e.p, for e's window.
func (c *tokenCache) put(token string, e verified, now time.Time) {
	if c == nil || len(token) > maxCachedTokenBytes || !e.validAt(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.size {
		for k, old := range c.entries {
			if !now.Before(old.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.size {
			keep := c.size - c.size/8
			for k := range c.entries {
				if len(c.entries) < keep {
					break
				}
				delete(c.entries, k)
			}
		}
	}
	c.entries[token] = e
}

// len is the number of entries, for tests.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

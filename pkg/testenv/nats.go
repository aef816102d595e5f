package testenv

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSEnv names the variable holding the URL of the NATS server tests use.
const NATSEnv = "KINBRIDGE_TEST_NATS_URL"

// DefaultNATSURL is used when NATSEnv is unset: a local server, as a developer's machine or a
// CI service has.
const DefaultNATSURL = nats.DefaultURL

// natsDialTimeout bounds the reachability check, so a machine without NATS skips quickly.
const natsDialTimeout = 2 * time.Second

// natsUnreachable remembers URLs that failed to connect, so that a test binary with many NATS
// tests pays the dial timeout once.
var natsUnreachable sync.Map // URL -> error

// NATS returns the URL of the NATS server named by KINBRIDGE_TEST_NATS_URL (default
// [DefaultNATSURL]) after checking that a client can connect to it.
//
// The server is shared by every test and every test binary running at the time: use subjects no
// one else uses (see [NATSPrefix]) and never stop the server. A test that must cut connections
// or stop a server runs its own in-process nats-server instead.
//
// If the server cannot be reached the test is skipped, or fails when KINBRIDGE_TEST_REQUIRE
// names "nats"; see [SkipOrFail].
func NATS(t testing.TB) string {
	t.Helper()
	u := os.Getenv(NATSEnv)
	if u == "" {
		u = DefaultNATSURL
	}
	howTo := fmt.Sprintf("set %s to the URL of a NATS server (default %s)", NATSEnv, DefaultNATSURL)

	if err, ok := natsUnreachable.Load(u); ok {
		SkipOrFail(t, "nats", fmt.Sprintf("cannot connect to %s: %v; %s", redactURL(u), err, howTo))
		return ""
	}
	// A full handshake rather than a TCP dial: it also proves the credentials and TLS settings
	// in the URL work.
	nc, err := nats.Connect(u, nats.Name("kinbridge-testenv"), nats.Timeout(natsDialTimeout),
		nats.NoReconnect())
	if err != nil {
		natsUnreachable.Store(u, err)
		SkipOrFail(t, "nats", fmt.Sprintf("cannot connect to %s: %v; %s", redactURL(u), err, howTo))
		return ""
	}
	nc.Close()
	return u
}

// NATSPrefix returns a subject prefix no other test uses, such as "kbtest.3f9c0a12d4e5b6a7", so
// that tests running at the same time on a shared server never see each other's messages.
func NATSPrefix(t testing.TB) string {
	t.Helper()
	return "kbtest." + randomHex(8)
}

// redactURL masks the secrets of a server URL shown in a test message: the password, or the
// user part as a whole when it has none (NATS reads a lone user part as a token). The URL may
// list several servers separated by commas.
func redactURL(u string) string {
	servers := strings.Split(u, ",")
	for i, s := range servers {
		p, err := url.Parse(strings.TrimSpace(s))
		switch {
		case err != nil:
			servers[i] = "(URL that does not parse, not shown)"
		case p.User == nil:
			servers[i] = p.String()
		default:
			if _, ok := p.User.Password(); ok {
				p.User = url.UserPassword(p.User.Username(), "xxxxx")
			} else {
				p.User = url.User("xxxxx")
			}
			servers[i] = p.String()
		}
	}
	return strings.Join(servers, ",")
}

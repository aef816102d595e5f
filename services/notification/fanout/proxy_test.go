package fanout_test

import (
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// natsProxy is a [testenv.Proxy] between a NATS client and its server, so
// that a test can cut the connection without touching the server.
type natsProxy struct{ *testenv.Proxy }

func newProxy(t testing.TB, target string) natsProxy {
	t.Helper()
	return natsProxy{testenv.NewProxy(t, target)}
}

// URL returns the NATS URL clients connect to.
func (p natsProxy) URL() string { return "nats://" + p.Addr() }

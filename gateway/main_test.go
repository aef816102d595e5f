package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that nothing the tests start (the live mux and its
// upstream streams, browsers' feeds, the services behind) outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

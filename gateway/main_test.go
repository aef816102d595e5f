package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that nothing the tests start (the live mux and its
// upstream streams, browsers' feeds, the services behind) outlives them.
// tusd lets a store call run on for a while after its request ends (its
// GracefulRequestCompletionTimeout), by design: that wait is not a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/tus/tusd/v2/pkg/handler.newDelayedContext.func1"))
}

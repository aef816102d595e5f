package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that nothing the tests start (the live mux and its
// upstream streams, browsers' feeds, the services behind) outlives them.
// tusd cancels a request's context 10 s after the request ends
// (GracefulRequestCompletionTimeout), from a goroutine of its own: that one
// ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/tus/tusd/v2/pkg/handler.newDelayedContext.func1"))
}

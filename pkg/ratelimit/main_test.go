package ratelimit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no Redis client or proxy a test opened outlives it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package telemetry_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// TestMain checks that Shutdown leaves no goroutine behind: the batch span processors and the
// exporter's gRPC connection must all stop. No goroutine is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// otelEnv lists the variables that change what Init does; clearEnv blanks them so the tests
// do not depend on the shell they run in (an empty value counts as unset everywhere).
var otelEnv = []string{
	"OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_TRACES_SAMPLER",
	"OTEL_TRACES_SAMPLER_ARG",
	"OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_METRICS_EXEMPLAR_FILTER",
}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
}

// syncBuffer is a bytes.Buffer safe for the SDK's goroutines to log into while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Lines() []string {
	return strings.Split(strings.TrimSpace(s.String()), "\n")
}

// initTelemetry calls Init with logs captured, and shuts it down when the test ends.
func initTelemetry(t *testing.T, cfg telemetry.Config) (*telemetry.Telemetry, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	if cfg.LogOutput == nil {
		cfg.LogOutput = out
	}
	tel, err := telemetry.Init(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel, out
}

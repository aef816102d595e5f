package access

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the cache's metrics.
const ScopeName = "github.com/kinbridge/kinbridge/pkg/access"

// MetricLookups counts cache lookups by cache and outcome; hits over
// hits plus misses is the hit rate.
const MetricLookups = "kinbridge.access.cache.lookups"

// Attributes of MetricLookups.
const (
	// AttrService is the service the Checker answers for (media,
	// notification).
	AttrService = attribute.Key("kinbridge.access.service")
	// AttrCache is "local" (in process) or "shared" (Redis).
	AttrCache = attribute.Key("kinbridge.access.cache")
	// AttrOutcome is "hit", "miss", or "error" (the shared cache failed,
	// and progress was asked).
	AttrOutcome = attribute.Key("kinbridge.access.outcome")
)

const (
	cacheLocal  = "local"
	cacheShared = "shared"

	outcomeHit   = "hit"
	outcomeMiss  = "miss"
	outcomeError = "error"
)

type metrics struct {
	lookups metric.Int64Counter
	service attribute.KeyValue
}

func newMetrics(mp metric.MeterProvider, service string) *metrics {
	m := &metrics{service: AttrService.String(service)}
	var err error
	m.lookups, err = mp.Meter(ScopeName).Int64Counter(MetricLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Access cache lookups, by cache (local, shared) and outcome (hit, miss, error)."))
	if err != nil {
		otel.Handle(err) // the instrument returned still works, or does nothing
	}
	return m
}

func (m *metrics) lookup(ctx context.Context, cache, outcome string) {
	m.lookups.Add(ctx, 1, metric.WithAttributes(m.service, AttrCache.String(cache), AttrOutcome.String(outcome)))
}

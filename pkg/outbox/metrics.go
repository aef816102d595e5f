package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ScopeName is the instrumentation scope of the relay's spans and metrics.
const ScopeName = "github.com/kinbridge/kinbridge/pkg/outbox"

// Metric names and attributes; see "Metrics" in the package documentation.
const (
	MetricLag        = "kinbridge.outbox.lag"
	MetricPending    = "kinbridge.outbox.pending"
	MetricDeliveries = "kinbridge.outbox.deliveries"
	MetricLeaseHeld  = "kinbridge.outbox.lease.held"

	// AttrOutbox names the outbox a series belongs to (Options.Outbox).
	AttrOutbox = attribute.Key("kinbridge.outbox.name")
	// AttrOutcome is "delivered" or "failed" on MetricDeliveries.
	AttrOutcome = attribute.Key("kinbridge.outbox.outcome")
)

// observeTimeout bounds the query behind the gauges, so that a scrape never
// hangs on a database that does not answer.
const observeTimeout = 5 * time.Second

type metrics struct {
	lag        metric.Float64ObservableGauge
	pending    metric.Int64ObservableGauge
	leaseHeld  metric.Int64ObservableGauge
	deliveries metric.Int64Counter

	meter     metric.Meter
	set       metric.MeasurementOption // kinbridge.outbox.name
	delivered metric.AddOption
	failed    metric.AddOption
}

func newMetrics(mp metric.MeterProvider, outbox string) *metrics {
	meter := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	name := AttrOutbox.String(outbox)
	m := &metrics{
		meter:     meter,
		set:       metric.WithAttributes(name),
		delivered: metric.WithAttributes(name, AttrOutcome.String("delivered")),
		failed:    metric.WithAttributes(name, AttrOutcome.String("failed")),
	}
	var errs [4]error
	m.lag, errs[0] = meter.Float64ObservableGauge(MetricLag, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest message not yet delivered; 0 when the outbox is empty."))
	m.pending, errs[1] = meter.Int64ObservableGauge(MetricPending, metric.WithUnit("{message}"),
		metric.WithDescription("Messages waiting in the outbox, including those backing off after a failure."))
	// No unit: "1" would earn the gauge a _ratio suffix in Prometheus.
	m.leaseHeld, errs[2] = meter.Int64ObservableGauge(MetricLeaseHeld,
		metric.WithDescription("1 while this relay holds the delivery lease, else 0."))
	m.deliveries, errs[3] = meter.Int64Counter(MetricDeliveries, metric.WithUnit("{delivery}"),
		metric.WithDescription("Delivery attempts, by outcome (delivered, failed)."))
	if err := errors.Join(errs[:]...); err != nil {
		// The instruments returned with an error still work (or do nothing):
		// metrics are not worth refusing to deliver events over.
		otel.Handle(fmt.Errorf("outbox: metrics: %w", err))
	}
	return m
}

// register starts reporting the gauges of r until the returned function is
// called. Every relay reports the same database-wide lag and pending count,
// holder or not, so the alert keeps working whichever instance delivers:
// aggregate them with max, not sum.
func (m *metrics) register(r *Relay) (unregister func()) {
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		held := int64(0)
		if r.held.Load() {
			held = 1
		}
		o.ObserveInt64(m.leaseHeld, held, m.set)

		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		var pending int64
		var oldest sql.NullInt64
		if err := r.raw.QueryRowContext(ctx,
			`SELECT count(*), min(create_us) FROM outbox_messages`).Scan(&pending, &oldest); err != nil {
			return fmt.Errorf("outbox: observe lag: %w", err)
		}
		lag := 0.0
		if oldest.Valid {
			// A producer's clock ahead of ours must not report a negative age.
			lag = max(0, time.Since(time.UnixMicro(oldest.Int64)).Seconds())
		}
		o.ObserveFloat64(m.lag, lag, m.set)
		o.ObserveInt64(m.pending, pending, m.set)
		return nil
	}, m.lag, m.pending, m.leaseHeld)
	if err != nil {
		otel.Handle(fmt.Errorf("outbox: metrics: %w", err))
		return func() {}
	}
	return func() {
		if err := reg.Unregister(); err != nil {
			otel.Handle(fmt.Errorf("outbox: metrics: %w", err))
		}
	}
}

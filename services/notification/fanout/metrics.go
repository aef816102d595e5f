package fanout

import (
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope is the instrumentation scope of the bus's metrics.
const scope = "github.com/kinbridge/kinbridge/services/notification/fanout"

// Metric names. Prometheus shows them with dots as underscores and counters suffixed _total.
const (
	metricLiveSubscribers = "kinbridge.notification.live_subscribers"
	metricPublished       = "kinbridge.notification.published"
	metricOverflows       = "kinbridge.notification.overflows"
	metricNATSDropped     = "kinbridge.notification.nats_dropped"
	metricNATSConnected   = "kinbridge.notification.nats_connected"
	metricNATSRejected    = "kinbridge.notification.nats_rejected"
)

// Values of the reason attribute of the overflows counter.
var (
	reasonBuffer      = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "buffer")))
	reasonInterrupted = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "interrupted")))
)

// Values of the reason attribute of the rejected counter.
var (
	reasonUnsigned = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "unsigned")))
	reasonBadMAC   = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "bad_mac")))
)

// metrics holds the bus's instruments. Every field is usable: an instrument that could not be
// created is replaced by a no-op one, because losing a metric must not stop notifications.
type metrics struct {
	meter     metric.Meter
	live      metric.Int64UpDownCounter
	published metric.Int64Counter
	overflows metric.Int64Counter
	dropped   metric.Int64Counter
	rejected  metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider, logger *slog.Logger) *metrics {
	meter := mp.Meter(scope)
	noops := noop.Meter{}
	report := func(name string, err error) {
		if err != nil {
			logger.Warn("fanout: cannot create metric", "metric", name, "error", err)
		}
	}

	live, err := meter.Int64UpDownCounter(metricLiveSubscribers, metric.WithUnit("{subscriber}"),
		metric.WithDescription("Live notification subscriptions on this instance."))
	report(metricLiveSubscribers, err)
	if live == nil {
		live, _ = noops.Int64UpDownCounter(metricLiveSubscribers)
	}
	published, err := meter.Int64Counter(metricPublished, metric.WithUnit("{message}"),
		metric.WithDescription("Notifications published on the live fan-out bus by this instance."))
	report(metricPublished, err)
	if published == nil {
		published, _ = noops.Int64Counter(metricPublished)
	}
	overflows, err := meter.Int64Counter(metricOverflows, metric.WithUnit("{subscription}"),
		metric.WithDescription("Live subscriptions ended because they may have missed messages, so that their clients "+
			"resume from their cursors: reason=buffer when the subscriber was too slow, reason=interrupted when the bus "+
			"itself lost messages (NATS connection lost, or NATS dropped messages)."))
	report(metricOverflows, err)
	if overflows == nil {
		overflows, _ = noops.Int64Counter(metricOverflows)
	}
	dropped, err := meter.Int64Counter(metricNATSDropped, metric.WithUnit("{message}"),
		metric.WithDescription("Notifications this instance could not hand to NATS, so other instances did not get them live."))
	report(metricNATSDropped, err)
	if dropped == nil {
		dropped, _ = noops.Int64Counter(metricNATSDropped)
	}
	rejected, err := meter.Int64Counter(metricNATSRejected, metric.WithUnit("{message}"),
		metric.WithDescription("Messages from NATS this instance dropped because they are not authenticated as its "+
			"deployment's: reason=unsigned without a MAC, reason=bad_mac with one that does not verify (another "+
			"deployment's key or subject, or a changed message)."))
	report(metricNATSRejected, err)
	if rejected == nil {
		rejected, _ = noops.Int64Counter(metricNATSRejected)
	}
	return &metrics{meter: meter, live: live, published: published, overflows: overflows, dropped: dropped, rejected: rejected}
}

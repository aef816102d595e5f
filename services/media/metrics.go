package media

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the media service's domain metrics, beside the per-RPC ones
// every server has:
//
//	kinbridge.media.upload.bytes         counter: upload bytes received (both upload paths)
//	kinbridge.media.uploads.active       up-down counter: upload streams in progress
//	kinbridge.media.jobs.depth           gauge: processing jobs queued or running
//	kinbridge.media.jobs.oldest_age      gauge (s): age of the oldest queued job
type metrics struct {
	uploadBytes metric.Int64Counter
	active      metric.Int64UpDownCounter
}

func newMetrics(mp metric.MeterProvider, svc *Service) (*metrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter("github.com/kinbridge/kinbridge/services/media")
	m := &metrics{}
	var err error
	if m.uploadBytes, err = meter.Int64Counter("kinbridge.media.upload.bytes", metric.WithUnit("By"),
		metric.WithDescription("Upload bytes received.")); err != nil {
		return nil, err
	}
	if m.active, err = meter.Int64UpDownCounter("kinbridge.media.uploads.active",
		metric.WithDescription("Upload streams in progress.")); err != nil {
		return nil, err
	}
	depth, err := meter.Int64ObservableGauge("kinbridge.media.jobs.depth", metric.WithDescription("Processing jobs queued or running."))
	if err != nil {
		return nil, err
	}
	age, err := meter.Float64ObservableGauge("kinbridge.media.jobs.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest queued processing job."))
	if err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		// Read at scrape time from the database, so every instance reports
		// the shared queue; aggregate with max, not sum.
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if n, err := svc.store.JobDepth(ctx); err == nil {
			o.ObserveInt64(depth, n)
		}
		if d, err := svc.store.OldestJobAge(ctx, time.Now()); err == nil {
			o.ObserveFloat64(age, d.Seconds())
		}
		return nil
	}, depth, age)
	return m, err
}

package fanout_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

// meter returns a meter provider read on demand, shut down when the test ends.
func meter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(t.Context()) })
	return mp, reader
}

// value returns the value of the int64 metric name with attributes attrs, and whether it has one.
func value(t *testing.T, reader *sdkmetric.ManualReader, name string, attrs ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			default:
				t.Fatalf("%s has data of type %T", name, m.Data)
			}
			for _, p := range points {
				if p.Attributes.Equals(&want) {
					return p.Value, true
				}
			}
		}
	}
	return 0, false
}

func wantValue(t *testing.T, reader *sdkmetric.ManualReader, want int64, name string, attrs ...attribute.KeyValue) {
	t.Helper()
	if got, _ := value(t, reader, name, attrs...); got != want {
		t.Errorf("%s%v = %d, want %d", name, attrs, got, want)
	}
}

func TestMetrics(t *testing.T) {
	s := startServer(t)
	for name, newBus := range map[string]func(*testing.T, fanout.Option) fanout.Bus{
		"local": func(t *testing.T, o fanout.Option) fanout.Bus {
			b := fanout.NewLocal(o)
			t.Cleanup(func() { b.Close() })
			return b
		},
		"nats": func(t *testing.T, o fanout.Option) fanout.Bus {
			return newNATSBus(t, connect(t, s.ClientURL(), nil), prefix, o)
		},
	} {
		t.Run(name, func(t *testing.T) {
			mp, reader := meter(t)
			b := newBus(t, fanout.WithMeterProvider(mp))
			slow := subscribe(t, b, "alice", 1)
			fast := subscribe(t, b, "alice", 10)
			subscribe(t, b, "bob", 10)
			wantValue(t, reader, 3, "kinbridge.notification.live_subscribers")

			publish(t, b, "alice", 1)
			publish(t, b, "alice", 2)
			wantNext(t, fast, 1, 2)
			waitEnd(t, slow)
			wantValue(t, reader, 2, "kinbridge.notification.published")
			wantValue(t, reader, 1, "kinbridge.notification.overflows", attribute.String("reason", "buffer"))
			wantValue(t, reader, 2, "kinbridge.notification.live_subscribers")

			fast.Close()
			wantValue(t, reader, 1, "kinbridge.notification.live_subscribers")
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			wantValue(t, reader, 0, "kinbridge.notification.live_subscribers")
		})
	}
}

func TestMetricsNATSConnection(t *testing.T) {
	s := startServer(t)
	px := newProxy(t, s.Addr().String())
	mp, reader := meter(t)
	b := newNATSBus(t, connect(t, px.URL(), nil), prefix, fanout.WithMeterProvider(mp))
	sub := subscribe(t, b, "alice", 10)
	wantValue(t, reader, 1, "kinbridge.notification.nats_connected")

	px.Cut()
	eventually(t, "the bus to notice the cut", func() bool { return !b.Connected() })
	wantValue(t, reader, 0, "kinbridge.notification.nats_connected")
	px.Restore()
	eventually(t, "the bus to reconnect", b.Connected)
	waitEnd(t, sub)
	wantValue(t, reader, 1, "kinbridge.notification.nats_connected")
	wantValue(t, reader, 1, "kinbridge.notification.overflows", attribute.String("reason", "interrupted"))

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if v, ok := value(t, reader, "kinbridge.notification.nats_connected"); ok {
		t.Errorf("closed bus still reports nats_connected = %d", v)
	}
}

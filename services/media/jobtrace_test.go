package media

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/services/media/store"
)

// TestJobSpanContinuesTheEnqueuer checks the parent of a job's span: the
// request that enqueued it, on every attempt, whatever the worker's own
// context holds; a job stored without a context starts a trace of its own.
func TestJobSpanContinuesTheEnqueuer(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := &Service{cfg: Config{TracerProvider: tp}}

	enqueuer := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 1}, SpanID: trace.SpanID{0x00, 0xf0, 2}, TraceFlags: trace.FlagsSampled,
	})
	stored := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), enqueuer), stored)
	// The worker's context carries some other span: the job must not join it.
	other := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled})
	workerCtx := trace.ContextWithSpanContext(context.Background(), other)

	for attempt := 1; attempt <= 2; attempt++ {
		job := store.Job{ID: "j1", ChildID: "c1", ItemID: "m1", Kind: jobThumbnail, Attempts: attempt, TraceContext: stored}
		_, span := s.startJobSpan(workerCtx, job)
		span.End()
	}
	_, span := s.startJobSpan(workerCtx, store.Job{ID: "j2", ChildID: "c1", ItemID: "m2", Kind: jobThumbnail, Attempts: 1})
	span.End()

	ended := rec.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans, want 3", len(ended))
	}
	for i, sp := range ended[:2] {
		if sp.Name() != "media.job thumbnail" || sp.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("attempt %d: span %q of kind %v", i+1, sp.Name(), sp.SpanKind())
		}
		if sp.Parent().SpanID() != enqueuer.SpanID() || sp.SpanContext().TraceID() != enqueuer.TraceID() {
			t.Errorf("attempt %d: parent %v in trace %v, want the enqueuer's span %v", i+1, sp.Parent().SpanID(), sp.SpanContext().TraceID(), enqueuer.SpanID())
		}
		if links := sp.Links(); len(links) != 0 {
			t.Errorf("attempt %d: links %v, want none (the enqueuer is the parent)", i+1, links)
		}
	}
	orphan := ended[2]
	if orphan.Parent().IsValid() || len(orphan.Links()) != 0 || orphan.SpanContext().TraceID() == other.TraceID() {
		t.Errorf("a job without a stored context: parent %v, links %v, trace %v; want a new root", orphan.Parent(), orphan.Links(), orphan.SpanContext().TraceID())
	}
}

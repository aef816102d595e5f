package telemetry

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Attribute keys the log handler adds: the names the OpenTelemetry specification gives trace
// context in non-OTLP log formats, which log stores (Loki derived fields, Grafana's
// trace-to-logs) look for.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogHandler wraps inner so that every record handled with a context holding a valid span
// context gets top-level trace_id and span_id attributes.
//
// The ids stay top-level even under Logger.WithGroup: the wrapper keeps groups to itself and
// hands inner the record's attributes nested in slog.Group values, so that
// logger.WithGroup("req").InfoContext(ctx, "x", "a", 1) gives trace_id=... req.a=1 rather than
// req.trace_id=.... Attributes added before the first group go to inner.WithAttrs as usual and
// keep its pre-formatting.
func NewLogHandler(inner slog.Handler) slog.Handler {
	return &logHandler{inner: inner}
}

// logHandler is the handler NewLogHandler returns. It is immutable: With* return copies.
type logHandler struct {
	inner slog.Handler // holds only the attributes added before any group
	// groups are the open groups, outermost first, each with the attributes added inside it.
	groups []logGroup
}

type logGroup struct {
	name  string
	attrs []slog.Attr
}

// Enabled reports whether inner handles records at level.
func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle adds the span's ids to r, nests r's attributes in the open groups, and passes it on.
func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() && len(h.groups) == 0 {
		return h.inner.Handle(ctx, r)
	}

	// A new record rather than r.AddAttrs: Record copies share storage, and r may be reused by
	// the caller (slog's docs ask for Clone before modifying a record).
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if sc.IsValid() {
		out.AddAttrs(
			slog.String(TraceIDKey, sc.TraceID().String()),
			slog.String(SpanIDKey, sc.SpanID().String()),
		)
	}
	if len(h.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(a)
			return true
		})
		return h.inner.Handle(ctx, out)
	}

	// Build the nesting inside out: the record's own attributes belong to the innermost group.
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for i := len(h.groups) - 1; i >= 0; i-- {
		g := h.groups[i]
		attrs = append(slices.Clip(g.attrs), attrs...)
		// Like slog's own handlers, an empty group produces nothing (a Group attr with no
		// members is dropped by the built-in handlers).
		attrs = []slog.Attr{slog.GroupAttrs(g.name, attrs...)}
	}
	out.AddAttrs(attrs...)
	return h.inner.Handle(ctx, out)
}

// WithAttrs returns a handler whose records also carry attrs, inside the open groups if any.
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &logHandler{inner: h.inner.WithAttrs(attrs)}
	}
	groups := slices.Clone(h.groups)
	last := &groups[len(groups)-1]
	last.attrs = append(slices.Clip(last.attrs), attrs...)
	return &logHandler{inner: h.inner, groups: groups}
}

// WithGroup returns a handler that nests later attributes under name.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" { // slog.Handler's contract: an empty name leaves the handler as it is.
		return h
	}
	groups := append(slices.Clip(h.groups), logGroup{name: name})
	return &logHandler{inner: h.inner, groups: groups}
}

package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// spanContext returns a context holding a fixed, valid, remote span context.
func spanContext(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(t.Context(), sc), sc
}

// decodeJSONLines parses one JSON object a line, dropping the time so records compare equal.
func decodeJSONLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		delete(m, slog.TimeKey)
		out = append(out, m)
	}
	return out
}

// TestLogHandlerMatchesInner is a differential test: for each way of building a logger, the
// wrapped handler must log exactly what the plain JSON handler logs, plus top-level trace_id and
// span_id when the context holds a span.
func TestLogHandlerMatchesInner(t *testing.T) {
	builds := []struct {
		name  string
		build func(*slog.Logger) *slog.Logger
	}{
		{"plain", func(l *slog.Logger) *slog.Logger { return l }},
		{"with", func(l *slog.Logger) *slog.Logger { return l.With("k", "v") }},
		{"with twice", func(l *slog.Logger) *slog.Logger { return l.With("k", "v").With("k2", 2) }},
		{"group", func(l *slog.Logger) *slog.Logger { return l.WithGroup("g") }},
		{"group then with", func(l *slog.Logger) *slog.Logger { return l.WithGroup("g").With("k", "v") }},
		{"with, nested groups, with", func(l *slog.Logger) *slog.Logger {
			return l.With("x", 1).WithGroup("g").With("k", "v").WithGroup("h").With("k2", true)
		}},
		{"empty group name is ignored", func(l *slog.Logger) *slog.Logger { return l.WithGroup("").With("k", "v") }},
		{"group attr inside group", func(l *slog.Logger) *slog.Logger {
			return l.WithGroup("g").With(slog.Group("req", "id", "r1"))
		}},
	}
	records := []struct {
		name string
		args []any
	}{
		{"no attrs", nil},
		{"attrs", []any{"a", 1, slog.Group("sub", "b", "x")}},
	}
	spanCtx, sc := spanContext(t)

	for _, b := range builds {
		for _, r := range records {
			for _, withSpan := range []bool{false, true} {
				name := b.name + "/" + r.name
				if withSpan {
					name += "/span"
				}
				t.Run(name, func(t *testing.T) {
					ctx := t.Context()
					if withSpan {
						ctx = spanCtx
					}
					var plainBuf, wrappedBuf bytes.Buffer
					plain := b.build(slog.New(slog.NewJSONHandler(&plainBuf, nil)))
					wrapped := b.build(slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&wrappedBuf, nil))))
					plain.InfoContext(ctx, "m", r.args...)
					wrapped.InfoContext(ctx, "m", r.args...)

					want := decodeJSONLines(t, plainBuf.Bytes())[0]
					if withSpan {
						want[telemetry.TraceIDKey] = sc.TraceID().String()
						want[telemetry.SpanIDKey] = sc.SpanID().String()
					}
					got := decodeJSONLines(t, wrappedBuf.Bytes())[0]
					if !reflect.DeepEqual(got, want) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}

// TestLogHandlerContract runs the standard library's handler conformance suite on the wrapper,
// which checks WithAttrs/WithGroup semantics the differential test might not think of.
func TestLogHandlerContract(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		lines := decodeJSONLines(t, buf.Bytes())
		if len(lines) != 1 {
			t.Fatalf("got %d records, want 1", len(lines))
		}
		// slogtest checks the time key itself; put back what decodeJSONLines dropped.
		var m map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// TestLogHandlerLevel checks that Enabled defers to the inner handler, so a filtered level costs
// nothing and is not written.
func TestLogHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, _ := spanContext(t)
	l.InfoContext(ctx, "dropped")
	l.WithGroup("g").With("k", "v").InfoContext(ctx, "dropped too")
	if buf.Len() != 0 {
		t.Errorf("records below the level were written: %s", buf.String())
	}
}

// TestInitLoggers checks the loggers Init hands out and installs: service attribute, trace ids,
// format and level from Config.
func TestInitLoggers(t *testing.T) {
	clearEnv(t)
	ctx, sc := spanContext(t)

	t.Run("json", func(t *testing.T) {
		tel, out := initTelemetry(t, telemetry.Config{LogFormat: "json", LogLevel: slog.LevelDebug})
		tel.Logger("progress").WithGroup("req").DebugContext(ctx, "hello", "child", "c1")
		slog.InfoContext(ctx, "from the default logger")

		var lines []map[string]any
		for _, l := range decodeJSONLines(t, []byte(out.String())) {
			if l[slog.MessageKey] == "hello" || l[slog.MessageKey] == "from the default logger" {
				lines = append(lines, l)
			}
		}
		if len(lines) != 2 {
			t.Fatalf("got %d of the 2 records in %s", len(lines), out.String())
		}
		want := map[string]any{
			slog.LevelKey: "DEBUG", slog.MessageKey: "hello", "service": "progress",
			telemetry.TraceIDKey: sc.TraceID().String(), telemetry.SpanIDKey: sc.SpanID().String(),
			"req": map[string]any{"child": "c1"},
		}
		if !maps.EqualFunc(lines[0], want, func(a, b any) bool { return reflect.DeepEqual(a, b) }) {
			t.Errorf("Logger record = %v, want %v", lines[0], want)
		}
		if lines[1][telemetry.TraceIDKey] != sc.TraceID().String() {
			t.Errorf("default logger record %v has no trace_id: slog.SetDefault not done?", lines[1])
		}
	})

	t.Run("text at default level", func(t *testing.T) {
		tel, out := initTelemetry(t, telemetry.Config{})
		l := tel.Logger("media")
		l.DebugContext(ctx, "debug is below the default level")
		l.InfoContext(ctx, "stored", "bytes", 42)
		var line string
		for _, l := range out.Lines() {
			if strings.Contains(l, "msg=stored") {
				line = l
			}
		}
		for _, want := range []string{"service=media", "bytes=42", "trace_id=" + sc.TraceID().String(), "span_id=" + sc.SpanID().String()} {
			if !strings.Contains(line, want) {
				t.Errorf("text record %q lacks %q", line, want)
			}
		}
		if strings.Contains(out.String(), "debug is below") {
			t.Error("debug record written at the default Info level")
		}
	})
}

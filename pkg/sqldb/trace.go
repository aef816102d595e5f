package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
)

// inTrace reports whether ctx belongs to a trace. Statements and
// transactions outside any (pollers claiming work, gauges read at scrape
// time) get no span: each would be a trace of its own, one per poll,
// burying the journeys in the trace store. Work that starts from such a
// poll opens its own span first (a media job, an outbox delivery), and its
// statements are traced under it.
func inTrace(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }

// startSpan starts the client span of one statement. Only the parameterised
// text goes on it: argument values may be personal data.
func (db *DB) startSpan(ctx context.Context, query string) (context.Context, trace.Span) {
	if !inTrace(ctx) {
		return ctx, trace.SpanFromContext(ctx) // a no-op span
	}
	op, table := summarize(query)
	name := db.system
	attrs := make([]attribute.KeyValue, 0, len(db.attrs)+3)
	attrs = append(attrs, db.attrs...)
	attrs = append(attrs, semconv.DBQueryText(query))
	if op != "" {
		name = op
		if table != "" {
			name = op + " " + table
		}
		attrs = append(attrs, semconv.DBOperationName(op), semconv.DBQuerySummary(name))
	}
	return db.tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
}

// endSpan ends span, recording err unless it only says "no rows", which is
// an answer rather than a failure.
func (db *DB) endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if code := statusCode(err); code != "" {
			span.SetAttributes(semconv.DBResponseStatusCode(code), semconv.ErrorTypeKey.String(code))
		} else {
			span.SetAttributes(semconv.ErrorType(err))
		}
	}
	span.End()
}

// statusCode returns the database's own code for err: the SQLSTATE on
// PostgreSQL, the extended result code on SQLite.
func statusCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return strconv.Itoa(liteErr.Code())
	}
	return ""
}

// summarize returns the operation of query (its first keyword, as written)
// and, when it is cheap to find, the first table it names. It is a scan of
// words, not a parser: good enough to name spans, never used for anything
// else. A query it cannot read yields empty strings.
func summarize(query string) (op, table string) {
	words := strings.Fields(query)
	if len(words) == 0 || !isKeyword(words[0]) {
		return "", ""
	}
	op = words[0]

	var after string // the keyword that precedes the table name
	switch strings.ToUpper(op) {
	case "SELECT", "DELETE":
		after = "FROM"
	case "INSERT", "REPLACE":
		after = "INTO"
	case "UPDATE":
		if len(words) > 1 {
			return op, tableName(words[1])
		}
		return op, ""
	default:
		return op, ""
	}
	for i := 1; i+1 < len(words); i++ {
		if strings.EqualFold(words[i], after) {
			return op, tableName(words[i+1])
		}
	}
	return op, ""
}

func isKeyword(w string) bool {
	for _, r := range w {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// tableName trims what may stick to a table name in a query: a column list,
// quotes, a separator. A subquery is no table.
func tableName(w string) string {
	if strings.HasPrefix(w, "(") {
		return ""
	}
	w, _, _ = strings.Cut(w, "(")
	w = strings.TrimRight(w, ",;)")
	w = strings.ReplaceAll(w, `"`, "")
	w = strings.ReplaceAll(w, "`", "")
	for _, r := range w {
		// Anything else is not a plain identifier: keep span names from
		// carrying whatever the scan tripped over.
		if r != '_' && r != '.' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return ""
		}
	}
	return w
}

package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Tx is a transaction begun by [DB.InTx]. Its statements are traced like
// those of the DB, as children of the transaction's span.
type Tx struct {
	tx *sql.Tx
	db *DB
	// span is the transaction's own span, and outer the span that was
	// current when InTx was called. fn gets no context of its own, so its
	// statements arrive with the caller's context: see startSpan.
	span  trace.Span
	outer trace.SpanID
	// unprepared are the queries that ran without a kept statement, prepared
	// by InTx once the transaction has given its connection back.
	unprepared []string
}

// startSpan starts a statement's span as a child of the transaction's span
// when ctx still carries the span InTx was called with. When the caller
// started a span of its own inside fn, that one stays the parent.
func (tx *Tx) startSpan(ctx context.Context, query string) (context.Context, trace.Span) {
	if trace.SpanContextFromContext(ctx).SpanID() == tx.outer {
		ctx = trace.ContextWithSpan(ctx, tx.span)
	}
	return tx.db.startSpan(ctx, query)
}

// stmt returns query's kept statement bound to the transaction's connection
// (prepared there once, then reused), or nil to run it unprepared. The bound
// statement needs no Close: it ends with the transaction. A query not kept yet
// is prepared after the transaction: preparing needs a connection of the
// pool, and waiting for one while holding another can deadlock (a :memory:
// database has only one).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.db.prepared == nil {
		return nil
	}
	st := tx.db.prepared.lookup(query)
	if st == nil {
		tx.unprepared = append(tx.unprepared, query)
		return nil
	}
	return tx.tx.StmtContext(ctx, st)
}

// Dialect reports which database family the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// ExecContext runs a statement that returns no rows.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, span := tx.startSpan(ctx, query)
	var res sql.Result
	var err error
	if st := tx.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = tx.tx.ExecContext(ctx, query, args...)
	}
	tx.db.endSpan(span, err)
	return res, err
}

// QueryContext runs a query that returns rows; see [DB.QueryContext].
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, span := tx.startSpan(ctx, query)
	var rows *sql.Rows
	var err error
	if st := tx.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = tx.tx.QueryContext(ctx, query, args...)
	}
	tx.db.endSpan(span, err)
	return rows, err
}

// QueryRowContext runs a query expected to return at most one row; see
// [DB.QueryRowContext].
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, span := tx.startSpan(ctx, query)
	var row *sql.Row
	if st := tx.stmt(ctx, query); st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = tx.tx.QueryRowContext(ctx, query, args...)
	}
	tx.db.endSpan(span, row.Err())
	return row
}

// InTx runs fn in a transaction: committed when fn returns nil, rolled back
// when it returns an error (which InTx returns unchanged, so errors.Is works)
// or panics (the panic goes on after the rollback).
//
// On SQLite the transaction takes the write lock when it begins, so fn runs
// alone among writers and never fails halfway with SQLITE_BUSY. Keep fn
// short, and do not call other services from it. fn must use tx, not the
// DB: on SQLite a write through the DB would wait for the transaction's own
// lock, and a DB of one connection (:memory:) would deadlock.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	outer := trace.SpanContextFromContext(ctx).SpanID()
	span := trace.SpanFromContext(ctx) // a no-op span outside any trace
	if inTrace(ctx) {
		ctx, span = db.tracer.Start(ctx, "sqldb.InTx")
	}
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	sqlTx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		span.RecordError(err)
		return fmt.Errorf("sqldb: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, db: db, span: span, outer: outer}
	ended := false
	defer func() {
		if !ended {
			// The error (or panic) that brought us here matters more than
			// a failed rollback, which leaves nothing committed either way.
			_ = sqlTx.Rollback()
		}
		// The connection is back in the pool: prepare what ran unprepared.
		for _, q := range tx.unprepared {
			db.stmt(ctx, q)
		}
	}()

	if err := fn(tx); err != nil {
		return err
	}
	// Commit ends the transaction whatever its outcome.
	ended = true
	if err := sqlTx.Commit(); err != nil {
		span.RecordError(err)
		return fmt.Errorf("sqldb: commit: %w", err)
	}
	return nil
}

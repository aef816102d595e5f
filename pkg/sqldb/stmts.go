package sqldb

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxStmts bounds the statements a DB keeps prepared. The stores' queries are
// constants, a few dozen per service; a query beyond the bound (text built at
// run time) runs unprepared, as every query did before.
const maxStmts = 512

// stmts keeps SQLite statements prepared across calls. modernc.org/sqlite
// parses and plans a statement anew on every call that is not prepared, which
// was a fifth of the CPU of recording an assessment; database/sql prepares a
// cached *sql.Stmt once per connection and, through Tx.StmtContext, reuses it
// inside transactions. PostgreSQL needs none of this: pgx caches prepared
// statements per connection by itself.
type stmts struct {
	m sync.Map // query text -> *sql.Stmt
	n atomic.Int32
}

// lookup returns the statement kept for query, without preparing it.
func (c *stmts) lookup(query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		return v.(*sql.Stmt)
	}
	return nil
}

// get returns the prepared statement for query, preparing it on first use, or
// nil when the query is to run unprepared: the cache is full, or preparing
// failed (the unprepared call then reports the error as it always did).
func (c *stmts) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil {
		return st
	}
	if c.n.Load() >= maxStmts {
		return nil
	}
	// Prepared without the caller's context: the statement outlives the call.
	st, err := db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	if v, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	c.n.Add(1)
	return st
}

// close closes every statement kept.
func (c *stmts) close() {
	c.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
	c.n.Store(0)
}

// len reports how many statements are kept, for tests.
func (c *stmts) len() int { return int(c.n.Load()) }

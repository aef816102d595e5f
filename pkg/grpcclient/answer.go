package grpcclient

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// Whether a status came from the service or from the connection matters
// twice: the gateway never passes on what the connection made up (it names
// the address dialled), and a breaker counts only what says the service is
// not answering. A status came from the service when the call received the
// service's trailers: every status a server sends travels in them, and
// none that grpc-go makes up does. The connection's stats handler
// (answerWatch) sees them arrive and marks the call, so no error text is
// ever parsed.

// callWatch follows one call. A retried call starts each attempt unmarked,
// so answered is the last attempt's.
type callWatch struct {
	answered atomic.Bool
	// outcome, when a breaker follows the call, reports what the call says
	// about the service, once.
	outcome *outcome
}

type callWatchKey struct{}

// watchCall returns ctx carrying a watch, reusing one already there (the
// breaker and the gateway's error cleaning follow the same call).
func watchCall(ctx context.Context) (context.Context, *callWatch) {
	if w, ok := ctx.Value(callWatchKey{}).(*callWatch); ok {
		return ctx, w
	}
	w := &callWatch{}
	return context.WithValue(ctx, callWatchKey{}, w), w
}

// WatchAnswer returns the context to make a call with, and a function that
// reports, once the call has failed, whether the service itself sent the
// failure. It works on connections built by [New].
func WatchAnswer(ctx context.Context) (context.Context, func() bool) {
	ctx, w := watchCall(ctx)
	return ctx, w.answered.Load
}

// answerWatch is the stats handler of every connection New builds.
type answerWatch struct{}

func (answerWatch) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (answerWatch) HandleRPC(ctx context.Context, s stats.RPCStats) {
	w, ok := ctx.Value(callWatchKey{}).(*callWatch)
	if !ok {
		return
	}
	switch s.(type) {
	case *stats.Begin:
		w.answered.Store(false)
	case *stats.OutHeader:
		// A stream may last as long as its caller likes (a live feed, an
		// upload), so it cannot wait for its end to say the service is up:
		// it has reached the service once the service's connection took it.
		if w.outcome != nil && w.outcome.stream {
			w.outcome.report(nil, true)
		}
	case *stats.InHeader:
		w.outcome.reportAnswered()
	case *stats.InTrailer:
		w.answered.Store(true)
		w.outcome.reportAnswered()
	}
}

func (answerWatch) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (answerWatch) HandleConn(context.Context, stats.ConnStats) {}

// outcome tells a breaker what one call says about the service, once: at
// the first sign of an answer, or else when the call fails (after its
// retries, which may still find the service).
type outcome struct {
	once   sync.Once
	stream bool
	decide func(err error, answered bool)
}

// reportAnswered reports that the service answered; o may be nil (no
// breaker follows the call).
func (o *outcome) reportAnswered() {
	if o != nil {
		o.report(nil, true)
	}
}

func (o *outcome) report(err error, answered bool) {
	o.once.Do(func() { o.decide(err, answered) })
}

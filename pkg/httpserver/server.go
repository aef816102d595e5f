// Package httpserver builds the HTTP servers Kinbridge runs (the gateway's
// public port, the metrics listener) with timeouts that cut slow and idle
// connections, and serves them until shutdown.
//
// The timeouts are the defaults of every route. Routes that must run longer
// extend them for their own request (see the gateway's per-route
// deadlines): an upload's read deadline moves on while its bytes arrive, a
// live feed's write deadline moves on with every write.
package httpserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Timeouts bound how long a connection may take. Zero fields take the
// defaults.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers: a client that
	// trickles them (slow loris) or never finishes them is cut.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Write bounds handling a request and writing its response, from the
	// end of its headers.
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next
	// request.
	Idle time.Duration
}

// Defaults of [Timeouts].
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultWriteTimeout      = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// WithDefaults fills the zero fields.
func (t Timeouts) WithDefaults() Timeouts {
	def := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	return Timeouts{
		ReadHeader: def(t.ReadHeader, DefaultReadHeaderTimeout),
		Read:       def(t.Read, DefaultReadTimeout),
		Write:      def(t.Write, DefaultWriteTimeout),
		Idle:       def(t.Idle, DefaultIdleTimeout),
	}
}

// New returns a server of h with the timeouts t.
func New(h http.Handler, t Timeouts) *http.Server {
	t = t.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}

// Serve serves srv on lis until ctx is done, then shuts down gracefully,
// letting requests in flight finish for up to drain before it closes
// what is left. It returns nil after a shutdown asked for by ctx.
//
// With srv.TLSConfig set it serves TLS only, with the certificate the
// config gives (its GetCertificate or Certificates), offering HTTP/2 and
// HTTP/1.1 (which net/http adds to srv.TLSConfig: give each server a
// config of its own); a plaintext request gets net/http's 400 answer and
// no service.
func Serve(ctx context.Context, lis net.Listener, srv *http.Server, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(lis, "", "")
			return
		}
		errc <- srv.Serve(lis)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

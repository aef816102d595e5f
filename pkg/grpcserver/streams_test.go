package grpcserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// maxStreams is the limit the stream tests set.
const maxStreams = 2

func TestDefaultMaxConcurrentStreams(t *testing.T) {
	conn, _ := start(t, func(context.Context) error { return nil }, time.Second)
	if got := serverSettings(t, dialRaw(t, conn.Target()))[http2.SettingMaxConcurrentStreams]; got != DefaultMaxConcurrentStreams {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want %d", got, DefaultMaxConcurrentStreams)
	}
}

// TestStreamsBeyondTheLimitAreRefused speaks raw HTTP/2 to the server, as a
// client that ignores the limit would: it opens one call more than the
// server allows on one connection, and the extra one is refused
// (RST_STREAM REFUSED_STREAM) while the others stay open.
func TestStreamsBeyondTheLimitAreRefused(t *testing.T) {
	conn, _ := start(t, func(ctx context.Context) error { <-ctx.Done(); return nil }, time.Second,
		func(o *Options) { o.MaxConcurrentStreams = maxStreams })
	fr := dialRaw(t, conn.Target())
	if got := serverSettings(t, fr)[http2.SettingMaxConcurrentStreams]; got != maxStreams {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want %d", got, maxStreams)
	}
	var ids []uint32
	for i := range maxStreams + 1 {
		id := uint32(2*i + 1)
		ids = append(ids, id)
		openCall(t, fr, id, conn.Target())
	}
	extra := ids[len(ids)-1]
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			if rst.StreamID != extra {
				t.Fatalf("stream %d (within the limit) was reset: %v", rst.StreamID, rst.ErrCode)
			}
			if rst.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("the extra stream was reset with %v, want REFUSED_STREAM", rst.ErrCode)
			}
			return
		}
	}
}

// TestCallsBeyondTheLimitWait checks what a well-behaved gRPC client sees:
// a call beyond the limit is not refused but waits for a free stream, and
// runs once one ends. No more than the limit ever run at once.
func TestCallsBeyondTheLimitWait(t *testing.T) {
	var running, most atomic.Int64
	entered := make(chan struct{}, maxStreams+1)
	release := make(chan struct{})
	conn, _ := start(t, func(ctx context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		return nil
	}, time.Second, func(o *Options) { o.MaxConcurrentStreams = maxStreams })

	results := make(chan error, maxStreams+1)
	for range maxStreams + 1 {
		go func() { results <- do(context.Background(), conn) }()
	}
	for range maxStreams {
		<-entered
	}
	close(release) // the first calls end, and the one that waited runs
	for range maxStreams + 1 {
		if err := <-results; err != nil {
			t.Fatalf("a call beyond the limit failed instead of waiting: %v", err)
		}
	}
	if most.Load() > maxStreams {
		t.Fatalf("%d calls ran at once on one connection, the limit is %d", most.Load(), maxStreams)
	}
}

// dialRaw opens an HTTP/2 connection to addr without gRPC: the preface and
// an empty SETTINGS frame.
func dialRaw(t *testing.T, addr string) *http2.Framer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute)) // a broken test fails instead of hanging
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr
}

// serverSettings reads frames until the server's SETTINGS and acknowledges
// them.
func serverSettings(t *testing.T, fr *http2.Framer) map[http2.SettingID]uint32 {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's settings: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		out := map[http2.SettingID]uint32{}
		if err := sf.ForeachSetting(func(s http2.Setting) error { out[s.ID] = s.Val; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteSettingsAck(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// openCall starts a call of the test method on stream id, sending its
// headers but no message, so it stays open.
func openCall(t *testing.T, fr *http2.Framer, id uint32, authority string) {
	t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/kinbridge.test.v1.TestService/Do"},
		{Name: ":authority", Value: authority},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	} {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

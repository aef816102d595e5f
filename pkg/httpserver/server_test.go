package httpserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// short are timeouts small enough for a test to see each one cut.
var short = Timeouts{ReadHeader: 100 * time.Millisecond, Read: 200 * time.Millisecond, Write: 200 * time.Millisecond, Idle: 100 * time.Millisecond}

// start serves h with timeouts t until the test ends; it returns the
// address and how many requests reached h.
func start(t *testing.T, tm Timeouts, h http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, lis, New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			h(w, r)
		}), tm), time.Second)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String(), &calls
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedByServer waits until the server closes conn: reading ends with
// EOF (after whatever the server said last). The client's own deadline
// only keeps a broken test from hanging; hitting it fails the test.
func closedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	got, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server never closed the connection")
	}
	return string(got)
}

func ok(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
}

func TestHeadersNeverFinishedAreCut(t *testing.T) {
	addr, calls := start(t, short, ok)
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kinbridge\r\n"); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, conn)
	if n := calls.Load(); n != 0 {
		t.Fatalf("a request without its headers' end reached the handler %d times", n)
	}
}

func TestHeadersTrickledByteByByteAreCut(t *testing.T) {
	addr, calls := start(t, short, ok)
	conn := dial(t, addr)
	// One byte at a time, for as long as the server lets it: a header line
	// that never ends.
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		head := "GET / HTTP/1.1\r\nHost: kinbridge\r\nX-Slow: "
		for i := 0; ; i++ {
			b := byte('a')
			if i < len(head) {
				b = head[i]
			}
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	closedByServer(t, conn)
	close(stop)
	<-trickled
	if n := calls.Load(); n != 0 {
		t.Fatalf("a trickled request reached the handler %d times", n)
	}
}

func TestBodyTrickledPastTheReadTimeoutIsCut(t *testing.T) {
	readErr := make(chan error, 1)
	addr, _ := start(t, short, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		readErr <- err
	})
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: kinbridge\r\nContent-Length: 1000\r\n\r\nonly a part"); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, conn)
	if err := <-readErr; err == nil {
		t.Fatal("the handler read a body the client never finished")
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	addr, calls := start(t, short, ok)
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kinbridge\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("first request: %d, close %v", resp.StatusCode, resp.Close)
	}
	// Kept alive, then nothing: the server hangs up.
	if rest := closedByServer(t, conn); rest != "" && !strings.HasPrefix(rest, "HTTP/1.1 408") {
		t.Fatalf("unexpected bytes on an idle connection: %q", rest)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d requests reached the handler, want 1", calls.Load())
	}
}

func TestDefaults(t *testing.T) {
	srv := New(http.NotFoundHandler(), Timeouts{Read: time.Second})
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != time.Second ||
		srv.WriteTimeout != DefaultWriteTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("timeouts %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

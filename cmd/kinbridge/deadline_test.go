package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/internal/banner"
)

// recordingProgress is progress's AccessService as media calls it: it notes
// the deadline of every CheckAccess and answers that the child does not
// exist.
type recordingProgress struct {
	progresspeerv1.UnimplementedAccessServiceServer
	deadlines chan time.Time // the zero time for a call without one
}

func (p *recordingProgress) CheckAccess(ctx context.Context, _ *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
	deadline, _ := ctx.Deadline()
	select {
	case p.deadlines <- deadline:
	default:
	}
	return &progresspeerv1.CheckAccessResponse{ChildExists: false}, nil
}

// startRole runs `kinbridge serve ROLE` in the test process until the test
// ends, and returns where it listens.
func startRole(t *testing.T, role string, args ...string) banner.Addresses {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", role, "--metrics-listen", "", "--log-level", "error"}, args...), w, io.Discard)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve %s ended with %v", role, err)
		}
	})
	addrs, err := banner.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	return addrs
}

// TestRESTDeadlineReachesTheSecondHop: the deadline of a REST request (the
// caller's Grpc-Timeout, or else --upstream-timeout) is the deadline of the
// gateway's call to media and, through it, of media's CheckAccess call to
// progress: a hop that dropped it would give progress media's own default
// of 10s instead, or none.
func TestRESTDeadlineReachesTheSecondHop(t *testing.T) {
	progress := &recordingProgress{deadlines: make(chan time.Time, 1)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	progresspeerv1.RegisterAccessServiceServer(gs, progress)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	dir := t.TempDir()
	media := startRole(t, "media", "--data-dir", dir, "--media-listen", "127.0.0.1:0",
		"--progress-addr", lis.Addr().String(), "--notification-addr", "127.0.0.1:1",
		"--access-cache-ttl", "0") // every request asks progress
	gw := startRole(t, "gateway", "--data-dir", dir, "--gateway-listen", "127.0.0.1:0", "--media-addr", media.Media,
		"--progress-addr", "127.0.0.1:1", "--notification-addr", "127.0.0.1:1", "--upstream-timeout", "1h")
	s := &suite{gateway: "http://" + gw.Gateway, dataDir: dir}
	token := s.userToken(t, "maria", false)

	for _, tc := range []struct {
		name     string
		headers  []string
		from, to time.Duration // where progress's deadline must fall, after the request was sent
	}{
		// Up to 7s later than the request's: the gateway starts its clock
		// after the request was sent. Media's own default, 10s, is out.
		{"the caller's Grpc-Timeout", []string{"Grpc-Timeout", "2S"}, 0, 9 * time.Second},
		{"the gateway's --upstream-timeout", nil, time.Hour - 10*time.Minute, time.Hour + 7*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := time.Now()
			r := s.call(t, "GET", "/v1/children/abc/media/def", token, "", tc.headers...)
			if r.status != http.StatusNotFound {
				t.Fatalf("GET: %d %s, want 404 from progress's answer", r.status, r.body)
			}
			var deadline time.Time
			select {
			case deadline = <-progress.deadlines:
			case <-time.After(time.Minute):
				t.Fatal("media answered without asking progress")
			}
			if deadline.IsZero() {
				t.Fatal("progress's CheckAccess carried no deadline")
			}
			if got := deadline.Sub(sent); got <= tc.from || got > tc.to {
				t.Fatalf("progress's CheckAccess had its deadline %v after the request was sent, want within (%v, %v]", got, tc.from, tc.to)
			}
		})
	}
}

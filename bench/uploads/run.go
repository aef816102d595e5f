package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/suite"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// runConfig is how each upload is run.
type runConfig struct {
	bin        string
	dir        string   // where the servers' data directories go
	env        []string // added to the server's environment
	serverArgs []string // added to `serve all`
	settle     time.Duration
	keep       bool
	upload     uploadConfig
}

// measurement is one upload of one file through one path, on a fresh
// server.
type measurement struct {
	path     string
	file     *testFile
	out      outcome
	received time.Time // when media had written every byte (zero: not seen)
	item     storedItem
	err      error

	serverBefore float64 // VmRSS just before the first byte
	serverPeak   float64 // VmHWM when the item came back
	peakReset    bool    // VmHWM was reset just before the first byte (else it counts from the server's start)
	clientPeak   float64
	clientReset  bool
	serverCPU    float64 // CPU seconds from the first byte to the item
	clientCPU    float64
	load         string // 1-minute load average when the upload began
}

// measure starts a fresh server, gives it a child with a contributor,
// uploads the file through path p as that contributor, reads the
// memory high-water marks, checks the item and stops the server.
func measure(ctx context.Context, c runConfig, p string, f *testFile) (m *measurement) {
	m = &measurement{path: p, file: f}
	srv, err := suite.Start(ctx, c.bin, c.dir, c.env, c.serverArgs...)
	if err != nil {
		m.err = err
		return m
	}
	defer func() {
		if m.err != nil {
			m.err = fmt.Errorf("%w\n%s", m.err, srv.LogTail(10))
		}
		srv.Stop()
		if !c.keep {
			os.RemoveAll(srv.DataDir)
		}
	}()
	t, closeConns, err := newTarget(ctx, srv)
	if err != nil {
		m.err = err
		return m
	}
	defer closeConns()

	// Let start-up settle, then take the "before" readings and reset both
	// high-water marks, so that each peak is this upload's.
	if err := sleep(ctx, c.settle); err != nil {
		m.err = err
		return m
	}
	runtime.GC()
	debug.FreeOSMemory()
	pid := srv.PID()
	m.clientReset = suite.ResetPeak(suite.Self) == nil
	if m.serverBefore, err = suite.StatusBytes(pid, "VmRSS"); err != nil {
		m.err = err
		return m
	}
	m.peakReset = suite.ResetPeak(pid) == nil
	m.load = firstField(suite.LoadAvg())
	serverCPU0, err1 := suite.CPUSeconds(pid)
	clientCPU0, err2 := suite.CPUSeconds(suite.Self)

	watch := watchReceived(ctx, srv.DataDir, f.size)
	m.out, m.err = upload(ctx, p, t, f, c.upload)

	// Read the peaks at once: the item is back, and the thumbnail job it
	// queued is starting.
	m.serverPeak, _ = suite.StatusBytes(pid, "VmHWM")
	m.clientPeak, _ = suite.StatusBytes(suite.Self, "VmHWM")
	serverCPU1, err3 := suite.CPUSeconds(pid)
	clientCPU1, err4 := suite.CPUSeconds(suite.Self)
	if err1 == nil && err2 == nil && err3 == nil && err4 == nil {
		m.serverCPU, m.clientCPU = serverCPU1-serverCPU0, clientCPU1-clientCPU0
	}
	m.received = watch.stop()
	if m.err != nil {
		return m
	}
	m.item, m.err = verify(ctx, t, f, m.out.item)
	return m
}

// newTarget creates a child as an admin and makes "bench-uploader" its
// contributor, over progress gRPC, and returns what an upload needs.
func newTarget(ctx context.Context, srv *suite.Server) (*target, func(), error) {
	admin, err := srv.Token("bench-admin", true)
	if err != nil {
		return nil, nil, err
	}
	uploader, err := srv.Token("bench-uploader", false)
	if err != nil {
		return nil, nil, err
	}
	progressConn, err := grpcDial(srv.Progress)
	if err != nil {
		return nil, nil, err
	}
	defer progressConn.Close()
	progress := progressv1.NewProgressServiceClient(progressConn)
	as := &target{token: admin}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	child, err := progress.CreateChild(as.ctx(cctx), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Bench"}})
	if err != nil {
		return nil, nil, fmt.Errorf("create child: %w", err)
	}
	if _, err := progress.CreateGuardianship(as.ctx(cctx), &progressv1.CreateGuardianshipRequest{Parent: child.GetName(),
		Guardianship: &progressv1.Guardianship{User: "bench-uploader", Role: progressv1.Role_ROLE_CONTRIBUTOR}}); err != nil {
		return nil, nil, fmt.Errorf("grant the contributor: %w", err)
	}
	mediaConn, err := grpcDial(srv.Media)
	if err != nil {
		return nil, nil, err
	}
	t := &target{gateway: srv.Gateway, media: mediav1.NewMediaServiceClient(mediaConn), child: child.GetName(), token: uploader}
	return t, func() { mediaConn.Close() }, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func firstField(s string) string {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i]
		}
	}
	return s
}

//go:build unix

package thumb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// blockedFFmpeg starts Make on a named pipe that nobody writes: ffmpeg opens
// it and then waits for input forever. It returns once ffmpeg is known to be
// waiting (the pipe has a reader), or once Make has returned without that
// (opened is then false), with a channel that delivers Make's error.
func blockedFFmpeg(t *testing.T, ctx context.Context, opts ...Option) (done <-chan error, opened bool) {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	fifo := filepath.Join(t.TempDir(), "stuck.webm")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// No ffprobe, and a WebM is never read in Go: ffmpeg is the one
		// thing running.
		opts := append([]Option{WithTools(Tools{FFmpeg: ffmpeg}), WithPath(fifo)}, opts...)
		_, err := Make(ctx, bytes.NewReader(nil), 0, TypeWebM, 1, nil, Limits{}, opts...)
		errc <- err
	}()

	// Opening a FIFO to write without blocking fails until a reader has it
	// open; holding it open (and writing nothing) then keeps ffmpeg waiting
	// on its read rather than seeing an end of file.
	deadline := time.Now().Add(30 * time.Second)
	for {
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			t.Cleanup(func() { _ = w.Close() })
			return errc, true
		}
		select {
		case err := <-errc:
			errc <- err
			return errc, false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg never opened its input: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitErr waits for Make to return after ffmpeg has been stopped.
func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Make still running 20 s after ffmpeg should have been stopped")
		return nil
	}
}

func TestCancelStopsFFmpeg(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done, opened := blockedFFmpeg(t, ctx)
	if !opened {
		t.Fatalf("Make returned before ffmpeg opened its input: %v", <-done)
	}
	start := time.Now()
	cancel()
	err := waitErr(t, done)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	t.Logf("stopped %v after the cancel: %v", time.Since(start), err)
}

func TestToolTimeoutStopsFFmpeg(t *testing.T) {
	t.Parallel()
	// On a loaded machine ffmpeg may take longer than the timeout just to
	// start; the timeout must stop it all the same.
	done, opened := blockedFFmpeg(t, t.Context(), WithToolTimeout(2*time.Second))
	err := waitErr(t, done)
	t.Logf("ffmpeg had opened its input: %t; error: %v", opened, err)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error %v, want a timeout", err)
	}
}

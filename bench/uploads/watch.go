package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// receivedWatch notes when media has written every byte of an upload: it
// polls the server's upload directory (`serve all`'s default
// --upload-dir, data-dir/uploads), where media writes the bytes of an
// upload in progress to a file named upload-{session} as they arrive, for
// a file of the upload's full size. It costs the server nothing, and the
// time is the same for every path: the bytes are in media's file. The
// session path commits each chunk (fsync, then the offset in SQLite) right
// after writing it; UploadMedia syncs once, after the last byte.
type receivedWatch struct {
	stopc chan struct{}
	done  chan time.Time // the moment, or zero if never seen
}

// pollEvery is how often the upload directory is read.
const pollEvery = 5 * time.Millisecond

func watchReceived(ctx context.Context, dataDir string, size int64) *receivedWatch {
	w := &receivedWatch{stopc: make(chan struct{}), done: make(chan time.Time, 1)}
	dir := filepath.Join(dataDir, "uploads")
	go func() {
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for {
			if full(dir, size) {
				w.done <- time.Now()
				return
			}
			select {
			case <-tick.C:
			case <-w.stopc:
				w.done <- time.Time{}
				return
			case <-ctx.Done():
				w.done <- time.Time{}
				return
			}
		}
	}()
	return w
}

// full says whether an upload file in dir holds size bytes.
func full(dir string, size int64) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "upload-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.Size() >= size {
			return true
		}
	}
	return false
}

// stop ends the watch and returns when every byte had been written, or
// zero if that was never seen.
func (w *receivedWatch) stop() time.Time {
	close(w.stopc)
	return <-w.done
}

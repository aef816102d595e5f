package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// DownloadOptions configure a download. The zero value downloads the
// item's own bytes.
type DownloadOptions struct {
	// Thumbnail, when set ("small", "large"), downloads that thumbnail
	// instead of the item's bytes.
	Thumbnail string
	// Retrying, when set, hears of each failed attempt (Err, after Done
	// bytes) and how long until the next (Delay).
	Retrying func(done int64, err error, delay time.Duration)
	// MaxStalls is how many attempts in a row may fail without receiving
	// a byte before the download gives up (8 when 0).
	MaxStalls int
	// Backoff is the wait between attempts (Base 500ms, Max 15s when zero).
	Backoff Backoff
}

// Download copies the bytes of the media item name (or of one of its
// thumbnails) to w and returns the item with how many bytes it copied.
// After a dropped or stalled connection it resumes from the bytes it has.
// The item's own bytes are checked against its content_sha256.
func (c *Client) Download(ctx context.Context, name string, w io.Writer, opts DownloadOptions) (*mediav1.MediaItem, int64, error) {
	if _, err := names.ParseMediaItem(name); err != nil {
		return nil, 0, fmt.Errorf("client: %w", err)
	}
	maxStalls := opts.MaxStalls
	if maxStalls <= 0 {
		maxStalls = 8
	}
	bo := opts.Backoff.start(500*time.Millisecond, 15*time.Second)
	h := sha256.New()
	out := io.MultiWriter(w, h)
	var item *mediav1.MediaItem
	var n int64
	stalls := 0
	for {
		got, first, err := c.read(ctx, name, opts.Thumbnail, out, n)
		if item == nil {
			item = first
		}
		if got > 0 {
			stalls = 0
			bo.reset()
		}
		n += got
		if err == nil {
			break
		}
		var werr *writeError
		if errors.As(err, &werr) {
			return nil, n, werr.err
		}
		if ctx.Err() != nil {
			return nil, n, ctx.Err()
		}
		stalls++
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		default:
			return nil, n, err
		}
		if stalls > maxStalls {
			return nil, n, err
		}
		delay := bo.next()
		if opts.Retrying != nil {
			opts.Retrying(n, err, delay)
		}
		if !sleep(ctx, delay) {
			return nil, n, ctx.Err()
		}
		reconnect(c.media)
	}
	if opts.Thumbnail == "" {
		if item.GetSizeBytes() != n {
			return nil, n, fmt.Errorf("received %d bytes of %s, which has %d", n, name, item.GetSizeBytes())
		}
		if sum := hex.EncodeToString(h.Sum(nil)); item.GetContentSha256() != "" && sum != item.GetContentSha256() {
			return nil, n, fmt.Errorf("the bytes received for %s have SHA-256 %s, not its content_sha256 %s", name, sum, item.GetContentSha256())
		}
	}
	return item, n, nil
}

// writeError is a failure writing what was downloaded: no retry helps.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// read streams the bytes from offset to w; it returns how many it wrote
// and the item the stream's first message carries.
func (c *Client) read(ctx context.Context, name, thumbnail string, w io.Writer, offset int64) (int64, *mediav1.MediaItem, error) {
	sctx, guard := newStallGuard(ctx, c.opts.timeout)
	defer guard.stop()
	stream, err := c.Media().ReadMediaContent(sctx, &mediav1.ReadMediaContentRequest{Name: name, Thumbnail: thumbnail, Offset: offset})
	if err != nil {
		return 0, nil, guard.explain(err)
	}
	var item *mediav1.MediaItem
	var n int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return n, item, nil
		}
		if err != nil {
			return n, item, guard.explain(err)
		}
		guard.kick()
		if item == nil {
			item = msg.GetMediaItem()
		}
		k, err := w.Write(msg.GetData())
		n += int64(k)
		if err != nil {
			return n, item, &writeError{fmt.Errorf("writing the download: %w", err)}
		}
	}
}

package notification

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
)

// liveServer implements the service-only LiveService: many users' feeds
// over one stream, for the gateway.
type liveServer struct {
	notificationpeerv1.UnimplementedLiveServiceServer
	*server
}

// Watch runs one feed per started watch, all writing into the one stream.
// A gateway too slow to read makes its feeds fall behind one by one; each
// ends with fell_behind, and the gateway tells its browsers to resume.
func (l *liveServer) Watch(stream notificationpeerv1.LiveService_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var sendMu sync.Mutex
	send := func(resp *notificationpeerv1.WatchResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(resp)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	type watch struct {
		stop    context.CancelFunc
		credits *credits
	}
	watches := map[int64]watch{}
	var mu sync.Mutex
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil // the gateway closed or went away: its watches end with the stream
		}
		switch a := req.GetAction().(type) {
		case *notificationpeerv1.WatchRequest_Stop:
			mu.Lock()
			if w, ok := watches[a.Stop.GetWatchId()]; ok {
				w.stop()
				delete(watches, a.Stop.GetWatchId())
			}
			mu.Unlock()
		case *notificationpeerv1.WatchRequest_Credit:
			mu.Lock()
			if w, ok := watches[a.Credit.GetWatchId()]; ok {
				w.credits.grant(int64(a.Credit.GetCount()))
			}
			mu.Unlock()
		case *notificationpeerv1.WatchRequest_Start:
			id := a.Start.GetWatchId()
			wctx, stop := context.WithCancel(ctx)
			cr := newCredits(int64(a.Start.GetInitialCredit()))
			mu.Lock()
			if old, ok := watches[id]; ok {
				old.stop()
			}
			watches[id] = watch{stop: stop, credits: cr}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer stop()
				token, err := l.runWatch(wctx, id, a.Start, cr, send)
				if wctx.Err() != nil {
					return // stopped by the gateway, or the stream ended
				}
				st := status.Convert(err)
				ended := &notificationpeerv1.WatchEnded{Reason: st.Message(), FellBehind: st.Code() == codes.Aborted, Code: int32(st.Code()),
					Details: st.Proto().GetDetails()}
				_ = send(&notificationpeerv1.WatchResponse{WatchId: id, Event: &notificationpeerv1.WatchResponse_Ended{Ended: ended}, ResumeToken: token})
			}()
		}
	}
}

// runWatch carries one watch until it ends, returning the token to resume
// it: none when the watch could not start.
func (l *liveServer) runWatch(ctx context.Context, id int64, start *notificationpeerv1.StartWatch, cr *credits, send func(*notificationpeerv1.WatchResponse) error) (string, error) {
	var f *feed
	defer func() {
		if f != nil {
			f.close(ctx)
		}
	}()
	// Opening and the replay are deep and brief; this goroutine lives as
	// long as the watch (see shallow).
	err := shallow(func() (err error) {
		f, err = l.openFeed(ctx, start.GetUser(), start.GetResumeToken(), func(n *notificationv1.Notification, token string) error {
			// Waiting for credit holds back only this watch; if it waits
			// too long, its live buffer overflows and it ends as fell_behind.
			if err := cr.take(ctx); err != nil {
				return err
			}
			return send(&notificationpeerv1.WatchResponse{WatchId: id, Event: &notificationpeerv1.WatchResponse_Notification{Notification: n}, ResumeToken: token})
		})
		if err != nil {
			return err
		}
		// Started before the replay, so the caller knows the watch is open
		// (and where it starts) before the first notification.
		if err := send(&notificationpeerv1.WatchResponse{WatchId: id, Event: &notificationpeerv1.WatchResponse_Started{Started: &notificationpeerv1.WatchStarted{}},
			ResumeToken: f.resumeToken()}); err != nil {
			return err
		}
		return f.catchUp(ctx)
	})
	if f == nil {
		return "", err
	}
	if err == nil {
		err = f.run(ctx, 0, nil)
	}
	return f.resumeToken(), err
}

// credits is a watch's flow-control window: how many notifications may
// still be sent before the caller grants more.
type credits struct {
	mu        sync.Mutex
	n         int64
	unlimited bool
	more      chan struct{} // closed and replaced on every grant
}

func newCredits(initial int64) *credits {
	return &credits{n: initial, unlimited: initial == 0, more: make(chan struct{})}
}

func (c *credits) grant(k int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += k
	close(c.more)
	c.more = make(chan struct{})
}

// take waits for one credit.
func (c *credits) take(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.unlimited || c.n > 0 {
			c.n--
			c.mu.Unlock()
			return nil
		}
		more := c.more
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-more:
		}
	}
}

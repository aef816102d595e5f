package client

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// Inbox is the caller's own notification inbox: a user reaches no other.
const Inbox = "users/me"

// FollowOptions configure [Client.Follow].
type FollowOptions struct {
	// ResumeToken starts the feed after this token: the sequence of the
	// last notification seen, or what an earlier Follow returned. Empty
	// starts after the newest notification in the inbox now.
	ResumeToken string
	// Started, when set, is called once, when the feed's starting point is
	// known and its first stream is about to open.
	Started func(resumeToken string)
	// Retrying, when set, hears of each lost stream: why (err, which is
	// [ErrStreamEnded] when the service closed it cleanly), the token the
	// next stream resumes from, and how long until it opens.
	Retrying func(err error, resumeToken string, delay time.Duration)
	// Backoff is the wait before reopening a lost stream (Base 250ms, Max
	// 30s when zero); a stream that delivered anything resets it.
	Backoff Backoff
}

// ErrStreamEnded is a feed stream the service closed without an error, as
// it does when shutting down: following goes on elsewhere or later.
var ErrStreamEnded = errors.New("the notification service ended the stream")

// Follow follows the caller's live notification feed and calls fn with
// each notification once, in order, until ctx is done, fn fails, or the
// feed fails in a way no retry fixes (a token that expired, too many feeds
// open). A lost or closed stream is reopened with backoff from the last
// position delivered (the resume tokens of notifications and heartbeats),
// and what a resumed stream sends again is not passed on twice.
//
// It returns the resume token to continue from later, and why it stopped:
// ctx's error, fn's error as it is, or the feed's gRPC status.
func (c *Client) Follow(ctx context.Context, opts FollowOptions, fn func(*notificationv1.Notification) error) (string, error) {
	f := &follower{c: c, api: c.Notifications(), opts: opts, fn: fn, backoff: opts.Backoff.start(250*time.Millisecond, 30*time.Second)}
	f.setToken(opts.ResumeToken)
	err := f.run(ctx)
	return f.token, err
}

// follower is one Follow. Resume tokens say where the next stream starts;
// sequences, which only grow, keep a notification a resumed stream sends
// again from being delivered twice.
type follower struct {
	c       *Client
	api     notificationv1.NotificationServiceClient
	opts    FollowOptions
	fn      func(*notificationv1.Notification) error
	backoff *backoff

	token     string // where the next stream starts; "" before the start is known
	delivered int64  // the sequence of the last notification delivered
	started   bool
}

// callbackError is fn's failure; no retry helps that.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func (f *follower) run(ctx context.Context) error {
	for {
		progressed, err := f.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var cb *callbackError
		if errors.As(err, &cb) {
			return cb.err
		}
		if !feedRetryable(err) {
			return err
		}
		if progressed {
			f.backoff.reset()
		}
		delay := f.backoff.next()
		if f.opts.Retrying != nil {
			f.opts.Retrying(err, f.token, delay)
		}
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		reconnect(f.c.notification)
	}
}

// feedRetryable reports whether a failed stream is worth reopening:
// everything but what the caller has to fix (their token, their input, the
// address, too many feeds of theirs open: retrying would not close one).
func feedRetryable(err error) bool {
	if err == ErrStreamEnded {
		return true
	}
	// Too many feeds open: reopening this one would not close another.
	if errinfo.NotificationReason(err) == notificationv1.ErrorReason_ERROR_REASON_TOO_MANY_FEEDS {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return false
	}
	return true
}

// follow opens one stream from the resume token and delivers what it
// carries until it fails; progressed is whether it carried anything.
func (f *follower) follow(ctx context.Context) (progressed bool, err error) {
	if f.token == "" {
		// Start after the newest notification in the inbox, not at the
		// service's own "now" (an empty token): a stream lost before its
		// first message then still resumes from a known point. With the
		// inbox empty, after 0, which replays only what arrives from now.
		resp, err := f.api.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: Inbox, PageSize: 1})
		if err != nil {
			return false, err
		}
		var newest int64
		if ns := resp.GetNotifications(); len(ns) > 0 {
			newest = ns[0].GetSequence()
		}
		f.setToken(strconv.FormatInt(newest, 10))
	}
	if !f.started {
		f.started = true
		if f.opts.Started != nil {
			f.opts.Started(f.token)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The service answers a new stream at once (a heartbeat, or what it
	// replays), so a stream with no first answer within the client's
	// timeout is lost like any other and reopened.
	var unanswered atomic.Bool
	opening := time.AfterFunc(f.c.opts.timeout, func() { unanswered.Store(true); cancel() })
	defer opening.Stop()
	stream, err := f.api.StreamNotifications(sctx, &notificationv1.StreamNotificationsRequest{Parent: Inbox, ResumeToken: f.token})
	for err == nil {
		var resp *notificationv1.StreamNotificationsResponse
		if resp, err = stream.Recv(); err != nil {
			break
		}
		opening.Stop()
		progressed = true
		token := resp.GetResumeToken()
		if nt := resp.GetNotification(); nt != nil {
			if nt.GetSequence() > f.delivered {
				if err := f.fn(nt); err != nil {
					return progressed, &callbackError{err}
				}
				f.delivered = nt.GetSequence()
			}
			if token == "" { // a notification's sequence is its resume token
				token = strconv.FormatInt(nt.GetSequence(), 10)
			}
		}
		if token != "" {
			f.token = token
		}
	}
	switch {
	case unanswered.Load() && ctx.Err() == nil:
		return progressed, status.Errorf(codes.DeadlineExceeded, "the feed did not answer within %s", f.c.opts.timeout)
	case err == io.EOF:
		return progressed, ErrStreamEnded
	}
	f.adoptStatusToken(err)
	return progressed, err
}

// setToken sets where the next stream starts. What a numeric token (a
// sequence) covers counts as delivered.
func (f *follower) setToken(token string) {
	f.token = token
	if seq, err := strconv.ParseInt(token, 10, 64); err == nil && seq > f.delivered {
		f.delivered = seq
	}
}

var statusTokenRE = regexp.MustCompile(`resume_token (\d+)\s*$`)

// adoptStatusToken takes the resume token a stream's end names ("the
// stream fell behind; resume with resume_token 42") when it is later than
// the follower's own: the service ends a stream after everything it sent,
// so the two differ only by what it skipped for this user.
func (f *follower) adoptStatusToken(err error) {
	st, ok := status.FromError(err)
	if !ok {
		return
	}
	m := statusTokenRE.FindStringSubmatch(st.Message())
	if m == nil {
		return
	}
	theirs, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return
	}
	ours, err := strconv.ParseInt(f.token, 10, 64)
	if f.token == "" || (err == nil && theirs > ours) {
		f.token = m[1]
	}
}

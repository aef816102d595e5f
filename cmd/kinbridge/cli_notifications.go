package main

// `kinbridge notifications ...`: the caller's own inbox and live feed, from
// the notification service. The commands share the client flags of the
// others (--token, --timeout, --json, through pkg/config) and add
// --notification-addr, the notification service's own address.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	sdk "github.com/kinbridge/kinbridge/client"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// notificationsCommands are `kinbridge notifications ...`.
var notificationsCommands = []subcommand{
	{"list", "[--unread] [--limit N] [--page-size N]", "list your notifications, newest first", notificationsList},
	{"count", "", "count your unread notifications", notificationsCount},
	{"read", "SEQUENCE... | --all", "mark notifications read: the ones given, or all up to the newest", notificationsRead},
	{"watch", "[--resume TOKEN]", "print your notifications as they arrive, resuming by itself after a lost connection, until interrupted", notificationsWatch},
}

// inbox is the caller's own inbox: a user reaches no other.
const inbox = sdk.Inbox

const notificationAddrFlag = "notification-addr"

// notificationAddr is --notification-addr (KINBRIDGE_NOTIFICATION_ADDR),
// once cmd is parsed.
func notificationAddr(cmd *cmdline) *string { return &cmd.calls(notificationAPI).addr }

// notifier is a client of the notification service: the progress client's
// token, deadline and output, on a connection to another address.
type notifier struct {
	*client
	api notificationv1.NotificationServiceClient
}

// connectNotifications opens a connection to the notification service at
// addr; like connect, call it only once the input is known to be good.
func connectNotifications(cmd *cmdline, addr string) (*notifier, error) {
	c, err := cmd.dial(notificationAddrFlag, addr)
	if err != nil {
		return nil, err
	}
	return &notifier{client: c, api: c.sdk.Notifications()}, nil
}

// explain is client.explain, except that the errors about reaching the
// service name the notification service and its flag.
func (n *notifier) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return n.client.explain(err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the notification service at %s (--%s, %s): %s",
			n.flags.addr, notificationAddrFlag, config.EnvName(notificationAddrFlag), st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer from the notification service at %s within %s (--timeout)", n.flags.addr, n.flags.timeout)
	case codes.Unimplemented:
		return fmt.Errorf("the notification service at %s does not offer this yet (Unimplemented): %s", n.flags.addr, st.Message())
	}
	return n.client.explain(err)
}

// notifyCall is call for the notification service.
func notifyCall[Req, Resp any](ctx context.Context, n *notifier, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := n.callContext(ctx)
	defer cancel()
	resp, err := method(ctx, req)
	if err != nil {
		return resp, n.explain(err)
	}
	return resp, nil
}

func notificationsList(ctx context.Context, cmd *cmdline, args []string) error {
	addr := notificationAddr(cmd)
	var unread bool
	var pageSize, limit int
	cmd.local.BoolVar(&unread, "unread", false, "only the unread ones")
	cmd.local.IntVar(&limit, "limit", 0, "show at most this many, the newest (default: all)")
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	if limit < 0 {
		return usagef("--limit must be 0 (all) or more, got %d", limit)
	}
	n, err := connectNotifications(cmd, *addr)
	if err != nil {
		return err
	}
	defer n.close()
	got := 0
	more := "" // the page token of what --limit left out
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*notificationv1.Notification, string, error) {
		size := pageSize
		if limit > 0 {
			size = min(size, limit-got)
		}
		resp, err := notifyCall(ctx, n, n.api.ListNotifications, &notificationv1.ListNotificationsRequest{
			Parent: inbox, PageSize: int32(size), PageToken: token, UnreadOnly: unread,
		})
		if err != nil {
			return nil, "", err
		}
		got += len(resp.GetNotifications())
		next := resp.GetNextPageToken()
		if limit > 0 && got >= limit {
			more, next = next, ""
		}
		return resp.GetNotifications(), next, nil
	})
	if err != nil {
		return err
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return n.emit(&notificationv1.ListNotificationsResponse{Notifications: all, NextPageToken: more}, func(w io.Writer) {
		if len(all) == 0 {
			if unread {
				fmt.Fprintln(w, "No unread notifications.")
			} else {
				fmt.Fprintln(w, "No notifications.")
			}
			return
		}
		row(w, "SEQUENCE", "TIME", "CHILD", "TITLE", "BODY", "READ")
		for _, nt := range all {
			read := "no"
			if nt.GetRead() {
				read = "yes"
			}
			row(w, strconv.FormatInt(nt.GetSequence(), 10), when(nt.GetCreateTime()), nt.GetChild(), nt.GetTitle(), nt.GetBody(), read)
		}
		if more != "" {
			fmt.Fprintf(w, "\nOlder notifications are not shown: raise --limit to see them.\n")
		}
	})
}

func notificationsCount(ctx context.Context, cmd *cmdline, args []string) error {
	addr := notificationAddr(cmd)
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	n, err := connectNotifications(cmd, *addr)
	if err != nil {
		return err
	}
	defer n.close()
	resp, err := notifyCall(ctx, n, n.api.CountUnreadNotifications, &notificationv1.CountUnreadNotificationsRequest{Parent: inbox})
	if err != nil {
		return err
	}
	return n.emit(resp, func(w io.Writer) {
		switch c := resp.GetUnreadCount(); c {
		case 0:
			fmt.Fprintln(w, "No unread notifications.")
		case 1:
			fmt.Fprintln(w, "1 unread notification.")
		default:
			fmt.Fprintf(w, "%d unread notifications.\n", c)
		}
	})
}

// maxMarked is how many notifications MarkNotificationsRead takes by name.
const maxMarked = 1000

// notificationNames turns the notifications given on the command line,
// by sequence (12) or by name (users/me/notifications/12), into names.
func notificationNames(args []string) ([]string, error) {
	if len(args) > maxMarked {
		return nil, usagef("at most %d notifications at once, got %d; --all marks every one", maxMarked, len(args))
	}
	bad := func(a string) error {
		return usagef("%q is not a notification: give its sequence as 'kinbridge notifications list' shows it, for example 12", a)
	}
	out := make([]string, 0, len(args))
	for _, a := range args {
		if strings.Contains(a, "/") {
			if _, err := names.ParseNotification(a); err != nil {
				return nil, bad(a)
			}
			out = append(out, a)
			continue
		}
		seq, err := strconv.ParseInt(a, 10, 64)
		if err != nil || seq <= 0 {
			return nil, bad(a)
		}
		out = append(out, names.Notification{User: names.Me, Sequence: seq}.String())
	}
	return out, nil
}

func notificationsRead(ctx context.Context, cmd *cmdline, args []string) error {
	addr := notificationAddr(cmd)
	var all bool
	cmd.local.BoolVar(&all, "all", false, "mark every notification read, up to the newest")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	switch {
	case all && len(args) > 0:
		return usagef("give sequences or --all, not both\n%s", cmd.usageLine())
	case !all && len(args) == 0:
		return usagef("which notifications? Give their sequences, as 'kinbridge notifications list' shows them, or --all\n%s", cmd.usageLine())
	}
	names, err := notificationNames(args)
	if err != nil {
		return err
	}
	n, err := connectNotifications(cmd, *addr)
	if err != nil {
		return err
	}
	defer n.close()
	req := &notificationv1.MarkNotificationsReadRequest{Parent: inbox, Names: names}
	if all {
		// Up to the newest now: what arrives meanwhile was not seen, and
		// stays unread.
		newest, err := notifyCall(ctx, n, n.api.ListNotifications, &notificationv1.ListNotificationsRequest{Parent: inbox, PageSize: 1})
		if err != nil {
			return err
		}
		if len(newest.GetNotifications()) == 0 {
			return n.emit(&notificationv1.MarkNotificationsReadResponse{}, func(w io.Writer) {
				fmt.Fprintln(w, "No notifications to mark.")
			})
		}
		req.UpToSequence = newest.GetNotifications()[0].GetSequence()
	}
	resp, err := notifyCall(ctx, n, n.api.MarkNotificationsRead, req)
	if err != nil {
		return err
	}
	return n.emit(resp, func(w io.Writer) {
		switch c := resp.GetMarkedCount(); c {
		case 0:
			fmt.Fprintln(w, "Nothing changed: no such notification was unread.")
		case 1:
			fmt.Fprintln(w, "Marked 1 notification read.")
		default:
			fmt.Fprintf(w, "Marked %d notifications read.\n", c)
		}
	})
}

func notificationsWatch(ctx context.Context, cmd *cmdline, args []string) error {
	addr := notificationAddr(cmd)
	var resume string
	cmd.local.StringVar(&resume, "resume", "", "start after this resume token: the sequence of the last notification you saw, or what a stopped watch printed (default: from now on)")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	n, err := connectNotifications(cmd, *addr)
	if err != nil {
		return err
	}
	defer n.close()
	w := &watcher{n: n}
	print := w.line
	if n.flags.json {
		print = w.json
	}
	token, err := n.sdk.Follow(ctx, sdk.FollowOptions{
		ResumeToken: strings.TrimSpace(resume),
		Started: func(string) {
			fmt.Fprintf(cmd.stderr, "Watching your notifications at %s; stop with Ctrl-C.\n", n.flags.addr)
		},
		Retrying: func(err error, token string, delay time.Duration) {
			reason := err
			if err != sdk.ErrStreamEnded {
				reason = n.explain(err)
			}
			from := ""
			if token != "" {
				from = " from resume token " + token
			}
			fmt.Fprintf(cmd.stderr, "Watch interrupted: %v. Resuming%s in %s.\n", reason, from, delay.Round(10*time.Millisecond))
		},
	}, print)
	switch {
	case ctx.Err() != nil:
		err = nil // interrupted: the normal end of a watch
	case err != nil && !w.printFailed:
		err = n.explain(err)
	}
	if token != "" {
		fmt.Fprintf(cmd.stderr, "To continue from here: kinbridge notifications watch --resume %s\n", token)
	}
	return err
}

// watcher prints the notifications a watch follows.
type watcher struct {
	n           *notifier
	printFailed bool // the output failed: its error is shown as it is
}

// line prints a notification as one readable line, the columns of
// `notifications list`: sequence, time, child, title — body.
func (w *watcher) line(nt *notificationv1.Notification) error {
	text := cell(nt.GetTitle())
	if nt.GetBody() != "" {
		text += " — " + cell(nt.GetBody())
	}
	_, err := fmt.Fprintf(w.n.out, "%d  %s  %s  %s\n", nt.GetSequence(), cell(when(nt.GetCreateTime())), cell(nt.GetChild()), text)
	w.printFailed = err != nil
	return err
}

// json prints a notification as one line of protojson. protojson varies
// its whitespace between builds; compacting keeps one line each.
func (w *watcher) json(nt *notificationv1.Notification) error {
	b, err := protojson.Marshal(nt)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.n.out.Write(buf.Bytes())
	w.printFailed = err != nil
	return err
}

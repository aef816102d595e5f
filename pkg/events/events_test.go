package events_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/outbox"
)

type publisher struct {
	got     []*notificationpeerv1.Event
	batches int
}

func (p *publisher) Publish(_ context.Context, in *notificationpeerv1.PublishRequest, _ ...grpc.CallOption) (*notificationpeerv1.PublishResponse, error) {
	p.got = append(p.got, in.GetEvent())
	return &notificationpeerv1.PublishResponse{}, nil
}

func (p *publisher) PublishBatch(_ context.Context, in *notificationpeerv1.PublishBatchRequest, _ ...grpc.CallOption) (*notificationpeerv1.PublishBatchResponse, error) {
	p.batches++
	p.got = append(p.got, in.GetEvents()...)
	return &notificationpeerv1.PublishBatchResponse{Results: make([]*notificationpeerv1.PublishResponse, len(in.GetEvents()))}, nil
}

// TestMessageThenDeliver: an event is keyed by its child in the outbox, and
// delivered with the outbox message's id as its de-duplication id.
func TestMessageThenDeliver(t *testing.T) {
	ev := &notificationpeerv1.Event{Child: "children/ada", Title: "New photo"}
	m := events.Message(ev)
	if m.Key != "children/ada" {
		t.Errorf("key %q, want the child", m.Key)
	}
	m.ID = "msg-1"
	var p publisher
	if err := events.Deliver(&p)(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(ev).(*notificationpeerv1.Event)
	want.Id = "msg-1"
	if len(p.got) != 1 || !proto.Equal(p.got[0], want) {
		t.Errorf("published %v, want %v", p.got, want)
	}
	if err := events.Deliver(&p)(context.Background(), outbox.Message{ID: "bad", Payload: []byte{0xff}}); err == nil {
		t.Error("a payload that is not an event was delivered")
	}
}

type mediaDeleter struct {
	got  []*mediapeerv1.DeleteChildDataRequest
	fail error
}

func (d *mediaDeleter) DeleteChildData(_ context.Context, in *mediapeerv1.DeleteChildDataRequest, _ ...grpc.CallOption) (*mediapeerv1.DeleteChildDataResponse, error) {
	d.got = append(d.got, in)
	if d.fail != nil {
		return nil, d.fail
	}
	return &mediapeerv1.DeleteChildDataResponse{Accepted: true}, nil
}

// TestWithChildDeletions: a CHILD_DELETED event goes to media's
// DeleteChildData (under the outbox message's id) and then to
// notification; while media fails, the delivery fails and notification
// waits, so the relay retries both. Other events go to notification only.
func TestWithChildDeletions(t *testing.T) {
	var p publisher
	media := &mediaDeleter{fail: status.Error(codes.Unavailable, "media is down")}
	deliver := events.WithChildDeletions(media, events.Deliver(&p))
	m := events.Message(&notificationpeerv1.Event{Type: notificationv1.EventType_EVENT_TYPE_CHILD_DELETED, Child: "children/ada"})
	m.ID = "msg-7"
	if err := deliver(context.Background(), m); status.Code(err) != codes.Unavailable {
		t.Fatalf("delivery while media is down: %v", err)
	}
	if len(p.got) != 0 {
		t.Fatalf("notification heard of the deletion before media: %v", p.got)
	}
	media.fail = nil
	if err := deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	want := &mediapeerv1.DeleteChildDataRequest{EventId: "msg-7", Child: "children/ada"}
	if len(media.got) != 2 || !proto.Equal(media.got[1], want) {
		t.Errorf("media got %v, want twice %v", media.got, want)
	}
	if len(p.got) != 1 || p.got[0].GetId() != "msg-7" || p.got[0].GetType() != notificationv1.EventType_EVENT_TYPE_CHILD_DELETED {
		t.Errorf("notification got %v", p.got)
	}

	other := events.Message(&notificationpeerv1.Event{Type: notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED, Child: "children/ada"})
	other.ID = "msg-8"
	if err := deliver(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if len(media.got) != 2 || len(p.got) != 2 {
		t.Errorf("a milestone reached media (%d calls) or missed notification (%d)", len(media.got), len(p.got))
	}
	if err := deliver(context.Background(), outbox.Message{ID: "bad", Payload: []byte{0xff}}); err == nil {
		t.Error("a payload that is not an event was delivered")
	}
}

// TestWithAccessChanges: the events that change who may see a child drop
// its shared access answers before they are delivered, and a failure to
// drop them fails the delivery (the relay retries); other events pass.
func TestWithAccessChanges(t *testing.T) {
	var dropped []string
	fail := error(nil)
	invalidate := func(_ context.Context, child string) error {
		dropped = append(dropped, child)
		return fail
	}
	var p publisher
	deliver := events.WithAccessChanges(invalidate, events.Deliver(&p))
	for i, typ := range []notificationv1.EventType{
		notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED,
		notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, notificationv1.EventType_EVENT_TYPE_MEDIA_READY,
		notificationv1.EventType_EVENT_TYPE_CHILD_DELETED, notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED,
	} {
		m := events.Message(&notificationpeerv1.Event{Type: typ, Child: "children/c" + string(rune('0'+i))})
		m.ID = "msg"
		if err := deliver(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"children/c0", "children/c2", "children/c4"}; !slices.Equal(dropped, want) {
		t.Errorf("dropped the answers about %v, want %v", dropped, want)
	}
	if len(p.got) != 6 {
		t.Errorf("%d events delivered, want 6", len(p.got))
	}

	fail = status.Error(codes.Unavailable, "redis is down")
	m := events.Message(&notificationpeerv1.Event{Type: notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, Child: "children/c9"})
	if err := deliver(context.Background(), m); err == nil {
		t.Error("delivered though the answers could not be dropped")
	}
	if len(p.got) != 6 {
		t.Error("the event reached notification before its access answers were dropped")
	}
}

// TestBatchWrappers: a batch reaches PublishBatch with each message's id,
// cut before each event that changes access, where media deletes the
// child's data and the access answers are dropped in the order of the
// events; when media fails, the events before the deletion count as
// delivered and the deletion does not.
func TestBatchWrappers(t *testing.T) {
	var log []string
	var p publisher
	invalidate := func(_ context.Context, child string) error {
		log = append(log, "invalidate "+child)
		return nil
	}
	media := &mediaDeleter{}
	deliver := events.BatchWithAccessChanges(invalidate, events.BatchWithChildDeletions(media, func(ctx context.Context, ms []outbox.Message) (int, error) {
		log = append(log, fmt.Sprintf("publish %d", len(ms)))
		return events.DeliverBatch(&p)(ctx, ms)
	}))
	var ms []outbox.Message
	for i, typ := range []notificationv1.EventType{
		notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED, notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED,
		notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED,
		notificationv1.EventType_EVENT_TYPE_CHILD_DELETED, notificationv1.EventType_EVENT_TYPE_MEDIA_READY,
	} {
		m := events.Message(&notificationpeerv1.Event{Type: typ, Child: "children/ada"})
		m.ID = fmt.Sprintf("msg-%d", i)
		ms = append(ms, m)
	}
	n, err := deliver(context.Background(), ms)
	if err != nil || n != len(ms) {
		t.Fatalf("delivered %d, %v", n, err)
	}
	want := []string{"publish 2", "invalidate children/ada", "publish 2", "invalidate children/ada", "publish 2"}
	if !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
	if len(media.got) != 1 || media.got[0].GetEventId() != "msg-4" {
		t.Errorf("media got %v", media.got)
	}
	for i, ev := range p.got {
		if ev.GetId() != ms[i].ID {
			t.Errorf("event %d published as %q, want %q", i, ev.GetId(), ms[i].ID)
		}
	}
	if p.batches != 3 {
		t.Errorf("%d PublishBatch calls, want 3", p.batches)
	}

	media.fail = status.Error(codes.Unavailable, "media is down")
	n, err = deliver(context.Background(), ms)
	if status.Code(err) != codes.Unavailable || n != 4 {
		t.Errorf("with media down: delivered %d, %v; want the 4 before the deletion and its error", n, err)
	}
}

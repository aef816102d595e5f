package events_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/outbox"
)

type publisher struct{ got []*notificationpeerv1.Event }

func (p *publisher) Publish(_ context.Context, in *notificationpeerv1.PublishRequest, _ ...grpc.CallOption) (*notificationpeerv1.PublishResponse, error) {
	p.got = append(p.got, in.GetEvent())
	return &notificationpeerv1.PublishResponse{}, nil
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

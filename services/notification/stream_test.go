package notification

import (
	"errors"
	"slices"
	"testing"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
)

// TestFeedPositionMovesOnlyPastWhatWasSentOrLeft walks deliver, the one
// place a feed's position moves, through each case.
func TestFeedPositionMovesOnlyPastWhatWasSentOrLeft(t *testing.T) {
	var sent []int64
	var failing error
	f := &feed{withdrawn: map[string]int64{}, emit: func(n *notificationv1.Notification, token string) error {
		if failing != nil {
			return failing
		}
		sent = append(sent, n.GetSequence())
		return nil
	}}
	steps := []struct {
		what      string
		withdrawn map[string]int64 // withdrawal signals before the notification
		seq       int64
		child     string
		fail      error
		position  int64
	}{
		{what: "sent", seq: 1, child: "children/ada", position: 1},
		{what: "a duplicate at the seam", seq: 1, child: "children/ada", position: 1},
		{what: "withdrawn with its child: passed over", withdrawn: map[string]int64{"children/ada": 3}, seq: 2, child: "children/ada", position: 2},
		{what: "another child's, meanwhile", seq: 3, child: "children/bo", position: 3},
		{what: "the child's again, stored after the withdrawal", seq: 4, child: "children/ada", position: 4},
		{what: "not sent: the position stays before it", seq: 5, child: "children/bo", fail: errors.New("client gone"), position: 4},
		{what: "sent on a second try", seq: 5, child: "children/bo", position: 5},
	}
	for _, s := range steps {
		for child, upTo := range s.withdrawn {
			f.withdrawn[child] = max(f.withdrawn[child], upTo)
		}
		failing = s.fail
		err := f.deliver(&notificationv1.Notification{Sequence: s.seq, Child: s.child})
		if !errors.Is(err, s.fail) {
			t.Fatalf("%s: deliver said %v", s.what, err)
		}
		if f.last != s.position {
			t.Fatalf("%s: position %d, want %d", s.what, f.last, s.position)
		}
	}
	if want := []int64{1, 3, 4, 5}; !slices.Equal(sent, want) {
		t.Fatalf("sent %v, want %v", sent, want)
	}
}

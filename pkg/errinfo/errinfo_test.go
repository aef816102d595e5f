package errinfo_test

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// TestWireStrings pins what clients match on the wire, written out here on
// purpose: a renamed enum value must not change them unnoticed. Every
// value of the enum is listed, so a new one needs its wire string here.
func TestWireStrings(t *testing.T) {
	wire := map[mediav1.ErrorReason]string{
		mediav1.ErrorReason_ERROR_REASON_TOO_LARGE:         "TOO_LARGE",
		mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE:  "UNSUPPORTED_TYPE",
		mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH: "CHECKSUM_MISMATCH",
		mediav1.ErrorReason_ERROR_REASON_MALFORMED:         "MALFORMED",
		mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH:     "KIND_MISMATCH",
		mediav1.ErrorReason_ERROR_REASON_INCOMPLETE:        "INCOMPLETE",
		mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH:   "OFFSET_MISMATCH",
		mediav1.ErrorReason_ERROR_REASON_FINISHED:          "FINISHED",
		mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS:  "TOO_MANY_UPLOADS",
		mediav1.ErrorReason_ERROR_REASON_UPLOAD_QUOTA:      "UPLOAD_QUOTA",
	}
	for n := range mediav1.ErrorReason_name {
		r := mediav1.ErrorReason(n)
		if r == mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		want, ok := wire[r]
		if !ok {
			t.Errorf("%v has no wire string in this test", r)
			continue
		}
		if got := errinfo.Reason(r); got != want {
			t.Errorf("Reason(%v) = %q, want %q", r, got, want)
		}
		if got := errinfo.ParseReason(want); got != r {
			t.Errorf("ParseReason(%q) = %v, want %v", want, got, r)
		}
	}
	for _, s := range []string{"", "UNSPECIFIED", "ERROR_REASON_TOO_LARGE", "too_large", "TOO_MANY_FEEDS"} {
		if got := errinfo.ParseReason(s); got != mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			t.Errorf("ParseReason(%q) = %v, want unspecified", s, got)
		}
	}
}

func TestMediaRefusal(t *testing.T) {
	err := errinfo.Media(codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE, "too big", map[string]string{"limit_bytes": "10"})
	st := status.Convert(err)
	if st.Code() != codes.OutOfRange || st.Message() != "too big" || len(st.Details()) != 1 {
		t.Fatalf("status %v", st)
	}
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	if !ok || info.GetReason() != "TOO_LARGE" || info.GetDomain() != "media.kinbridge" || info.GetMetadata()["limit_bytes"] != "10" {
		t.Fatalf("detail %v", st.Details()[0])
	}
	if r := errinfo.MediaReason(fmt.Errorf("upload: %w", err)); r != mediav1.ErrorReason_ERROR_REASON_TOO_LARGE {
		t.Errorf("MediaReason of a wrapped refusal = %v", r)
	}
}

func TestMediaReasonOfOthers(t *testing.T) {
	other, _ := status.New(codes.OutOfRange, "body too big").WithDetails(
		&errdetails.ErrorInfo{Reason: "TOO_LARGE", Domain: "gateway.kinbridge"})
	for name, err := range map[string]error{
		"nil":                   nil,
		"plain error":           errors.New("TOO_LARGE"),
		"status without detail": status.Error(codes.OutOfRange, "TOO_LARGE"),
		"another domain":        other.Err(),
	} {
		if r := errinfo.MediaReason(err); r != mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			t.Errorf("%s: MediaReason = %v, want unspecified", name, r)
		}
	}
}

func TestNotificationRefusal(t *testing.T) {
	wire := map[notificationv1.ErrorReason]string{
		notificationv1.ErrorReason_ERROR_REASON_TOO_MANY_FEEDS:         "TOO_MANY_FEEDS",
		notificationv1.ErrorReason_ERROR_REASON_TOO_MANY_SUBSCRIPTIONS: "TOO_MANY_SUBSCRIPTIONS",
		notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_USED:        "EMAIL_LINK_USED",
		notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_EXPIRED:     "EMAIL_LINK_EXPIRED",
		notificationv1.ErrorReason_ERROR_REASON_EMAIL_NOT_CONFIGURED:   "EMAIL_NOT_CONFIGURED",
	}
	for n := range notificationv1.ErrorReason_name {
		r := notificationv1.ErrorReason(n)
		if r == notificationv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		want, ok := wire[r]
		if !ok {
			t.Errorf("%v has no wire string in this test", r)
			continue
		}
		if got := errinfo.Reason(r); got != want {
			t.Errorf("Reason(%v) = %q, want %q", r, got, want)
		}
		err := errinfo.Notification(codes.ResourceExhausted, r, "cap", map[string]string{"limit": "3"})
		info := status.Convert(err).Details()[0].(*errdetails.ErrorInfo)
		if info.GetReason() != want || info.GetDomain() != "notification.kinbridge" || info.GetMetadata()["limit"] != "3" {
			t.Errorf("%v: detail %v", r, info)
		}
		if got := errinfo.NotificationReason(fmt.Errorf("feed: %w", err)); got != r {
			t.Errorf("NotificationReason = %v, want %v", got, r)
		}
		// The same string in the other domain is not this reason.
		if got := errinfo.MediaReason(err); got != mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			t.Errorf("MediaReason of a notification refusal = %v", got)
		}
	}
	if got := errinfo.ParseNotificationReason("TOO_LARGE"); got != notificationv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		t.Errorf("ParseNotificationReason of a media reason = %v", got)
	}
}

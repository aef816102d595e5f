// Package errinfo is the one place that maps the error reasons declared in
// the contracts (kinbridge.media.v1.ErrorReason,
// kinbridge.notification.v1.ErrorReason and
// kinbridge.progress.v1.ErrorReason) to and from the
// google.rpc.ErrorInfo a refusal carries, so the service that refuses and
// every client that reads the refusal (gateway, SDK, CLI, tests) agree
// without repeating a string.
//
// On the wire a reason is the enum value's name without its ERROR_REASON_
// prefix ("TOO_LARGE"), as AIP-193 and google.api.ErrorReason have it; the
// prefix only scopes protobuf enum values, and clients already match the
// short strings (the protos document each value).
package errinfo

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// The ErrorInfo domains of the services' refusals.
const (
	MediaDomain        = "media.kinbridge"
	NotificationDomain = "notification.kinbridge"
	ProgressDomain     = "progress.kinbridge"
)

const prefix = "ERROR_REASON_"

// Reason is the ErrorInfo reason that stands for r, a contract's
// ErrorReason value, on the wire.
func Reason(r protoreflect.Enum) string {
	v := r.Descriptor().Values().ByNumber(r.Number())
	if v == nil {
		return ""
	}
	return strings.TrimPrefix(string(v.Name()), prefix)
}

// ParseReason returns the media reason a wire string stands for, and
// ERROR_REASON_UNSPECIFIED for one it does not know.
func ParseReason(s string) mediav1.ErrorReason {
	return mediav1.ErrorReason(parse(mediav1.ErrorReason(0).Descriptor(), s))
}

// ParseNotificationReason is ParseReason for notification's reasons.
func ParseNotificationReason(s string) notificationv1.ErrorReason {
	return notificationv1.ErrorReason(parse(notificationv1.ErrorReason(0).Descriptor(), s))
}

// ParseProgressReason is ParseReason for progress's reasons.
func ParseProgressReason(s string) progressv1.ErrorReason {
	return progressv1.ErrorReason(parse(progressv1.ErrorReason(0).Descriptor(), s))
}

func parse(e protoreflect.EnumDescriptor, s string) protoreflect.EnumNumber {
	if s == "" || strings.HasPrefix(s, prefix) {
		return 0
	}
	if v := e.Values().ByName(protoreflect.Name(prefix + s)); v != nil {
		return v.Number()
	}
	return 0
}

// MediaInfo is the ErrorInfo of a media refusal for r.
func MediaInfo(r mediav1.ErrorReason, meta map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: Reason(r), Domain: MediaDomain, Metadata: meta}
}

// Media is a media refusal: a status of code with msg and the ErrorInfo of
// r carrying meta.
func Media(code codes.Code, r mediav1.ErrorReason, msg string, meta map[string]string) error {
	return refusal(code, msg, MediaInfo(r, meta))
}

// Notification is a notification refusal: a status of code with msg and
// the ErrorInfo of r carrying meta.
func Notification(code codes.Code, r notificationv1.ErrorReason, msg string, meta map[string]string) error {
	return refusal(code, msg, &errdetails.ErrorInfo{Reason: Reason(r), Domain: NotificationDomain, Metadata: meta})
}

// Progress is a progress refusal: a status of code with msg and the
// ErrorInfo of r carrying meta.
func Progress(code codes.Code, r progressv1.ErrorReason, msg string, meta map[string]string) error {
	return refusal(code, msg, &errdetails.ErrorInfo{Reason: Reason(r), Domain: ProgressDomain, Metadata: meta})
}

func refusal(code codes.Code, msg string, info *errdetails.ErrorInfo) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// MediaReason returns the reason of the media refusal err carries (an
// ErrorInfo of MediaDomain in its status details), and
// ERROR_REASON_UNSPECIFIED when it carries none.
func MediaReason(err error) mediav1.ErrorReason {
	return ParseReason(reasonIn(err, MediaDomain))
}

// NotificationReason is MediaReason for notification's refusals.
func NotificationReason(err error) notificationv1.ErrorReason {
	return ParseNotificationReason(reasonIn(err, NotificationDomain))
}

// ProgressReason is MediaReason for progress's refusals.
func ProgressReason(err error) progressv1.ErrorReason {
	return ParseProgressReason(reasonIn(err, ProgressDomain))
}

// reasonIn is the wire reason of err's ErrorInfo of domain, or "".
func reasonIn(err error, domain string) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	return ReasonOf(st, domain)
}

// ReasonOf is the wire reason of st's ErrorInfo of domain, or "".
func ReasonOf(st *status.Status, domain string) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == domain {
			return info.GetReason()
		}
	}
	return ""
}

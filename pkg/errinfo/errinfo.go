// Package errinfo is the one place that maps the error reasons declared in
// the contracts (kinbridge.media.v1.ErrorReason) to and from the
// google.rpc.ErrorInfo a refusal carries, so the service that refuses and
// every client that reads the refusal (gateway, SDK, CLI, tests) agree
// without repeating a string.
//
// On the wire a reason is the enum value's name without its ERROR_REASON_
// prefix ("TOO_LARGE"), as AIP-193 and google.api.ErrorReason have it; the
// prefix only scopes protobuf enum values, and clients already match the
// short strings (media.proto documents each value).
package errinfo

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// MediaDomain is the ErrorInfo domain of the media service's refusals.
const MediaDomain = "media.kinbridge"

const prefix = "ERROR_REASON_"

// Reason is the ErrorInfo reason that stands for r on the wire.
func Reason(r mediav1.ErrorReason) string { return strings.TrimPrefix(r.String(), prefix) }

// ParseReason returns the media reason a wire string stands for, and
// ERROR_REASON_UNSPECIFIED for one it does not know.
func ParseReason(s string) mediav1.ErrorReason {
	if s == "" || strings.HasPrefix(s, prefix) {
		return mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return mediav1.ErrorReason(mediav1.ErrorReason_value[prefix+s])
}

// MediaInfo is the ErrorInfo of a media refusal for r.
func MediaInfo(r mediav1.ErrorReason, meta map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: Reason(r), Domain: MediaDomain, Metadata: meta}
}

// Media is a media refusal: a status of code with msg and the ErrorInfo of
// r carrying meta.
func Media(code codes.Code, r mediav1.ErrorReason, msg string, meta map[string]string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(MediaInfo(r, meta)); err == nil {
		st = d
	}
	return st.Err()
}

// MediaReason returns the reason of the media refusal err carries (an
// ErrorInfo of MediaDomain in its status details), and
// ERROR_REASON_UNSPECIFIED when it carries none.
func MediaReason(err error) mediav1.ErrorReason {
	st, ok := status.FromError(err)
	if !ok {
		return mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == MediaDomain {
			return ParseReason(info.GetReason())
		}
	}
	return mediav1.ErrorReason_ERROR_REASON_UNSPECIFIED
}

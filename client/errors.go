package client

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// RefusedError is the media service refusing an upload for what it is: its
// type, kind, size, structure or checksum. Sending it again cannot help, so
// the upload's session is canceled (its bytes go at once) and its state
// forgotten. Find it with errors.As; status.Code and status.FromError see
// the service's status.
type RefusedError struct {
	// Reason is what the refusal is about, for example
	// ERROR_REASON_UNSUPPORTED_TYPE or ERROR_REASON_CHECKSUM_MISMATCH
	// (the media contract documents each); ERROR_REASON_UNSPECIFIED when
	// the service named none.
	Reason mediav1.ErrorReason
	// Status is the service's answer.
	Status *status.Status
}

// Error says the service refused the upload, and its message.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("the media service refused the upload: %s", e.Status.Message())
}

// GRPCStatus returns the service's status.
func (e *RefusedError) GRPCStatus() *status.Status { return e.Status }

// UploadError is an upload that stopped before it finished for a reason
// other than a refusal: interrupted (Err is the context's error), a cause
// no retry fixes (a token that expired: the upload resumes once it is
// fixed), too many failed attempts in a row, or a session that is gone.
// Find it with errors.As.
type UploadError struct {
	// Session is the upload session's name, "" when none was created.
	Session string
	// Committed is how many bytes the service had when the upload stopped,
	// or -1 when it did not say.
	Committed int64
	// Size is the upload's size.
	Size int64
	// Attempts is how many attempts in a row failed when the uploader gave
	// up; 0 when it stopped for another reason.
	Attempts int
	// Gone says the session expired or was canceled: running the upload
	// again starts over, it does not resume.
	Gone bool
	// Err is the cause: a gRPC status, or the context's error.
	Err error
}

// Error says why the upload stopped.
func (e *UploadError) Error() string {
	switch {
	case e.Gone:
		return fmt.Sprintf("upload session %s is gone (expired or canceled): %v", e.Session, e.Err)
	case e.Attempts > 0:
		return fmt.Sprintf("upload stopped after %d failed attempts in a row: %v", e.Attempts, e.Err)
	}
	return fmt.Sprintf("upload stopped: %v", e.Err)
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) works.
func (e *UploadError) Unwrap() error { return e.Err }

// refusal reports whether the service refused the content itself (its
// type, size or checksum), and returns it as a *RefusedError.
func refusal(err error) (*RefusedError, bool) {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		st, _ := status.FromError(err)
		return &RefusedError{Reason: errinfo.MediaReason(err), Status: st}, true
	}
	return nil, false
}

// IsChecksumMismatch reports whether err is a refusal of bytes that do not
// match the SHA-256 the upload declared: the file changed while it was
// uploaded.
func (e *RefusedError) IsChecksumMismatch() bool {
	return e.Reason == mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH
}

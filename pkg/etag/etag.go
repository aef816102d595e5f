// Package etag is the services' etags (AIP-154): opaque to clients, they
// carry the revision of the row they were read from ("v42"), so a write
// that sends one back fails when the row has changed since.
package etag

import (
	"strconv"
	"strings"

	"github.com/kinbridge/kinbridge/pkg/validate"
)

// Of returns the etag of a row at revision.
func Of(revision int64) string { return "v" + strconv.FormatInt(revision, 10) }

// Revision returns the revision an etag names, or 0 for an empty etag,
// which matches any revision. Anything not issued by Of is INVALID_ARGUMENT
// on field.
func Revision(field, e string) (int64, error) {
	if e == "" {
		return 0, nil
	}
	rev, err := strconv.ParseInt(strings.TrimPrefix(e, "v"), 10, 64)
	if err != nil || rev <= 0 || Of(rev) != e { // only what Of writes: no "v+42", no "v042"
		return 0, validate.InvalidArgument(validate.Field{Path: field, Description: "is not an etag this service issued"})
	}
	return rev, nil
}

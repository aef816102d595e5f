package progress

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// newID returns a random id: 26 characters of lowercase base32, enough
// randomness that ids can be neither guessed nor enumerated.
func newID() string { return strings.ToLower(rand.Text()) }

// Etags are opaque to clients; inside they carry the row's revision.
func etag(revision int64) string { return "v" + strconv.FormatInt(revision, 10) }

// parseEtag returns the revision an etag names; an empty etag means "any".
func parseEtag(field, e string) (int64, error) {
	if e == "" {
		return 0, nil
	}
	rev, err := strconv.ParseInt(strings.TrimPrefix(e, "v"), 10, 64)
	if err != nil || rev <= 0 || !strings.HasPrefix(e, "v") {
		return 0, validate.InvalidArgument(validate.Field{Path: field, Description: "is not an etag this service issued"})
	}
	return rev, nil
}

// cursor is the position after a page, carried in its page token.
type cursor struct {
	AfterTime  int64  `json:"t,omitempty"`
	AfterID    string `json:"i,omitempty"`
	AfterValue string `json:"v,omitempty"`
}

// decodePageToken returns the cursor of a token from listing, nil for the first page.
func decodePageToken(token, listing string) (*cursor, error) {
	var c cursor
	if ok, err := pagetoken.Decode(token, listing, &c); !ok {
		return nil, err
	}
	return &c, nil
}

func guardiansListing(childID string) string { return fmt.Sprintf("guardians:%s", childID) }

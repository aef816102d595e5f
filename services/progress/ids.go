package progress

import (
	"fmt"

	"github.com/kinbridge/kinbridge/pkg/pagetoken"
)

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

// Package pagetoken makes the page tokens of List methods: opaque to
// clients, and bound to the listing they came from, so a token cannot be
// replayed against another listing (other filters, another user).
//
// Tokens are not secret: they carry a position, never data the caller may
// not see, and every position is re-checked by the query that uses it.
package pagetoken

import (
	"encoding/base64"
	"encoding/json"

	"github.com/kinbridge/kinbridge/pkg/validate"
)

type envelope struct {
	Listing  string          `json:"l"`
	Position json.RawMessage `json:"p"`
}

// Encode returns the token for position (any JSON-encodable value) in
// listing, a string naming the listing and its filters.
func Encode(listing string, position any) string {
	p, err := json.Marshal(position)
	if err != nil {
		panic(err) // positions are plain structs and strings
	}
	b, _ := json.Marshal(envelope{Listing: listing, Position: p}) // cannot fail: strings and raw JSON
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads token into position. It reports false for an empty token
// (the first page), and an INVALID_ARGUMENT error on `page_token` for a
// token that is corrupt or belongs to another listing.
func Decode(token, listing string, position any) (bool, error) {
	if token == "" {
		return false, nil
	}
	bad := validate.InvalidArgument(validate.Field{Path: "page_token", Description: "is not a token from a previous page of this listing"})
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false, bad
	}
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil || e.Listing != listing || json.Unmarshal(e.Position, position) != nil {
		return false, bad
	}
	return true, nil
}

// Page sizes every List method of the suite documents: 0 means
// DefaultSize, and no page is larger than MaxSize.
const (
	DefaultSize = 50
	MaxSize     = 1000
)

// Size returns the page size to use for a requested one.
func Size(requested int32) int {
	switch {
	case requested <= 0:
		return DefaultSize
	case requested > MaxSize:
		return MaxSize
	}
	return int(requested)
}

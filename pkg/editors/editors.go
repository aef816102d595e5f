// Package editors keeps who changed a draft since its approval, other
// than its author: none of them may approve it, so what guardians see was
// approved by someone who wrote none of it. The set is one text column of
// user ids, one per line (an OIDC subject holds no line break).
package editors

import (
	"slices"
	"strings"
)

// Add returns set with user in it.
func Add(set, user string) string {
	if Has(set, user) {
		return set
	}
	if set == "" {
		return user
	}
	return set + "\n" + user
}

// Has reports whether user is in set.
func Has(set, user string) bool {
	return set != "" && slices.Contains(strings.Split(set, "\n"), user)
}

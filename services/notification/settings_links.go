package notification

import "time"

// How many confirmation mails one user may have sent in a rolling window.
// Each asks the server to mail an address the user merely typed: without
// a bound, a signed-in user could have Kinbridge mail a stranger's
// address over and over (setting it, clearing it, setting it again, or
// asking for the link again), at the rate limit of the API. The store
// counts them, so the bound holds across instances.
const (
	maxLinksPerWindow = 5
	linkWindow        = time.Hour
)

package check

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Event is one event a benchmark recorded: its id, and when the call that
// recorded it was sent and answered (offsets from any one clock). Calls
// that overlapped may land in either order; a call answered before another
// was sent must come first in every inbox.
type Event struct {
	ID    string
	Sent  time.Duration
	Acked time.Duration
}

// Inbox is what one guardian's inbox holds of the benchmark's events,
// oldest first, and the children the guardian follows.
type Inbox struct {
	Guardian string
	Children []string
	Got      []string
}

// Recorded checks a run of recorded events (per child, each child's in the
// order they were sent) against the inboxes of the children's guardians:
// each inbox must hold every event of every child its guardian follows,
// exactly once, nothing else, and a child's events in the order they were
// recorded. It returns nil for a right run, and otherwise an error naming
// the lost, doubled, unknown and out-of-order events per guardian.
func Recorded(recorded map[string][]Event, inboxes []Inbox) error {
	type at struct {
		child string
		ev    Event
	}
	byID := map[string]at{}
	for child, evs := range recorded {
		for _, ev := range evs {
			byID[ev.ID] = at{child, ev}
		}
	}
	sorted := append([]Inbox(nil), inboxes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Guardian < sorted[j].Guardian })
	var problems []string
	for _, in := range sorted {
		follows := map[string]bool{}
		for _, c := range in.Children {
			follows[c] = true
		}
		seen := map[string]int{}
		latestSent := map[string]time.Duration{} // per child: the latest send among the events so far
		var doubled, unknown, reordered []string
		for _, id := range in.Got {
			e, known := byID[id]
			if !known || !follows[e.child] {
				unknown = append(unknown, id)
				continue
			}
			if seen[id]++; seen[id] == 2 {
				doubled = append(doubled, id)
			}
			if seen[id] > 1 {
				continue
			}
			// An event answered before an earlier one in the inbox was
			// even sent came after it.
			if s, ok := latestSent[e.child]; ok && e.ev.Acked < s {
				reordered = append(reordered, id)
			}
			latestSent[e.child] = max(latestSent[e.child], e.ev.Sent)
		}
		var lost []string
		for _, c := range in.Children {
			for _, ev := range recorded[c] {
				if seen[ev.ID] == 0 {
					lost = append(lost, ev.ID)
				}
			}
		}
		for _, c := range []struct {
			what string
			ids  []string
		}{{"lost", lost}, {"doubled", doubled}, {"unknown", unknown}, {"out of order", reordered}} {
			if len(c.ids) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %d %s (%s)", in.Guardian, len(c.ids), c.what, sample(c.ids)))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("wrong run: %s", strings.Join(problems, "; "))
}

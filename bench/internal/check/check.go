// Package check decides whether a benchmark run was right: every event
// reached every feed exactly once and in order. A wrong run fails `make
// bench`; a slow one never does.
package check

import (
	"fmt"
	"sort"
	"strings"
)

// Feeds checks that each feed (its name -> the event ids it received, in
// arrival order) carried every id in sent exactly once and, when ordered,
// in the order they were sent (leave it false when the sends ran
// concurrently, so that their order is not known). It returns nil for a
// right run, and otherwise an error naming the lost, doubled, unknown and
// out-of-order events per feed.
func Feeds(sent []string, feeds map[string][]string, ordered bool) error {
	pos := make(map[string]int, len(sent))
	for i, id := range sent {
		pos[id] = i
	}
	names := make([]string, 0, len(feeds))
	for name := range feeds {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems []string
	for _, name := range names {
		got := feeds[name]
		seen := make(map[string]int, len(got))
		var doubled, unknown, reordered []string
		last := -1
		for _, id := range got {
			p, known := pos[id]
			if !known {
				unknown = append(unknown, id)
				continue
			}
			if seen[id]++; seen[id] == 2 {
				doubled = append(doubled, id)
			}
			if seen[id] > 1 {
				continue
			}
			if ordered && p < last {
				reordered = append(reordered, id)
			}
			last = max(last, p)
		}
		var lost []string
		for _, id := range sent {
			if seen[id] == 0 {
				lost = append(lost, id)
			}
		}
		for _, c := range []struct {
			what string
			ids  []string
		}{{"lost", lost}, {"doubled", doubled}, {"unknown", unknown}, {"out of order", reordered}} {
			if len(c.ids) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %d %s (%s)", name, len(c.ids), c.what, sample(c.ids)))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("wrong run: %s", strings.Join(problems, "; "))
}

// sample names the first few ids.
func sample(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], ", ") + ", ..."
	}
	return strings.Join(ids, ", ")
}

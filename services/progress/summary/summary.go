// Package summary computes a child's progress summary. The definitions
// live in the contract (GetProgressSummary in progress.proto); this package
// is their one implementation, pure and independent of any store.
package summary

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Grade is one row of a grading scale: a letter and its percentage.
type Grade struct {
	Letter  string  `json:"letter"`
	Percent float64 `json:"percent"`
}

// DefaultScale is the grading scale of a child who has none of their own.
func DefaultScale() []Grade {
	return []Grade{
		{"A+", 97}, {"A", 93}, {"A-", 90},
		{"B+", 87}, {"B", 83}, {"B-", 80},
		{"C+", 77}, {"C", 73}, {"C-", 70},
		{"D+", 67}, {"D", 63}, {"D-", 60},
		{"F", 0},
	}
}

// LetterPercent returns the percentage of a letter on the scale, compared
// without regard to case.
func LetterPercent(scale []Grade, letter string) (float64, bool) {
	for _, g := range scale {
		if strings.EqualFold(g.Letter, strings.TrimSpace(letter)) {
			return g.Percent, true
		}
	}
	return 0, false
}

// MaxPercent bounds the percentage of a points score: earned may exceed
// possible (extra credit), up to 10,000 times. Any number of percentages so
// bounded sum, and so average and trend, to finite numbers.
const MaxPercent = 1e6

// PointsPercent is earned / possible x 100. It is not defined (ok is
// false) when possible is not positive or the result is not a number from
// 0 to [MaxPercent]: 1e308 points out of 1e-300 would be infinite.
func PointsPercent(earned, possible float64) (float64, bool) {
	if !(possible > 0) {
		return 0, false
	}
	p := earned / possible * 100
	if !(p >= 0 && p <= MaxPercent) { // also false for NaN
		return 0, false
	}
	return p, true
}

// Entry is one assessment as the summary sees it.
type Entry struct {
	Subject string
	Date    time.Time // the assessed day, at midnight UTC
	// Percent is nil for entries that count only as entries: teacher notes,
	// unscored work, letters not on the scale.
	Percent *float64
	// Recorded orders entries of the same day: the later one is "latest".
	Recorded time.Time
}

// Stats are the numbers of one subject or of all subjects.
type Stats struct {
	Subject     string
	Count       int
	ScoredCount int
	Latest      *float64
	Mean        *float64
	Trend       *float64 // percentage points per 30 days
}

// Summarize returns per-subject stats ordered by subject, and the overall
// stats, all rounded to two decimals.
func Summarize(entries []Entry) (subjects []Stats, overall Stats) {
	bySubject := map[string][]Entry{}
	for _, e := range entries {
		bySubject[e.Subject] = append(bySubject[e.Subject], e)
	}
	names := make([]string, 0, len(bySubject))
	for name := range bySubject {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := stats(bySubject[name])
		st.Subject = name
		subjects = append(subjects, st)
	}
	return subjects, stats(entries)
}

func stats(entries []Entry) Stats {
	st := Stats{Count: len(entries)}
	var scored []Entry
	for _, e := range entries {
		if e.Percent != nil {
			scored = append(scored, e)
		}
	}
	st.ScoredCount = len(scored)
	if len(scored) == 0 {
		return st
	}
	latest, sum := scored[0], 0.0
	for _, e := range scored {
		sum += *e.Percent
		if e.Date.After(latest.Date) || (e.Date.Equal(latest.Date) && e.Recorded.After(latest.Recorded)) {
			latest = e
		}
	}
	st.Latest = rounded(*latest.Percent)
	st.Mean = rounded(sum / float64(len(scored)))
	if slope, ok := slopePerDay(scored); ok {
		st.Trend = rounded(slope * 30)
	}
	return st
}

// slopePerDay is the least-squares slope of percentage against day. It
// needs two distinct days; with one, the slope is undefined.
func slopePerDay(scored []Entry) (float64, bool) {
	origin := scored[0].Date
	var sx, sy float64
	for _, e := range scored {
		sx += days(origin, e.Date)
		sy += *e.Percent
	}
	n := float64(len(scored))
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for _, e := range scored {
		dx := days(origin, e.Date) - mx
		sxy += dx * (*e.Percent - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// days counts in seconds, not with t.Sub: a Duration ends at 292 years,
// and dates span 300 (1900 to 2199).
func days(origin, t time.Time) float64 { return float64(t.Unix()-origin.Unix()) / 86400 }

// Round rounds to two decimals, half away from zero, and never returns
// negative zero (which JSON would print as -0).
func Round(x float64) float64 {
	r := math.Round(x*100) / 100
	if r == 0 {
		return 0
	}
	return r
}

func rounded(x float64) *float64 {
	r := Round(x)
	return &r
}

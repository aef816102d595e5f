package summary

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func pct(v float64) *float64 { return &v }

func TestWorkedExample(t *testing.T) {
	// The example in the contract: Math 18/20 on 1 March, B+ on 15 March
	// and 70/100 on 31 March.
	p1, _ := PointsPercent(18, 20)
	p2, ok := LetterPercent(DefaultScale(), "B+")
	if !ok {
		t.Fatal("B+ is not on the default scale")
	}
	p3, _ := PointsPercent(70, 100)
	subjects, overall := Summarize([]Entry{
		{Subject: "Math", Date: day("2026-03-01"), Percent: &p1},
		{Subject: "Math", Date: day("2026-03-15"), Percent: &p2},
		{Subject: "Math", Date: day("2026-03-31"), Percent: &p3},
	})
	if len(subjects) != 1 {
		t.Fatalf("subjects = %+v", subjects)
	}
	for _, st := range []Stats{subjects[0], overall} {
		if st.Count != 3 || st.ScoredCount != 3 || *st.Latest != 70 || *st.Mean != 82.33 || *st.Trend != -20.28 {
			t.Errorf("got count %d scored %d latest %v mean %v trend %v; want 3 3 70 82.33 -20.28",
				st.Count, st.ScoredCount, *st.Latest, *st.Mean, *st.Trend)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    map[string]Stats // by subject; "" is overall
	}{
		{"nothing", nil, map[string]Stats{"": {}}},
		{"notes only count as entries", []Entry{
			{Subject: "Art", Date: day("2026-01-01")},
			{Subject: "Art", Date: day("2026-01-02")},
		}, map[string]Stats{"Art": {Count: 2}, "": {Count: 2}}},
		{"one day gives no trend", []Entry{
			{Subject: "Math", Date: day("2026-01-05"), Percent: pct(80), Recorded: time.Unix(1, 0)},
			{Subject: "Math", Date: day("2026-01-05"), Percent: pct(60), Recorded: time.Unix(2, 0)},
		}, map[string]Stats{
			"Math": {Count: 2, ScoredCount: 2, Latest: pct(60), Mean: pct(70)},
			"":     {Count: 2, ScoredCount: 2, Latest: pct(60), Mean: pct(70)},
		}},
		{"subjects apart and together", []Entry{
			{Subject: "Math", Date: day("2026-01-01"), Percent: pct(50)},
			{Subject: "Math", Date: day("2026-01-31"), Percent: pct(80)},
			{Subject: "Reading", Date: day("2026-01-16"), Percent: pct(90)},
			{Subject: "Reading", Date: day("2026-01-20")},
		}, map[string]Stats{
			"Math":    {Count: 2, ScoredCount: 2, Latest: pct(80), Mean: pct(65), Trend: pct(30)},
			"Reading": {Count: 2, ScoredCount: 1, Latest: pct(90), Mean: pct(90)},
			"":        {Count: 4, ScoredCount: 3, Latest: pct(80), Mean: pct(73.33), Trend: pct(30)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subjects, overall := Summarize(tt.entries)
			got := map[string]Stats{"": overall}
			for _, s := range subjects {
				got[s.Subject] = s
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d summaries, want %d: %+v", len(got), len(tt.want), got)
			}
			for subject, want := range tt.want {
				g := got[subject]
				if g.Count != want.Count || g.ScoredCount != want.ScoredCount ||
					!same(g.Latest, want.Latest) || !same(g.Mean, want.Mean) || !same(g.Trend, want.Trend) {
					t.Errorf("%q: got %s, want %s", subject, show(g), show(want))
				}
			}
		})
	}
}

func TestPercents(t *testing.T) {
	if p, ok := LetterPercent(DefaultScale(), " b+ "); !ok || p != 87 {
		t.Errorf("letters match without regard to case and space: %v %v", p, ok)
	}
	if _, ok := LetterPercent(DefaultScale(), "E"); ok {
		t.Error("a letter off the scale has a percentage")
	}
	for _, c := range []struct{ earned, possible float64 }{
		{1, 0}, {1, -1}, {math.NaN(), 10}, {math.Inf(1), 10}, {10, math.NaN()}, {-1, 10},
		{1e308, 1e-300}, {1, 5e-324}, {math.MaxFloat64, 1}, {MaxPercent/100*2 + 1, 2},
	} {
		if _, ok := PointsPercent(c.earned, c.possible); ok {
			t.Errorf("PointsPercent(%v, %v) should not be defined", c.earned, c.possible)
		}
	}
	if p, _ := PointsPercent(21, 20); p != 105 {
		t.Errorf("extra credit: %v", p)
	}
	if p, ok := PointsPercent(MaxPercent/100, 1); !ok || p != MaxPercent {
		t.Errorf("the largest extra credit: %v %v", p, ok)
	}
}

// TestSummariesStayFinite: the largest percentages over the widest span of
// dates still give finite numbers, and a span over 292 years (where a
// time.Duration ends) still gives the right trend.
func TestSummariesStayFinite(t *testing.T) {
	var entries []Entry
	for i := range 1000 {
		d := day("1900-01-01")
		if i%2 == 1 {
			d = day("2199-12-31")
		}
		entries = append(entries, Entry{Subject: "Math", Date: d, Percent: pct(MaxPercent)})
	}
	entries = append(entries, Entry{Subject: "Math", Date: day("2199-12-31"), Percent: pct(0)})
	subjects, overall := Summarize(entries)
	for _, st := range append(subjects, overall) {
		for name, v := range map[string]*float64{"latest": st.Latest, "mean": st.Mean, "trend": st.Trend} {
			if v == nil || math.IsInf(*v, 0) || math.IsNaN(*v) {
				t.Errorf("%s %s = %v", st.Subject, name, v)
			}
		}
	}
	_, two := Summarize([]Entry{
		{Subject: "Math", Date: day("1900-01-01"), Percent: pct(0)},
		{Subject: "Math", Date: day("2199-12-31"), Percent: pct(MaxPercent)},
	})
	span := day("2199-12-31").Unix() - day("1900-01-01").Unix()
	if want := Round(MaxPercent / (float64(span) / 86400) * 30); two.Trend == nil || *two.Trend != want {
		t.Errorf("trend over 300 years = %v, want %v", show(two), want)
	}
}

func TestRoundingHalfAwayFromZero(t *testing.T) {
	for in, want := range map[float64]float64{1.005000001: 1.01, -2.675000001: -2.68, 82.3333: 82.33, -0.001: 0} {
		if got := *rounded(in); got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("rounded(%v) = %v, want %v", in, got, want)
		}
	}
}

func same(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(s Stats) string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("count %d scored %d latest %s mean %s trend %s", s.Count, s.ScoredCount, f(s.Latest), f(s.Mean), f(s.Trend))
}

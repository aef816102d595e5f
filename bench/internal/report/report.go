// Package report carries the ratios the load generators under bench/
// measure: each writes its rows as JSON into the run directory `make bench`
// passes (-report-dir), and bench/report merges them into one table and
// one JSON file that later runs can be compared with.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Figure is one side of a ratio: a measured value and its unit.
type Figure struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Count is a figure that does not depend on how busy the machine is
// (allocations per call, bytes per call), given for both sides.
type Count struct {
	Name        string  `json:"name"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	Unit        string  `json:"unit"`
}

// Row is one ratio, numerator / denominator, both measured in the same run.
type Row struct {
	Bench       string  `json:"bench"` // the program that measured it
	Name        string  `json:"name"`
	Numerator   Figure  `json:"numerator"`
	Denominator Figure  `json:"denominator"`
	Ratio       float64 `json:"ratio"`
	// Target, when set, is the ratio the issue asks for, e.g. ">= 0.5".
	Target string  `json:"target,omitempty"`
	Counts []Count `json:"counts,omitempty"`
}

// NewRow fills Ratio from the two figures.
func NewRow(bench, name string, num, den Figure, target string) Row {
	r := Row{Bench: bench, Name: name, Numerator: num, Denominator: den, Target: target}
	if den.Value != 0 {
		r.Ratio = num.Value / den.Value
	}
	return r
}

// Met says whether the ratio meets its target, and false for ok when
// there is no target (or it cannot be read).
func (r Row) Met() (met, ok bool) {
	var op string
	var want float64
	if _, err := fmt.Sscanf(strings.TrimSpace(r.Target), "%s %g", &op, &want); err != nil {
		return false, false
	}
	switch op {
	case ">=":
		return r.Ratio >= want, true
	case "<=":
		return r.Ratio <= want, true
	}
	return false, false
}

// File is the JSON a run writes: its rows, and the machine they ran on.
type File struct {
	Machine string `json:"machine,omitempty"`
	Rows    []Row  `json:"rows"`
}

// Write puts rows into dir as <bench>.json; an empty dir writes nothing,
// so a load generator run by hand need not name one.
func Write(dir, bench string, rows []Row) error {
	if dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(File{Rows: rows}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, bench+".json"), append(b, '\n'), 0o644)
}

// Read merges every *.json file in dir, in file-name order.
func Read(dir string) ([]Row, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var rows []Row
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var f File
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, f.Rows...)
	}
	return rows, nil
}

// Print writes rows as one table.
func Print(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ratio\tnumerator\tdenominator\tratio\ttarget\tmet\tcounts (numerator / denominator)")
	for _, r := range rows {
		met := "-"
		if m, ok := r.Met(); ok {
			met = map[bool]string{true: "yes", false: "no"}[m]
		}
		target := r.Target
		if target == "" {
			target = "-"
		}
		var counts []string
		for _, c := range r.Counts {
			counts = append(counts, fmt.Sprintf("%s %s / %s %s", c.Name, num(c.Numerator), num(c.Denominator), c.Unit))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%s\n", r.Name, fig(r.Numerator), fig(r.Denominator),
			r.Ratio, target, met, strings.Join(counts, "; "))
	}
	return tw.Flush()
}

func fig(f Figure) string {
	return fmt.Sprintf("%s: %s %s", f.Label, num(f.Value), f.Unit)
}

func num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

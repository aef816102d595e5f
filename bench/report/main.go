// Command report merges the ratios the load generators wrote into a run
// directory (-dir), prints them as one table, and writes them as one JSON
// file (-out, by default ratios-<time>.json in the current directory),
// whose path it prints, for comparison with later runs. `make bench` runs
// it last.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/report:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := fs.String("dir", "", "the run directory the load generators wrote their ratios into (required)")
	path := fs.String("out", "", "the JSON file to write (default: bench-ratios-<UTC time>.json in the current directory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	rows, err := report.Read(*dir)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no ratios in %s", *dir)
	}
	if *path == "" {
		*path = "bench-ratios-" + time.Now().UTC().Format("20060102T150405Z") + ".json"
	}
	f := report.File{Machine: suite.Machine(), Rows: rows}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(*path)
	fmt.Fprintf(out, "\nRatios (each measured side by side in one run), %s\n\n", f.Machine)
	if err := report.Print(out, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwritten to %s\n", abs)
	return nil
}

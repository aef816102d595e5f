// Command events measures how many recorded events per second reach every
// guardian's inbox, against `kinbridge serve all` run as a separate process
// on loopback (see bench/internal/suite): one child, and many children, on
// SQLite, and on PostgreSQL when it is reachable (a throwaway database per
// service, dropped afterwards; skipped with a note otherwise).
//
// Each run starts a fresh server, creates the children with two guardians
// each, waits until the setup's own events are delivered, then records
// assessments through the gRPC API with a fixed number of calls in flight.
// It measures from the first call until the progress outbox is empty and
// every guardian's inbox holds every event, and reports events per second,
// the server's CPU time per event and how many Publish calls carried them.
// Then it reads every inbox: a lost, doubled, unknown or reordered event
// makes the run wrong (see check.Recorded), and a wrong run exits non-zero.
// Slowness never does. `make bench` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/events:", err)
		os.Exit(1)
	}
}

// defaultPostgres is the admin DSN of the local PostgreSQL the throwaway
// databases are created on, as the tests use.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// scenario is one shape of load.
type scenario struct {
	name     string
	children int
	events   int     // in all, spread evenly over the children
	target   float64 // events/s the issue asks for on SQLite
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	bin := fs.String("bin", "", "kinbridge binary to benchmark (default: go build ./cmd/kinbridge from the current directory)")
	reportDir := fs.String("report-dir", "", "write the rows as JSON into this directory (bench/report merges them)")
	timeout := fs.Duration("timeout", 15*time.Minute, "stop everything after this long")
	keep := fs.Bool("keep", false, "keep the temporary data directories and server logs")
	pg := fs.String("postgres", defaultPostgres, "admin DSN of a PostgreSQL server that may CREATE DATABASE; empty skips PostgreSQL")
	oneEvents := fs.Int("one-child-events", 3000, "events recorded for the one child")
	manyChildren := fs.Int("children", 100, "children of the many-children run")
	manyEvents := fs.Int("many-events", 10000, "events recorded across the many children, in all")
	workers := fs.Int("concurrency", 16, "recording calls in flight at once")
	settle := fs.Duration("settle", 60*time.Second, "give up waiting for deliveries after this long without progress")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *oneEvents < 1 || *manyChildren < 1 || *manyEvents < *manyChildren || *workers < 1 {
		return errors.New("-one-child-events, -children and -concurrency must be positive and -many-events at least -children")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	defer cancelTimeout()

	dir, cleanup, err := suite.Workspace(ctx, "", "kinbridge-events-", *keep, out, bin)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintln(out, "Kinbridge events benchmark: events recorded -> in every guardian's inbox, per second")
	fmt.Fprintf(out, "machine: %s\n", suite.Machine())
	fmt.Fprintf(out, "%d recording calls in flight, 2 guardians per child\n", *workers)

	scenarios := []scenario{
		{name: "one child", children: 1, events: *oneEvents, target: 1000},
		{name: fmt.Sprintf("%d children", *manyChildren), children: *manyChildren, events: *manyEvents, target: 5000},
	}
	type backend struct {
		name string
		dbs  func(ctx context.Context) (args []string, drop func(), err error)
	}
	backends := []backend{{name: "SQLite", dbs: func(context.Context) ([]string, func(), error) { return nil, func() {}, nil }}}
	if *pg == "" {
		fmt.Fprintln(out, "PostgreSQL: skipped (-postgres is empty)")
	} else if err := pgReachable(ctx, *pg); err != nil {
		fmt.Fprintf(out, "PostgreSQL: skipped, not reachable: %v\n", err)
	} else {
		backends = append(backends, backend{name: "PostgreSQL", dbs: func(ctx context.Context) ([]string, func(), error) {
			return pgDatabases(ctx, *pg)
		}})
	}

	var rows []report.Row
	var wrong []error
	for _, b := range backends {
		for _, sc := range scenarios {
			fmt.Fprintf(out, "\n%s, %s: %d events\n", sc.name, b.name, sc.events)
			args, drop, err := b.dbs(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			res, err := measure(ctx, *bin, dir, args, sc, *workers, *settle, out)
			drop()
			if err != nil {
				return fmt.Errorf("%s, %s: %w", sc.name, b.name, err)
			}
			fmt.Fprintf(out, "  %.0f events/s (%d in %s), %.0f µs server CPU/event, %.3f Publish calls/event\n",
				res.rate(), res.events, res.elapsed.Round(time.Millisecond), res.cpuPerEvent()*1e6, res.callsPerEvent())
			if res.wrong != nil {
				fmt.Fprintf(out, "  WRONG: %v\n", res.wrong)
				wrong = append(wrong, fmt.Errorf("%s, %s: %w", sc.name, b.name, res.wrong))
			} else {
				fmt.Fprintln(out, "  every inbox holds every event once, in order")
			}
			target := ""
			if b.name == "SQLite" {
				target = ">= 1"
			}
			r := report.NewRow("events", fmt.Sprintf("events recorded -> every guardian's inbox, %s, %s (events/s / the issue's SQLite target)", sc.name, b.name),
				report.Figure{Label: "measured", Value: res.rate(), Unit: "events/s"},
				report.Figure{Label: "target", Value: sc.target, Unit: "events/s"}, target)
			r.Counts = []report.Count{
				// The CPU the machine has per event at the target rate.
				{Name: "server CPU / budget at target", Numerator: res.cpuPerEvent() * 1e6, Denominator: float64(runtime.NumCPU()) * 1e6 / sc.target, Unit: "µs/event"},
				{Name: "Publish calls / one per event", Numerator: res.callsPerEvent(), Denominator: 1, Unit: "per event"},
			}
			rows = append(rows, r)
		}
	}
	if err := report.Write(*reportDir, "events", rows); err != nil {
		return err
	}
	if len(wrong) > 0 {
		return errors.Join(wrong...)
	}
	return nil
}

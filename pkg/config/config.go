// Package config reads settings from command-line flags, falling back to
// KINBRIDGE_* environment variables, and prints them once at start.
//
// The precedence is flag, then environment, then default: an operator can
// set everything through the environment (containers, systemd) and still
// override one value on the command line.
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"
)

// EnvPrefix starts the environment variable of every flag.
const EnvPrefix = "KINBRIDGE_"

// EnvName returns the environment variable that backs a flag:
// "progress-db" becomes KINBRIDGE_PROGRESS_DB.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Set is a flag set whose flags fall back to environment variables.
type Set struct {
	fs     *flag.FlagSet
	redact map[string]func(string) string
	source map[string]string
}

// New returns an empty Set for the named command. Errors are returned from
// Parse, not printed and exited on, so callers decide what to do.
func New(name string) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &Set{fs: fs, redact: map[string]func(string) string{}, source: map[string]string{}}
}

// FlagSet exposes the underlying flag set, for usage output.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// String defines a string setting.
func (s *Set) String(p *string, name, def, usage string) {
	s.fs.StringVar(p, name, def, usage+envHint(name))
}

// Secret defines a string setting that is masked when printed.
func (s *Set) Secret(p *string, name, def, usage string) {
	s.Redacted(p, name, def, usage, func(string) string { return "****" })
}

// Redacted defines a string setting printed through redact, for values
// with a secret inside (a DSN's password).
func (s *Set) Redacted(p *string, name, def, usage string, redact func(string) string) {
	s.redact[name] = redact
	s.String(p, name, def, usage)
}

// Bool defines a boolean setting.
func (s *Set) Bool(p *bool, name string, def bool, usage string) {
	s.fs.BoolVar(p, name, def, usage+envHint(name))
}

// Int defines an integer setting.
func (s *Set) Int(p *int, name string, def int, usage string) {
	s.fs.IntVar(p, name, def, usage+envHint(name))
}

// Int64 defines a 64-bit integer setting, for sizes in bytes.
func (s *Set) Int64(p *int64, name string, def int64, usage string) {
	s.fs.Int64Var(p, name, def, usage+envHint(name))
}

// Float64 defines a floating-point setting, for rates.
func (s *Set) Float64(p *float64, name string, def float64, usage string) {
	s.fs.Float64Var(p, name, def, usage+envHint(name))
}

// Duration defines a duration setting ("5s", "1h").
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	s.fs.DurationVar(p, name, def, usage+envHint(name))
}

// List defines a comma-separated list setting.
func (s *Set) List(p *[]string, name string, def []string, usage string) {
	*p = def
	s.fs.Func(name, usage+envHint(name), func(v string) error {
		*p = splitList(v)
		return nil
	})
}

func envHint(name string) string { return " (env " + EnvName(name) + ")" }

func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Parse reads the command line, then fills every flag not given there from
// its environment variable. A malformed value in either place is an error
// naming where it came from.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	s.fs.Visit(func(f *flag.Flag) { s.source[f.Name] = "flag" })
	var errs []string
	s.fs.VisitAll(func(f *flag.Flag) {
		if s.source[f.Name] != "" {
			return
		}
		v, ok := os.LookupEnv(EnvName(f.Name))
		if !ok {
			s.source[f.Name] = "default"
			return
		}
		if err := s.fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", EnvName(f.Name), err))
			return
		}
		s.source[f.Name] = "env"
	})
	if len(errs) > 0 {
		return fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Take defines on s the named settings of from, bound to the same values:
// a command that reads only some of the settings of a larger set shows and
// accepts only those. It panics on a name from does not define.
func (s *Set) Take(from *Set, names ...string) {
	for _, name := range names {
		f := from.fs.Lookup(name)
		if f == nil {
			panic("config: no setting " + name)
		}
		s.fs.Var(f.Value, f.Name, f.Usage)
		if redact := from.redact[name]; redact != nil {
			s.redact[name] = redact
		}
	}
}

// Args returns the arguments left after the flags.
func (s *Set) Args() []string { return s.fs.Args() }

// Log prints every setting once, with where its value came from; secrets
// show only whether they are set.
func (s *Set) Log(logger *slog.Logger) {
	var names []string
	s.fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	attrs := make([]any, 0, len(names))
	for _, name := range names {
		v := s.fs.Lookup(name).Value.String()
		if redact := s.redact[name]; redact != nil && v != "" {
			v = redact(v)
		}
		attrs = append(attrs, slog.String(name, v+" ("+s.source[name]+")"))
	}
	logger.Info("configuration", attrs...)
}

// PrintUsage writes the flags with their environment variables.
func (s *Set) PrintUsage(w io.Writer) {
	s.fs.SetOutput(w)
	s.fs.PrintDefaults()
	s.fs.SetOutput(io.Discard)
}

package main

// Each command's help lists only flags it reads. The client flags are the
// framework's: a command gets those of the one API its table entry
// declares (and reading another API's flags panics, see cmdline.calls).
// These tests check that for every command in the tables: structurally,
// that -h shows exactly its API's flags; by running it against a real
// suite, that each of them changes what it does; and in the source, that
// every flag a command defines itself is read.

import (
	"context"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// apiFlags are the flags the framework gives a command that calls a.
func apiFlags(a *api) []string {
	return []string{a.addrFlag, "json", "timeout", "token", "tls-ca", "tls-cert", "tls-key"}
}

func TestHelpShowsOnlyTheFlagsOfTheDeclaredAPI(t *testing.T) {
	var allAPIFlags []string
	for _, a := range []*api{progressAPI, mediaAPI, notificationAPI} {
		allAPIFlags = append(allAPIFlags, apiFlags(a)...)
	}
	for _, l := range leaves() {
		var shown []string
		for _, f := range commandFlags(l.cmd, l.sub, l.path) {
			shown = append(shown, f.Name)
		}
		check := allAPIFlags
		var want []string
		if l.cmd.api != nil {
			want = apiFlags(l.cmd.api)
		} else {
			// The servers have settings of their own named like the
			// clients' address flags (--media-addr): where they reach a
			// service.
			check = []string{"addr", "json", "timeout", "token"}
			if l.path == "health" {
				// A probe has its own --addr and --timeout (5s, no
				// environment fallback) and takes only the TLS flags of
				// the clients.
				check = []string{mediaAddrFlag, notificationAddrFlag, "json", "token", "tls-ca", "tls-cert", "tls-key"}
				want = []string{"tls-ca", "tls-cert", "tls-key"}
			}
		}
		for _, f := range check {
			if slices.Contains(shown, f) != slices.Contains(want, f) {
				t.Errorf("kinbridge %s -h: shows --%s: %v; it calls %v", l.path, f, slices.Contains(shown, f), l.cmd.api)
			}
		}
	}
}

// clientProbe is a command line of a client command that succeeds
// against the suite: args makes it, fresh for each run when the command
// changes what it acts on.
type clientProbe struct {
	args   func(t *testing.T) []string
	token  string   // the caller; the admin when empty
	output []string // more arguments, for the runs that compare output
}

// TestEveryClientFlagIsRead runs every client command against a real
// suite, once as is and once with each flag of its API: an unreachable
// --addr (or --media-addr...), a bad --token and a 1ns --timeout make it
// fail saying so, and --json turns its output into JSON.
func TestEveryClientFlagIsRead(t *testing.T) {
	s := startSuite(t)
	t.Setenv("KINBRIDGE_ADDR", s.progress)
	t.Setenv("KINBRIDGE_MEDIA_ADDR", s.media)
	t.Setenv("KINBRIDGE_NOTIFICATION_ADDR", s.notification)
	t.Setenv("KINBRIDGE_TOKEN", s.adminToken)
	t.Setenv("KINBRIDGE_STATE_DIR", t.TempDir())
	t.Setenv("KINBRIDGE_TIMEOUT", "")
	os.Unsetenv("KINBRIDGE_TIMEOUT")
	t.Setenv("KINBRIDGE_JSON", "")
	os.Unsetenv("KINBRIDGE_JSON")
	child := cliFamily(t)
	maria := s.userToken(t, "maria", false)
	mustKB(t, "milestones", "add", child, "--title", "Rides a bike", "--date", "2026-03-01")

	n := 0
	fresh := func() string { n++; return strconv.Itoa(n) }
	upload := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "drawing-"+fresh()+".png")
		if err := os.WriteFile(path, noisePNG(t, 8+n, 8), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var item mediav1.MediaItem
	if err := protojson.Unmarshal([]byte(mustKB(t, "media", "upload", upload(t), "--child", child, "--quiet", "--json")), &item); err != nil {
		t.Fatal(err)
	}
	newChild := func(t *testing.T) string {
		return field(t, mustKB(t, "children", "create", "--name", "Probe "+fresh()), "Name")
	}
	fixed := func(args ...string) func(*testing.T) []string { return func(*testing.T) []string { return args } }
	probes := map[string]clientProbe{
		"children create": {args: func(*testing.T) []string { return []string{"--name", "Probe " + fresh()} }},
		"children list":   {args: fixed()},
		"children get":    {args: fixed(child)},
		"children update": {args: fixed(child, "--school", "Hill Primary")},
		"children delete": {args: func(t *testing.T) []string { return []string{newChild(t)} }},
		"guardians add":   {args: func(*testing.T) []string { return []string{child, "--user", "aunt" + fresh(), "--role", "guardian"} }},
		"guardians list":  {args: fixed(child)},
		"guardians remove": {args: func(t *testing.T) []string {
			user := "uncle" + fresh()
			mustKB(t, "guardians", "add", child, "--user", user, "--role", "guardian")
			return []string{child, user}
		}},
		"assessments add":     {args: fixed(child, "--subject", "Math", "--title", "Quiz", "--kind", "test", "--date", "2026-03-02", "--points", "18/20")},
		"assessments list":    {args: fixed(child)},
		"milestones add":      {args: fixed(child, "--title", "Reads alone", "--date", "2026-03-03")},
		"milestones list":     {args: fixed(child)},
		"summary":             {args: fixed(child)},
		"whoami":              {args: fixed(), token: maria},
		"media upload":        {args: func(t *testing.T) []string { return []string{upload(t), "--child", child, "--quiet"} }},
		"media list":          {args: fixed(child)},
		"media get":           {args: fixed(item.GetName())},
		"notifications list":  {args: fixed(), token: maria},
		"notifications count": {args: fixed(), token: maria},
		"notifications read":  {args: fixed("--all"), token: maria},
		// From the start, to have something to print; from now on, to
		// make the call --timeout bounds.
		"notifications watch": {args: fixed(), token: maria, output: []string{"--resume", "0"}},
	}
	ca := testenv.MustCA(t)
	pair := ca.MustIssue(t, "cli")
	// Where nothing listens: a port just freed.
	closed := func() string {
		addr, _ := countingListener(t)
		return addr
	}()

	seen := map[string]bool{}
	for _, l := range leaves() {
		if l.cmd.api == nil {
			continue
		}
		seen[l.path] = true
		t.Run(l.path, func(t *testing.T) {
			p, ok := probes[l.path]
			if !ok {
				t.Fatalf("no command line of %q that succeeds in this test: add one", l.path)
			}
			if p.token != "" {
				t.Setenv("KINBRIDGE_TOKEN", p.token)
			}
			runIt := func(flags ...string) (stdout, all string, err error) {
				t.Helper()
				// A watch runs until stopped: it has this long. A cancel,
				// not a deadline: as in main, --timeout is the only deadline
				// of a call.
				ctx, cancel := context.WithCancel(context.Background())
				defer time.AfterFunc(5*time.Second, cancel).Stop()
				defer cancel()
				args := append(append(strings.Fields(l.path), p.args(t)...), flags...)
				stdout, stderr, err := kbOut(ctx, args...)
				all = stdout + stderr
				if err != nil {
					all += err.Error()
				}
				return stdout, all, err
			}
			plain, all, err := runIt(p.output...)
			if err != nil {
				t.Fatalf("as is: %v\n%s", err, all)
			}
			if isJSON(plain) {
				t.Errorf("without --json the output is JSON already:\n%s", plain)
			}
			if out, all, err := runIt(append(p.output, "--json")...); err != nil || !isJSON(out) {
				t.Errorf("--json: %v, output not JSON:\n%s", err, all)
			}
			for flag, want := range map[string]string{
				"--" + l.cmd.api.addrFlag + "=" + closed: "cannot reach",
				"--token=bogus":                          "not signed in",
				"--timeout=1ns":                          "within 1ns",
				// The suite serves plaintext: TLS finds no server.
				"--tls-ca=" + ca.CertFile: "cannot reach",
				// Without --tls-ca, refused (tls_test.go uses them).
				"--tls-cert=" + pair.CertFile: "need --tls-ca",
				"--tls-key=" + pair.KeyFile:   "need --tls-ca",
			} {
				if _, all, _ := runIt(flag); !strings.Contains(all, want) {
					t.Errorf("%s: no %q in\n%s", flag, want, all)
				}
			}
		})
	}
	for _, path := range slices.Sorted(maps.Keys(probes)) {
		if !seen[path] {
			t.Errorf("%q is in this test but is no client command", path)
		}
	}
}

// isJSON reports whether out is JSON: one document, or one per line (a
// watch prints a line per notification).
func isJSON(out string) bool {
	if strings.TrimSpace(out) == "" {
		return false
	}
	if json.Valid([]byte(out)) {
		return true
	}
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) != "" && !json.Valid([]byte(line)) {
			return false
		}
	}
	return true
}

// TestEveryOwnFlagIsRead checks in the source that each flag a command
// defines itself (cmd.local.StringVar(&v, ...), s.String(&c.X, ...)) is
// bound to a variable or field that is read elsewhere: a flag the command
// ignores would show in its help for nothing.
func TestEveryOwnFlagIsRead(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	var parsed []*ast.File
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
	}
	// bound: each flag definition's target: a local variable (&v, or a
	// pointer v) or a field (&c.X).
	type target struct {
		id    *ast.Ident
		field bool
		flag  string
	}
	var bound []target
	definers := []string{"StringVar", "BoolVar", "IntVar", "Int64Var", "DurationVar", "Float64Var",
		"String", "Secret", "Redacted", "Bool", "Int", "Int64", "Float64", "Duration", "List"}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 3 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !slices.Contains(definers, sel.Sel.Name) {
				return true
			}
			name, ok := call.Args[1].(*ast.BasicLit)
			if !ok || name.Kind != gotoken.STRING {
				return true
			}
			x := call.Args[0]
			if u, ok := x.(*ast.UnaryExpr); ok {
				x = u.X
			}
			switch y := x.(type) {
			case *ast.Ident:
				bound = append(bound, target{y, false, name.Value})
			case *ast.SelectorExpr:
				bound = append(bound, target{y.Sel, true, name.Value})
			}
			return true
		})
	}
	if len(bound) < 50 {
		t.Fatalf("found only %d flag definitions: is the test reading cmd/kinbridge?", len(bound))
	}
	// A local variable is read where an identifier resolves to it (other
	// than its declaration and the flag's &); a field where a selector
	// names it.
	varReads := map[*ast.Object]int{}
	fieldReads := map[string]int{}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				fieldReads[x.Sel.Name]++
			case *ast.Ident:
				if x.Obj != nil && x.Obj.Pos() != x.Pos() {
					varReads[x.Obj]++
				}
			}
			return true
		})
	}
	for _, b := range bound {
		var reads int
		switch {
		case b.field:
			reads = fieldReads[b.id.Name] - 1 // less the flag's own &c.X
		case b.id.Obj != nil:
			reads = varReads[b.id.Obj] - 1
		default:
			t.Errorf("%s: flag %s is bound to %s, which this test cannot follow", fset.Position(b.id.Pos()), b.flag, b.id.Name)
			continue
		}
		if reads < 1 {
			t.Errorf("%s: flag %s is bound to %s, which nothing reads", fset.Position(b.id.Pos()), b.flag, b.id.Name)
		}
	}
}

// TestServeHelpShowsWhatEachRoleReads: each serve target's help shows the
// settings it reads, every setting is read by some target, and a target
// still accepts the settings only other roles read.
func TestServeHelpShowsWhatEachRoleReads(t *testing.T) {
	all := config.New("all")
	(&settings{}).define(all)
	shownBy := map[string][]string{}
	for _, l := range leaves() {
		if l.cmd.name != "serve" {
			continue
		}
		for _, f := range commandFlags(l.cmd, l.sub, l.path) {
			shownBy[f.Name] = append(shownBy[f.Name], l.sub.name)
		}
	}
	all.FlagSet().VisitAll(func(f *flag.Flag) {
		if len(shownBy[f.Name]) == 0 {
			t.Errorf("no serve target's help shows --%s", f.Name)
		}
	})
	for name, targets := range map[string][]string{
		"progress-db":                 {"all", "progress"},
		"gateway-listen":              {"all", "gateway"},
		"rate-limit-address":          {"all", "gateway"},
		"rate-limit-service":          {"all", "progress", "media", "notification"},
		"nats-url":                    {"all", "notification"},
		"max-photo-bytes":             {"all", "media", "gateway"},
		"progress-addr":               {"media", "notification", "gateway"}, // in one process, where it listens
		"media-addr":                  {"progress", "gateway"},
		"data-dir":                    {"all", "progress", "media", "notification", "gateway"},
		"grpc-max-concurrent-streams": {"all", "progress", "media", "notification"},
	} {
		if !slices.Equal(shownBy[name], targets) {
			t.Errorf("--%s is shown by serve %v, want %v", name, shownBy[name], targets)
		}
	}
	// Hidden, yet accepted: the run gets as far as its port.
	busy := busyPort(t)
	err := run(t.Context(), []string{"serve", "gateway", "--data-dir", t.TempDir(), "--metrics-listen", "",
		"--gateway-listen", busy, "--progress-db", "sqlite:elsewhere.db", "--rate-limit-service", "5"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve gateway with settings of other roles: %v", err)
	}
}

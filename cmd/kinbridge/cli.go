package main

// The people-facing client commands (children, guardians, assessments,
// milestones, summary) share what is in this file: flag parsing with
// environment fallbacks for the client settings, one connection to the
// public progress API, error messages a person can act on, and the table
// and JSON output.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sdk "github.com/kinbridge/kinbridge/client"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
)

// api is a service the client commands call. A command declares the one
// it calls (in the command tables), and gets the flags that reach it and
// no others: its address flag, --token, --timeout and --json. They go
// through pkg/config, so KINBRIDGE_ADDR and KINBRIDGE_TOKEN can be
// exported once instead of repeated on every command.
type api struct {
	service  string // "progress"
	addrFlag string // "addr"
	addr     string // the address flag's default
}

var (
	progressAPI     = &api{"progress", "addr", "127.0.0.1:9101"}
	mediaAPI        = &api{"media", mediaAddrFlag, "127.0.0.1:9102"}
	notificationAPI = &api{"notification", notificationAddrFlag, "127.0.0.1:9103"}
)

// clientFlags are the values of an api's flags.
type clientFlags struct {
	addr    string
	token   string
	timeout time.Duration
	json    bool
	// TLS: named as the servers' settings, so one environment
	// (KINBRIDGE_TLS_CA...) serves both.
	tlsCA, tlsCert, tlsKey string
}

func (f *clientFlags) define(s *config.Set, a *api) {
	s.String(&f.addr, a.addrFlag, a.addr, "gRPC address of the "+a.service+" service")
	s.Secret(&f.token, "token", "", "your bearer token (kinbridge token issue --user U)")
	s.Duration(&f.timeout, "timeout", 10*time.Second, "deadline of each call to the service")
	s.Bool(&f.json, "json", false, "print the response as JSON (protojson) instead of a table")
	f.defineTLS(s)
}

// defineTLS defines the TLS flags alone, for commands (health) that take
// them without the rest of an api's flags.
func (f *clientFlags) defineTLS(s *config.Set) {
	s.String(&f.tlsCA, "tls-ca", "", "CA certificates (PEM) to verify the service with: connects over TLS (default: plaintext)")
	s.String(&f.tlsCert, "tls-cert", "", "your client certificate (PEM), for services requiring one (mutual TLS); needs --tls-ca")
	s.String(&f.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
}

// tlsConfig returns the TLS configuration of the connections, nil for
// plaintext.
func (f *clientFlags) tlsConfig() (*tls.Config, error) {
	if f.tlsCA == "" {
		if f.tlsCert != "" || f.tlsKey != "" {
			return nil, usagef("--tls-cert and --tls-key need --tls-ca: the connection is TLS only with it")
		}
		return nil, nil
	}
	roots, err := tlsconfig.LoadPool(f.tlsCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	cfg := tlsconfig.ClientConfig(roots, nil)
	if f.tlsCert != "" || f.tlsKey != "" {
		if f.tlsCert == "" || f.tlsKey == "" {
			return nil, usagef("--tls-cert and --tls-key go together")
		}
		pair, err := tlsconfig.LoadPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{*pair}
	}
	return cfg, nil
}

// subcommand is one command: `kinbridge [GROUP] NAME USAGE`.
type subcommand struct {
	name  string
	usage string // the arguments after the command's name
	about string
	run   func(ctx context.Context, cmd *cmdline, args []string) error
}

// usageError is a command line that is wrong as typed: an unknown command
// or flag, a bad flag value, missing or extra arguments. main exits 2 on
// it and 1 on any other failure.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef formats a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// runGroup dispatches `kinbridge <group> <subcommand> ...`.
func runGroup(ctx context.Context, g command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printGroupUsage(stderr, g)
		return usagef("%s what? give one of the commands above", g.name)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printGroupUsage(stdout, g)
		return nil
	}
	sub, ok := g.sub(args[0])
	if !ok {
		printGroupUsage(stderr, g)
		return usagef("unknown command %q", g.name+" "+args[0])
	}
	return sub.run(ctx, newCmdline(g.name+" "+sub.name, sub.usage, g.api, stdout, stderr), args[1:])
}

func printGroupUsage(w io.Writer, g command) {
	fmt.Fprintln(w, "Usage:")
	child := false
	for _, sub := range g.subs {
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimSpace("kinbridge "+g.name+" "+sub.name+" "+sub.usage), sub.about)
		child = child || strings.Contains(sub.usage, "CHILD")
	}
	fmt.Fprintf(w, "\nRun 'kinbridge %s COMMAND -h' for a command's flags.\n", g.name)
	if child {
		fmt.Fprint(w, childArgHelp)
	}
}

const childArgHelp = `CHILD is a child's resource name (children/abc123) or just its id (abc123).
`

// cmdline parses one command's arguments. Its own flags (--subject,
// --school...) live in a plain flag set: they must not fall back to the
// environment, where a stray KINBRIDGE_NAME or KINBRIDGE_USER would fill
// them in silently. The flags of its api, and settings, live in a
// pkg/config set, which does.
type cmdline struct {
	name  string // "children get"
	usage string
	api   *api // the service it calls; nil for none
	// shows says which flags of global its help shows, when it accepts
	// some it does not read (the server settings); nil shows all.
	shows  func(name string) bool
	local  *flag.FlagSet
	global *config.Set
	client clientFlags
	stdout io.Writer
	stderr io.Writer
}

func newCmdline(name, usage string, a *api, stdout, stderr io.Writer) *cmdline {
	c := &cmdline{
		name:   name,
		usage:  usage,
		api:    a,
		local:  flag.NewFlagSet(name, flag.ContinueOnError),
		global: config.New(name),
		stdout: stdout,
		stderr: stderr,
	}
	c.local.SetOutput(io.Discard)
	if a != nil {
		c.client.define(c.global, a)
	}
	return c
}

// calls returns the flags of a, which the command must have declared as
// the api it calls: a command cannot read flags its help does not show.
func (c *cmdline) calls(a *api) *clientFlags {
	if a == nil || c.api != a {
		panic(fmt.Sprintf("kinbridge %s calls the %s service but its command table declares %v", c.name, a.service, c.api))
	}
	return &c.client
}

// parse reads args and returns the positional arguments. Flags may come
// before or after them (`children get abc --json`), which the flag package
// alone does not allow: the arguments are sorted into the two flag sets
// first, using each flag's definition to know whether it takes a value.
func (c *cmdline) parse(args []string) ([]string, error) {
	var localArgs, globalArgs, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		dst, f := &localArgs, c.local.Lookup(name)
		if g := c.global.FlagSet().Lookup(name); g != nil {
			dst, f = &globalArgs, g
		}
		*dst = append(*dst, a)
		if !inline && f != nil && !isBoolFlag(f) && i+1 < len(args) {
			i++
			*dst = append(*dst, args[i])
		}
	}
	if err := c.local.Parse(localArgs); err != nil {
		return nil, c.flagError(err)
	}
	if err := c.global.Parse(globalArgs); err != nil {
		return nil, c.flagError(err)
	}
	if c.api != nil && c.client.timeout <= 0 {
		return nil, usagef("--timeout must be positive, got %s", c.client.timeout)
	}
	return positional, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (c *cmdline) flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		c.printUsage(c.stdout)
		return flag.ErrHelp
	}
	return usagef("%v\n%s", err, c.usageLine())
}

func (c *cmdline) usageLine() string {
	return fmt.Sprintf("usage: %s (-h for the flags)", strings.TrimSpace("kinbridge "+c.name+" "+c.usage))
}

func (c *cmdline) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", strings.TrimSpace("kinbridge "+c.name+" "+c.usage))
	if strings.Contains(c.usage, "CHILD") {
		fmt.Fprint(w, "\n"+childArgHelp)
	}
	if hasFlags(c.local) {
		fmt.Fprintln(w, "\nFlags:")
		c.local.SetOutput(w)
		c.local.PrintDefaults()
		c.local.SetOutput(io.Discard)
	}
	shown := c.shownGlobals()
	if hasFlags(shown) {
		if c.api != nil {
			fmt.Fprintln(w, "\nClient flags:")
		} else {
			fmt.Fprintln(w, "\nFlags (each also read from its environment variable):")
		}
		shown.SetOutput(w)
		shown.PrintDefaults()
	}
	if c.shows != nil {
		fmt.Fprintln(w, "\nIt also accepts, and ignores, the settings only other roles read (the README's\n"+
			"configuration table lists them all), so one configuration can serve every\n"+
			"process of a deployment.")
	}
}

// shownGlobals returns the flags of global that help shows.
func (c *cmdline) shownGlobals() *flag.FlagSet {
	shown := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.global.FlagSet().VisitAll(func(f *flag.Flag) {
		if c.shows == nil || c.shows(f.Name) {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	return shown
}

func hasFlags(fs *flag.FlagSet) bool {
	found := false
	fs.VisitAll(func(*flag.Flag) { found = true })
	return found
}

// wantArgs checks the number of positional arguments.
func (c *cmdline) wantArgs(args []string, n int) error {
	if len(args) == n {
		return nil
	}
	if len(args) < n {
		return usagef("missing arguments\n%s", c.usageLine())
	}
	return usagef("unexpected arguments: %s\n%s", strings.Join(args[n:], " "), c.usageLine())
}

// given reports whether the command line set one of the command's flags;
// an update names in its mask only what the person asked to change.
func (c *cmdline) given(name string) bool {
	found := false
	c.local.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// client is a connection to the public progress API on behalf of one
// person, with where its output goes.
type client struct {
	api   progressv1.ProgressServiceClient
	sdk   *sdk.Client
	flags clientFlags
	out   io.Writer
}

// connect opens a connection; call it only once the input is known to be
// good, so bad input never reaches the service. Close the client after.
func (c *cmdline) connect() (*client, error) {
	return c.dial("addr", c.calls(progressAPI).addr)
}

// dial opens an SDK client whose calls go to addr (given with --addrFlag),
// with the person's token and --timeout. It connects lazily.
func (c *cmdline) dial(addrFlag, addr string) (*client, error) {
	token, err := c.bearer()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := c.client.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts := []sdk.Option{sdk.WithToken(token), sdk.WithTimeout(c.client.timeout)}
	if tlsCfg != nil {
		opts = append(opts, sdk.WithTLS(tlsCfg))
	}
	conn, err := sdk.New(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %w", addrFlag, addr, err)
	}
	flags := c.client
	flags.addr, flags.token = addr, token
	return &client{api: conn.Progress(), sdk: conn, flags: flags, out: c.stdout}, nil
}

// bearer returns the person's token (--token, KINBRIDGE_TOKEN) as it goes
// after "Bearer ", or says how to get one. Every connection uses it.
func (c *cmdline) bearer() (string, error) {
	token := strings.TrimSpace(c.calls(c.api).token)
	// People paste whole Authorization header values too.
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	if token == "" {
		return "", errors.New("no token: pass --token or export KINBRIDGE_TOKEN.\n" +
			"Get one with 'kinbridge token issue --user U', or 'kinbridge token issue --admin' for the administrator's " +
			"(where the servers keep their --data-dir: from make run's directory, the default)")
	}
	return token, nil
}

func (c *client) close() { c.sdk.Close() }

// callContext gives one call its deadline (the connection adds the
// person's token). Each page of a listing is its own call with its own
// deadline, so a long listing is not cut short by --timeout.
func (c *client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.flags.timeout)
}

// call makes one unary call and turns a failure into a readable error.
func call[Req, Resp any](ctx context.Context, c *client, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	resp, err := method(ctx, req)
	if err != nil {
		return resp, c.explain(err)
	}
	return resp, nil
}

// createOnce makes a create call that carries a request id. The id lets
// the service answer a repeat with the first result, so, unlike other
// creates, it is safe to send again when the service was unreachable; and
// when the outcome stays unknown, the person is told how to retry safely.
func createOnce[Req, Resp any](ctx context.Context, c *client, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, requestID string) (Resp, error) {
	const attempts = 4
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := c.callContext(ctx)
		resp, err := method(cctx, req)
		cancel()
		if err == nil {
			return resp, nil
		}
		code := status.Code(err)
		if code == codes.Unavailable && attempt < attempts && ctx.Err() == nil {
			select {
			case <-time.After(backoff):
				backoff *= 2
				continue
			case <-ctx.Done():
				err = ctx.Err()
				code = codes.Canceled
			}
		}
		explained := c.explain(err)
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			explained = fmt.Errorf("%w\nIt may or may not have been recorded. Run the same command again with --request-id %s: it will not be recorded twice", explained, requestID)
		}
		return resp, explained
	}
}

// listAll fetches every page of a listing. A service that hands back a
// page token it already gave would otherwise keep the loop going forever.
func listAll[T any](ctx context.Context, page func(ctx context.Context, token string) ([]T, string, error)) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	token := ""
	for {
		items, next, err := page(ctx, token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, errors.New("the service sent the same page token twice; stopping the listing")
		}
		seen[next] = true
		token = next
	}
}

// explain turns a failed call into what the person reads: the status
// message, each field violation on a line of its own, and for the codes a
// person can do something about, what to do.
func (c *client) explain(err error) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("canceled")
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	var violations []string
	var retryAfter time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				violations = append(violations, v.GetField()+": "+v.GetDescription())
			}
		case *errdetails.RetryInfo:
			retryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	if len(violations) > 0 {
		// The service's message repeats the violations on one line; keep
		// only its lead so each violation is read once.
		lead := strings.TrimRight(strings.TrimSuffix(msg, strings.Join(violations, "; ")), ": ")
		if lead == "" {
			lead = "invalid request"
		}
		return errors.New(lead + ":\n  " + strings.Join(violations, "\n  "))
	}
	switch st.Code() {
	case codes.PermissionDenied:
		return errors.New("permission denied: " + msg)
	case codes.Unauthenticated:
		return fmt.Errorf("not signed in: %s. Pass a current token with --token or KINBRIDGE_TOKEN (kinbridge token issue --user U)", msg)
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the progress service at %s (--addr, KINBRIDGE_ADDR): %s", c.flags.addr, msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer from the progress service at %s within %s (--timeout)", c.flags.addr, c.flags.timeout)
	case codes.ResourceExhausted:
		if retryAfter > 0 {
			return fmt.Errorf("%s: try again in %s", msg, retryAfter.Round(time.Second))
		}
	case codes.Unimplemented:
		return fmt.Errorf("the progress service at %s does not offer this yet (Unimplemented): %s", c.flags.addr, msg)
	}
	return errors.New(msg)
}

// emit prints resp as JSON with --json, otherwise through table.
func (c *client) emit(resp proto.Message, table func(w io.Writer)) error {
	if c.flags.json {
		return writeJSON(c.out, resp)
	}
	tw := tabwriter.NewWriter(c.out, 0, 8, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// writeJSON prints the protojson of m, indented. protojson deliberately
// varies its whitespace between builds; re-indenting keeps the output
// stable for people who diff it.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// row writes one tab-separated table row.
func row(w io.Writer, cells ...string) {
	safe := make([]string, len(cells))
	for i, s := range cells {
		safe[i] = cell(s)
	}
	fmt.Fprintln(w, strings.Join(safe, "\t"))
}

// cell makes a value safe for a table: tabs and newlines would break the
// columns, and control characters in text someone else recorded must not
// reach the reader's terminal as escape sequences.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// when shows a timestamp in the reader's own time zone.
func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().Local().Format("2006-01-02 15:04 MST")
}

// number shows a value rounded to two decimals without trailing zeros:
// 90, 82.33, 18.5.
func number(v float64) string {
	r := math.Round(v*100) / 100
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// signed shows a change with its sign: +5.5, -20.28, 0.
func signed(v float64) string {
	s := number(v)
	if s != "0" && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// optional shows an optional number through format, or "-" when absent.
func optional(v *float64, format func(float64) string) string {
	if v == nil {
		return "-"
	}
	return format(*v)
}

// childName accepts a child as "children/abc" or "abc" and returns its
// resource name.
func childName(arg string) (string, error) {
	n, err := names.ParseChild("children/" + strings.TrimPrefix(arg, "children/"))
	if err != nil {
		return "", usagef("%q is not a child: give its name (children/abc123) or id (abc123) as 'kinbridge children list' shows it", arg)
	}
	return n.String(), nil
}

// checkDate refuses anything that is not a real day as YYYY-MM-DD; empty
// passes, for optional flags.
func checkDate(flagName, v string) error {
	if v == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return usagef("--%s must be a day as YYYY-MM-DD, for example 2026-03-01 (got %q)", flagName, v)
	}
	return nil
}

// checkWindow checks a --from/--to pair.
func checkWindow(from, to string) error {
	if err := checkDate("from", from); err != nil {
		return err
	}
	if err := checkDate("to", to); err != nil {
		return err
	}
	// YYYY-MM-DD compares as text in date order.
	if from != "" && to != "" && from > to {
		return usagef("--from %s is after --to %s", from, to)
	}
	return nil
}

// required refuses an empty required flag.
func required(flagName, v string) error {
	if strings.TrimSpace(v) == "" {
		return usagef("--%s is required", flagName)
	}
	return nil
}

// parsePoints reads a score given as EARNED/POSSIBLE ("18/20", "7.5/10").
func parsePoints(v string) (*progressv1.Points, error) {
	bad := func(why string) error {
		return usagef("--points must be EARNED/POSSIBLE, for example 18/20: %s (got %q)", why, v)
	}
	e, p, ok := strings.Cut(v, "/")
	if !ok {
		return nil, bad("no /")
	}
	earned, err := strconv.ParseFloat(strings.TrimSpace(e), 64)
	if err != nil || math.IsNaN(earned) || math.IsInf(earned, 0) {
		return nil, bad("the points earned are not a number")
	}
	possible, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
	if err != nil || math.IsNaN(possible) || math.IsInf(possible, 0) {
		return nil, bad("the points possible are not a number")
	}
	if earned < 0 {
		return nil, bad("the points earned are negative")
	}
	if possible <= 0 {
		return nil, bad("the points possible must be more than 0")
	}
	return &progressv1.Points{Earned: earned, Possible: possible}, nil
}

// Enum values appear on the command line and in tables as short words:
// ASSESSMENT_KIND_REPORT_CARD is "report-card", ROLE_GUARDIAN "guardian".
// They come from the contract's descriptors, so a value added there is
// accepted here without a change.

// enumPrefix is what every value name of e starts with: the name of its
// zero value without UNSPECIFIED.
func enumPrefix(e protoreflect.EnumDescriptor) string {
	return strings.TrimSuffix(string(e.Values().ByNumber(0).Name()), "UNSPECIFIED")
}

// enumWord returns the short word of value n of e; "" for the zero value.
func enumWord(e protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	if n == 0 {
		return ""
	}
	v := e.Values().ByNumber(n)
	if v == nil {
		return strconv.Itoa(int(n))
	}
	word := strings.TrimPrefix(string(v.Name()), enumPrefix(e))
	return strings.ToLower(strings.ReplaceAll(word, "_", "-"))
}

// enumWords lists the words of e's values, in the contract's order.
func enumWords(e protoreflect.EnumDescriptor) []string {
	var words []string
	for i := range e.Values().Len() {
		if n := e.Values().Get(i).Number(); n != 0 {
			words = append(words, enumWord(e, n))
		}
	}
	return words
}

// parseEnum reads a word of e given to --flagName; the full value name
// (ROLE_GUARDIAN) is accepted too, for people who copy it from the API.
func parseEnum(e protoreflect.EnumDescriptor, flagName, word string) (protoreflect.EnumNumber, error) {
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(word), "-", "_"))
	if !strings.HasPrefix(name, enumPrefix(e)) {
		name = enumPrefix(e) + name
	}
	if v := e.Values().ByName(protoreflect.Name(name)); v != nil && v.Number() != 0 {
		return v.Number(), nil
	}
	return 0, usagef("--%s %q is not one of %s", flagName, word, strings.Join(enumWords(e), ", "))
}

// Command kinbridge is the one Kinbridge binary: `kinbridge serve ...` runs
// servers; every other subcommand is a client or a tool.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "time/tzdata" // children's time zones must resolve on hosts without zoneinfo
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "devel"
}

const usage = `kinbridge: follow a child's school life from afar.

Servers:
  kinbridge serve all           every service and the REST gateway in one process
  kinbridge serve progress      the progress service (gRPC)
  kinbridge serve media         the media service (gRPC)
  kinbridge serve notification  the notification service (gRPC)
  kinbridge serve gateway       the REST/JSON gateway

Children and their progress (over the gRPC API; 'kinbridge children -h' etc. for more):
  kinbridge children create|list|get|update|delete    children (administrators create and change them)
  kinbridge guardians add|list|remove CHILD           who may follow a child, and as what
  kinbridge assessments add|list CHILD                grades, scores and teacher notes
  kinbridge milestones add|list CHILD                 what the child achieved
  kinbridge summary CHILD [--from D] [--to D]         per-subject progress and milestones
  Every client command takes --addr (KINBRIDGE_ADDR, default 127.0.0.1:9101),
  --token (KINBRIDGE_TOKEN), --timeout (default 10s) and --json.

A child's photos, videos, artwork and documents (over the media gRPC API; 'kinbridge media -h' for more):
  kinbridge media upload FILE --child CHILD       upload with a progress bar; run it again to resume
  kinbridge media list CHILD [--kind K]           a child's media, newest first
  kinbridge media get MEDIA [--output FILE]       show an item; --output downloads its bytes
  These take --media-addr (KINBRIDGE_MEDIA_ADDR, default 127.0.0.1:9102) instead of --addr.

Your notifications (over the notification gRPC API; 'kinbridge notifications -h' for more):
  kinbridge notifications list [--unread] [--limit N]  your inbox, newest first
  kinbridge notifications count                        how many are unread
  kinbridge notifications read SEQUENCE... | --all     mark notifications read
  kinbridge notifications watch [--resume TOKEN]       print them as they arrive, until Ctrl-C
  These take --notification-addr (KINBRIDGE_NOTIFICATION_ADDR, default
  127.0.0.1:9103) instead of --addr, and --token, --timeout and --json.

Tools:
  kinbridge token issue --user U [--admin] [--ttl 24h]   print a user token
  kinbridge migrate [--progress-db DSN] [--notification-db DSN]   apply database migrations
  kinbridge version                                       print the version

Run 'kinbridge COMMAND -h' for a command's flags. Every flag can also be set
through an environment variable: --data-dir is KINBRIDGE_DATA_DIR.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "kinbridge:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "token":
		return token(rest, stdout, stderr)
	case "children":
		return childrenCmd(ctx, rest, stdout, stderr)
	case "guardians":
		return guardiansCmd(ctx, rest, stdout, stderr)
	case "assessments":
		return assessmentsCmd(ctx, rest, stdout, stderr)
	case "milestones":
		return milestonesCmd(ctx, rest, stdout, stderr)
	case "summary":
		return summaryCmd(ctx, rest, stdout, stderr)
	case "notifications":
		return notificationsCmd(ctx, rest, stdout, stderr)
	case "media":
		return mediaCmd(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stderr)
	case "version":
		fmt.Fprintln(stdout, buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

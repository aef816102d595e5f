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
	"strings"
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
  kinbridge whoami                                    who your token says you are, and your children
  Every client command takes --addr (KINBRIDGE_ADDR, default 127.0.0.1:9101),
  --token (KINBRIDGE_TOKEN), --timeout (default 10s) and --json; over TLS,
  --tls-ca (KINBRIDGE_TLS_CA), with --tls-cert and --tls-key for mutual TLS.

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
  kinbridge token issue --admin | --user U [--ttl 24h]   print an administrator's or a user's token
                                                          (reads the key in --data-dir, default ./data)
  kinbridge migrate [--progress-db DSN] [--notification-db DSN]   apply database migrations
  kinbridge backup --to DIR                               copy the databases and media blobs (the
                                                          same settings as serve), even while serving
  kinbridge restore --from DIR                            restore a backup into empty databases
  kinbridge health [--addr A] [--service S] | --url U     ask a server's gRPC health (default: readiness of
                                                          127.0.0.1:9101) or GET a gateway's /readyz, once:
                                                          exit 0 when it serves (the containers' probe);
                                                          TLS with the client commands' --tls-* flags
  kinbridge version (or --version)                        print the version
  kinbridge help [COMMAND [SUBCOMMAND]]                   print a command's help, as -h does
  kinbridge completion bash|zsh|fish                      print a shell completion script:
      source <(kinbridge completion bash)  in ~/.bashrc (zsh: ~/.zshrc, the same with zsh)
      kinbridge completion fish | source   in ~/.config/fish/config.fish

Run 'kinbridge COMMAND -h' for a command's flags. Every flag of the servers
and of the client settings can also be set through an environment
variable: --data-dir is KINBRIDGE_DATA_DIR. Exit status: 0 on success, 1
when a command fails, 2 when the command line is wrong (an unknown command
or flag, a bad value, missing or extra arguments).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err and returns the exit status: 0 on success and
// after help, 2 for a command line that is wrong as typed, 1 for a
// failure in running it.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(stderr, "kinbridge:", err)
	if _, ok := errors.AsType[usageError](err); ok {
		return 2
	}
	return 1
}

// command is one of kinbridge's top-level commands: a group of
// subcommands (`kinbridge children get`), or one that runs by itself
// (`kinbridge summary`). The usage text, help, completion and the tests
// all walk these tables.
type command struct {
	name  string
	about string
	subs  []subcommand // a group
	self  *subcommand  // or a command by itself
	api   *api         // the service the commands call: its flags are theirs
}

// sub returns the subcommand of a group by name.
func (g command) sub(name string) (subcommand, bool) {
	for _, s := range g.subs {
		if s.name == name {
			return s, true
		}
	}
	return subcommand{}, false
}

// commands returns the table of kinbridge's commands, in the order of the
// usage text. It is a function, not a variable, because help and
// completion are in it and read it: a variable would refer to itself.
func commands() []command {
	return []command{
		{name: "serve", about: "run the services and the REST gateway", subs: serveCommands()},
		{name: "children", about: "children (administrators create and change them)", subs: childrenCommands, api: progressAPI},
		{name: "guardians", about: "who may follow a child, and as what", subs: guardiansCommands, api: progressAPI},
		{name: "assessments", about: "grades, scores and teacher notes", subs: assessmentsCommands, api: progressAPI},
		{name: "milestones", about: "what a child achieved", subs: milestonesCommands, api: progressAPI},
		{name: "summary", about: summaryCommand.about, self: &summaryCommand, api: progressAPI},
		{name: "whoami", about: whoamiCommand.about, self: &whoamiCommand, api: progressAPI},
		{name: "media", about: "a child's photos, videos, artwork and documents", subs: mediaCommands, api: mediaAPI},
		{name: "notifications", about: "your notifications", subs: notificationsCommands, api: notificationAPI},
		{name: "token", about: "user tokens from the built-in issuer", subs: tokenCommands},
		{name: "migrate", about: migrateCommand.about, self: &migrateCommand},
		{name: "backup", about: backupCommand.about, self: &backupCommand}, {name: "restore", about: restoreCommand.about, self: &restoreCommand},
		{name: "health", about: "ask a server's health once: exit 0 when it serves", self: &healthCommand},
		{name: "version", about: "print the version", self: &subcommand{"version", "", "print the version", versionRun}},
		{name: "help", about: "print the help of kinbridge or of a command", self: &subcommand{"help", helpUsage, "print the help of kinbridge or of a command", helpRun}},
		{name: "completion", about: "print a shell completion script", self: &subcommand{"completion", completionUsage, "print a script that completes kinbridge's commands and flags in a shell", completionRun}},
	}
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run dispatches a command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-version":
		return run(ctx, append([]string{"version"}, args[1:]...), stdout, stderr)
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
	}
	if c.self != nil {
		return c.self.run(ctx, newCmdline(c.name, c.self.usage, c.api, stdout, stderr), args[1:])
	}
	return runGroup(ctx, c, args[1:], stdout, stderr)
}

func versionRun(_ context.Context, cmd *cmdline, args []string) error {
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.stdout, buildVersion())
	return err
}

const helpUsage = "[COMMAND [SUBCOMMAND]]"

// helpRun prints what `COMMAND [SUBCOMMAND] -h` prints.
func helpRun(ctx context.Context, cmd *cmdline, args []string) error {
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprint(cmd.stdout, usage)
		return nil
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		return usagef("no command %q: 'kinbridge help' lists them", args[0])
	}
	n := 1 // the words that name the command
	if c.self == nil && len(args) > 1 {
		if _, ok := c.sub(args[1]); !ok {
			return usagef("no command %q: 'kinbridge help %s' lists them", c.name+" "+args[1], c.name)
		}
		n = 2
	}
	if len(args) > n {
		return usagef("unexpected arguments: %s\nusage: kinbridge help %s", strings.Join(args[n:], " "), helpUsage)
	}
	err = run(ctx, append(args[:n:n], "-h"), cmd.stdout, cmd.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

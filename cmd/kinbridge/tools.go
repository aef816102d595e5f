package main

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	mediastore "github.com/kinbridge/kinbridge/services/media/store"
	notificationstore "github.com/kinbridge/kinbridge/services/notification/store"
	progressstore "github.com/kinbridge/kinbridge/services/progress/store"
)

// tokenCommands are `kinbridge token ...`.
var tokenCommands = []subcommand{
	{"issue", tokenIssueUsage, "print a user token from the built-in issuer", tokenIssue},
}

const tokenIssueUsage = "--admin | --user USER [--admin] [--ttl 24h]"

// defaultAdminUser is the user id of `token issue --admin` without --user
// and the user the banner's sign-in link signs in, so what an administrator
// made in the browser and with such a token belongs to the same user.
const defaultAdminUser = "admin"

// tokenIssue prints a user token from the built-in issuer. It can only
// mint user tokens: the service key is never read here. Its --data-dir
// default is serve's, so run from where `make run` runs (the repository
// root) it finds the key the running suite uses.
func tokenIssue(_ context.Context, cmd *cmdline, args []string) error {
	var dataDir, keyPath, user string
	var admin bool
	var ttl time.Duration
	s := cmd.global
	s.String(&dataDir, "data-dir", "data", "directory holding keys/user.pem (serve's --data-dir)")
	s.String(&keyPath, "user-key", "", "the user signing key (default: --data-dir/keys/user.pem)")
	s.String(&user, "user", "", "the user id the token names (its sub); with --admin, default "+defaultAdminUser)
	s.Bool(&admin, "admin", false, "make the token an administrator's")
	s.Duration(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	if admin && strings.TrimSpace(user) == "" {
		user = defaultAdminUser
	}
	if strings.TrimSpace(user) == "" {
		return usagef("--user is required, or --admin for the administrator's token (user %q)", defaultAdminUser)
	}
	if keyPath == "" {
		keyPath = dataDir + "/keys/user.pem"
	}
	key, created, err := auth.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(cmd.stderr, "created a new signing key at %s; servers must use the same one\n", keyPath)
	}
	tok, err := auth.NewUserIssuer(key).Issue(user, admin, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.stdout, tok)
	return nil
}

// migrateCommand is `kinbridge migrate`.
var migrateCommand = subcommand{"migrate", "", "apply every service's database migrations", migrate}

// migrateSettings are the server settings migrate reads.
var migrateSettings = []string{"data-dir", "progress-db", "media-db", "notification-db"}

// migrate applies every service's migrations and exits, for deployments
// that migrate before rolling out (servers also migrate at start).
func migrate(ctx context.Context, cmd *cmdline, args []string) error {
	c := &settings{}
	all := config.New("")
	c.define(all)
	cmd.global.Take(all, migrateSettings...)
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	c.resolve()
	stderr := cmd.stderr
	for _, svc := range []struct {
		name       string
		dsn        string
		migrations fs.FS
		outbox     bool
	}{
		{"progress", c.ProgressDB, progressstore.Migrations(), true},
		{"media", c.MediaDB, mediastore.Migrations(), true},
		{"notification", c.NotificationDB, notificationstore.Migrations(), false},
	} {
		db, err := sqldb.Open(ctx, svc.dsn, sqldb.Options{Migrations: svc.migrations})
		if err != nil {
			return fmt.Errorf("%s: %w", svc.name, err)
		}
		if svc.outbox {
			err = outbox.Migrate(ctx, db)
		}
		db.Close()
		if err != nil {
			return fmt.Errorf("%s outbox: %w", svc.name, err)
		}
		fmt.Fprintf(stderr, "%s: migrated %s\n", svc.name, sqldb.RedactDSN(svc.dsn))
	}
	return nil
}

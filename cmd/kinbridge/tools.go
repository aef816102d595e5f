package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	mediastore "github.com/kinbridge/kinbridge/services/media/store"
	notificationstore "github.com/kinbridge/kinbridge/services/notification/store"
	progressstore "github.com/kinbridge/kinbridge/services/progress/store"
)

// token prints a user token from the built-in issuer. It can only mint
// user tokens: the service key is never read here.
func token(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "issue" {
		return errors.New("usage: kinbridge token issue --user USER [--admin] [--ttl 24h]")
	}
	var dataDir, keyPath, user string
	var admin bool
	var ttl time.Duration
	s := config.New("token issue")
	s.String(&dataDir, "data-dir", "data", "directory holding keys/user.pem")
	s.String(&keyPath, "user-key", "", "the user signing key (default: --data-dir/keys/user.pem)")
	s.String(&user, "user", "", "the user id the token names (its sub)")
	s.Bool(&admin, "admin", false, "make the token an administrator's")
	s.Duration(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	if err := s.Parse(args[1:]); err != nil {
		s.PrintUsage(stderr)
		return err
	}
	if user == "" {
		return errors.New("--user is required")
	}
	if keyPath == "" {
		keyPath = dataDir + "/keys/user.pem"
	}
	key, created, err := auth.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "created a new signing key at %s; servers must use the same one\n", keyPath)
	}
	tok, err := auth.NewUserIssuer(key).Issue(user, admin, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// migrate applies every service's migrations and exits, for deployments
// that migrate before rolling out (servers also migrate at start).
func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	c, _, err := parseSettings("migrate", args, stderr)
	if err != nil {
		return err
	}
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

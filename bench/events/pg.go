package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgReachable says whether the admin DSN connects, within a few seconds.
func pgReachable(ctx context.Context, admin string) error {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 2 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// pgDatabases creates a throwaway database for progress and one for
// notification, and returns the server flags that use them and a drop
// that removes both.
func pgDatabases(ctx context.Context, admin string) (args []string, drop func(), err error) {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return nil, nil, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(ctx)
	u, err := url.Parse(admin)
	if err != nil {
		return nil, nil, fmt.Errorf("the admin DSN must be a postgres:// URL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "kb_bench_" + hex.EncodeToString(b)
	var names []string
	drop = func() {
		// The run's context may be over: drop on a fresh one.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, n := range names {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
		}
	}
	for _, svc := range []string{"progress", "notification"} {
		name := prefix + "_" + svc
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			drop()
			return nil, nil, err
		}
		names = append(names, name)
		d := *u
		d.Path = "/" + name
		args = append(args, "--"+svc+"-db", d.String())
	}
	return args, drop, nil
}

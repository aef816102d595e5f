//go:build cluster

// Command run is `make cluster`: it builds the cluster of package cluster
// (two gateways, two instances of each service, PostgreSQL, NATS, Redis,
// MinIO and Jaeger, each on a host of its own), prints how to reach it,
// and tears everything down on Ctrl-C or SIGTERM. It needs root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinbridge/kinbridge/cluster"
)

func main() {
	netem := flag.String("netem", "delay 2ms loss 0.5%", "tc netem spec of every host's link; empty for none")
	flag.Parse()
	if err := run(*netem); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(netem string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kinbridge-cluster-")
	if err != nil {
		return err
	}
	c, err := cluster.Start(ctx, cluster.Config{RepoRoot: root, Dir: dir, Netem: netem, Log: os.Stderr})
	if err != nil {
		return err // Start tore down what it made; dir keeps the logs
	}
	defer os.RemoveAll(dir)
	defer c.Close()
	gws := c.GatewayURLs()
	client := c.NS("client")
	fmt.Printf(`
Kinbridge cluster is up. Its hosts are reachable only from inside its namespaces; from the client host:
  gateways       %s  %s
  Jaeger         %s
  token          %s token issue --admin --data-dir %s
  try            ip netns exec %s curl -s %s/v1/children -H "Authorization: Bearer $TOKEN"
  a shell        ip netns exec %s bash
  logs           %s/logs
Ctrl-C stops every process and deletes the namespaces (%s*).
`, gws[0], gws[1], c.JaegerURL(), c.Binary(), c.KeysDir(), client, gws[0], client, dir, c.Prefix())
	<-ctx.Done()
	fmt.Println("\ncluster: stopping")
	return nil
}

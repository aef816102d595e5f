//go:build cluster

// Command run is `make cluster`: it builds the cluster of package cluster
// (two gateways, two instances of each service, PostgreSQL, NATS, Redis,
// MinIO and Jaeger, each on a host of its own; TLS and mutual TLS between
// the kinbridge processes), prints how to reach it and its CA,
// and tears everything down on Ctrl-C or SIGTERM. It needs root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
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
	certs := c.TLS()
	fmt.Printf(`
Kinbridge cluster is up. Its hosts are reachable only from inside its namespaces; from the client host:
  gateways       %[1]s  %[2]s
  CA             %[3]s
                 every kinbridge listener serves TLS with a certificate it signed; the gRPC services
                 require a client certificate it signed (mutual TLS): %[4]s, key %[5]s
  Jaeger         %[6]s  (plain http, as the other backends)
  token          export TOKEN=$(%[7]s token issue --admin --data-dir %[8]s)
  try            ip netns exec %[9]s curl --cacert %[3]s -s %[1]s/v1/children -H "Authorization: Bearer $TOKEN"
  the CLI        ip netns exec %[9]s %[7]s children list --addr %[10]s --token "$TOKEN" \
                   --tls-ca %[3]s --tls-cert %[4]s --tls-key %[5]s
  a shell        ip netns exec %[9]s env %[11]s bash
                 (curl and the CLI in it trust the CA and present the client certificate)
  logs           %[12]s/logs
Ctrl-C stops every process and deletes the namespaces (%[13]s*).
`, gws[0], gws[1], certs.CA, certs.Client.CertFile, certs.Client.KeyFile, c.JaegerURL(), c.Binary(), c.KeysDir(), client,
		c.ProgressAddrs(), strings.Join(c.ClientEnv(), " "), dir, c.Prefix())
	<-ctx.Done()
	fmt.Println("\ncluster: stopping")
	return nil
}

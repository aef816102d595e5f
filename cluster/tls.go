//go:build cluster

package cluster

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
)

// The cluster runs with TLS and mutual TLS on every app host, always, as a
// deployment across a network should: a CA made for the run signs one
// certificate per app host (its address as IP SAN, usable to serve and as
// a client certificate) and one for the client host. Every kinbridge
// process gets --tls-cert/--tls-key (every listener serves TLS),
// --tls-client-ca (its gRPC services require a client certificate of the
// CA) and --tls-ca (it verifies the services it calls). The backends
// (PostgreSQL, NATS, Redis, MinIO, Jaeger's OTLP and query ports) stay
// plaintext.

// TLS are the certificates of a cluster, as PEM files in Dir/tls.
type TLS struct {
	// CA is the CA's certificate: what clients verify the hosts with.
	CA string
	// Client is the client host's pair: the client certificate the test,
	// curl and the CLI present to the services.
	Client testenv.Pair
	hosts  map[string]testenv.Pair // by app host
}

// appHosts are the hosts that run kinbridge.
func appHosts() []string {
	var hosts []string
	for _, role := range appRoles {
		for i := 1; i <= 2; i++ {
			hosts = append(hosts, hostOf(role, i))
		}
	}
	return hosts
}

// hostOf is the host of instance i of role.
func hostOf(role string, i int) string {
	if role == "gateway" {
		return fmt.Sprintf("gw%d", i)
	}
	return fmt.Sprintf("%s%d", role, i)
}

// certificates makes the CA and every host's pair in Dir/tls.
func (c *Cluster) certificates() error {
	dir := filepath.Join(c.cfg.Dir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := testenv.NewCA(dir)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	c.tls = TLS{CA: ca.CertFile, hosts: map[string]testenv.Pair{}}
	for _, h := range appHosts() {
		if c.tls.hosts[h], err = ca.Issue(h, c.IP(h)); err != nil {
			return err
		}
	}
	if c.tls.Client, err = ca.Issue("client", c.IP("client")); err != nil {
		return err
	}
	roots, err := tlsconfig.LoadPool(c.tls.CA)
	if err != nil {
		return err
	}
	pair, err := tlsconfig.LoadPair(c.tls.Client.CertFile, c.tls.Client.KeyFile)
	if err != nil {
		return err
	}
	c.clientTLS = tlsconfig.ClientConfig(roots, nil)
	c.clientTLS.Certificates = []tls.Certificate{*pair}
	return nil
}

// TLS returns the cluster's certificates.
func (c *Cluster) TLS() TLS { return c.tls }

// ClientTLS is the TLS configuration of the client host: it verifies the
// hosts with the cluster's CA and presents the client certificate.
func (c *Cluster) ClientTLS() *tls.Config { return c.clientTLS.Clone() }

// tlsArgs are the TLS flags of the kinbridge process on host.
func (c *Cluster) tlsArgs(host string) []string {
	p := c.tls.hosts[host]
	return []string{"--tls-cert", p.CertFile, "--tls-key", p.KeyFile, "--tls-ca", c.tls.CA, "--tls-client-ca", c.tls.CA}
}

// ClientEnv is the environment that makes curl (CURL_CA_BUNDLE) and the
// kinbridge CLI (KINBRIDGE_TLS_*) on the client host trust the cluster's
// CA and present the client certificate.
func (c *Cluster) ClientEnv() []string {
	return []string{"CURL_CA_BUNDLE=" + c.tls.CA, "KINBRIDGE_TLS_CA=" + c.tls.CA,
		"KINBRIDGE_TLS_CERT=" + c.tls.Client.CertFile, "KINBRIDGE_TLS_KEY=" + c.tls.Client.KeyFile}
}

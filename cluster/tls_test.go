//go:build cluster

package cluster

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
)

// tlsEverywhere checks that the cluster's traffic is encrypted and its
// services admit only callers with a certificate of the cluster's CA: on
// every service host a gRPC call with the client certificate is served,
// and one in plaintext, one without a client certificate and one with a
// certificate of another CA are refused; every gateway answers https and
// gives plain http no service; every metrics port serves https. (The
// journeys, passing, show the gateways and services call each other over
// mutual TLS: the services accept nothing else.)
func tlsEverywhere(t *testing.T, ctx context.Context, c *Cluster, a *api) {
	roots, err := tlsconfig.LoadPool(c.TLS().CA)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testenv.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Issue("stranger", c.IP("client"))
	if err != nil {
		t.Fatal(err)
	}
	strangerPair, err := tlsconfig.LoadPair(stranger.CertFile, stranger.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]credentials.TransportCredentials{
		"in plaintext":                     insecure.NewCredentials(),
		"without a client certificate":     credentials.NewTLS(&tls.Config{RootCAs: roots}),
		"with a certificate of another CA": credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{*strangerPair}}),
	}
	call := func(addr string, creds credentials.TransportCredentials) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.Health(cctx, addr, creds)
	}
	services := map[string]string{"progress": portProgress, "media": portMedia, "notification": portNotification}
	for _, host := range appHosts() {
		role := strings.TrimRight(host, "12")
		port, ok := services[role]
		if !ok {
			continue
		}
		addr := c.Addr(host, port)
		if err := call(addr, nil); err != nil {
			t.Errorf("%s (%s) over mutual TLS with the client certificate: %v", host, addr, err)
			continue
		}
		for how, creds := range refused {
			if err := call(addr, creds); err == nil {
				t.Errorf("%s (%s) served a gRPC call %s", host, addr, how)
			}
		}
	}

	for _, gw := range c.GatewayURLs() {
		a.must(ctx, gw, "GET", "/v1/children", a.admin, nil)
		plain := "http://" + strings.TrimPrefix(gw, "https://")
		code, out := a.call(ctx, plain, "GET", "/v1/children", a.admin, nil)
		// Go's TLS server answers a plain HTTP request 400 without
		// serving it.
		if code != 0 && code != http.StatusBadRequest {
			t.Errorf("plain http to %s: %d %v", plain, code, out)
		}
	}
	for _, host := range appHosts() {
		metrics := "https://" + c.Addr(host, portMetrics) + "/metrics"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, metrics, nil)
		resp, err := a.http.Do(req)
		if err != nil {
			t.Errorf("metrics of %s over https: %v", host, err)
			continue
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "kinbridge_tls_reload_failures_total") {
			t.Errorf("metrics of %s over https: %s, without kinbridge_tls_reload_failures_total", host, resp.Status)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d app hosts serve TLS with the cluster's certificates; the services refuse plaintext, callers without a "+
		"client certificate and certificates of another CA; the gateways give plain http no service", len(appHosts()))
}

package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/client"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// tokenEcho answers GetChild with the bearer token it was called with as
// the child's display name.
type tokenEcho struct {
	progressv1.UnimplementedProgressServiceServer
}

func (tokenEcho) GetChild(ctx context.Context, req *progressv1.GetChildRequest) (*progressv1.Child, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get("authorization")
	if len(auth) != 1 {
		return nil, status.Errorf(codes.Unauthenticated, "%d authorization headers", len(auth))
	}
	return &progressv1.Child{Name: req.GetName(), DisplayName: auth[0]}, nil
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kinbridge test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTokenOverTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	progressv1.RegisterProgressServiceServer(srv, tokenEcho{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	c, err := client.New(lis.Addr().String(), client.WithToken("Bearer  secret "), client.WithTLS(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	child, err := c.Progress().GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/abc"})
	if err != nil {
		t.Fatal(err)
	}
	if child.GetDisplayName() != "Bearer secret" {
		t.Fatalf("the server saw %q", child.GetDisplayName())
	}

	// A plaintext client does not get through to a TLS server.
	plain, err := client.New(lis.Addr().String(), client.WithToken("secret"), client.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Progress().GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/abc"}); status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a plaintext call to a TLS server: %v", err)
	}
}

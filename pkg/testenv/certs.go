package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certificates for tests of TLS and mutual TLS: a throwaway CA writes its
// certificate and the pairs it issues as PEM files into a directory, as an
// operator would hand them to `kinbridge serve` (--tls-ca, --tls-cert,
// --tls-key). Takes a directory, not only a *testing.T, so that harnesses
// that are no test (the cluster) can make theirs.

// CA is a certificate authority made for a test.
type CA struct {
	// CertFile is the CA's certificate (PEM): what --tls-ca and
	// --tls-client-ca take.
	CertFile string
	dir      string
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
}

// Pair is a certificate and its key, as PEM files.
type Pair struct {
	CertFile, KeyFile string
	Serial            *big.Int
}

// Certs are a CA and one pair it issued.
type Certs struct {
	CA string // the CA's certificate
	Pair
}

// NewCA makes a CA whose certificate it writes to dir/ca.pem.
func NewCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Kinbridge test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{CertFile: filepath.Join(dir, "ca.pem"), dir: dir, cert: cert, key: key}
	if err := writePEM(ca.CertFile, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	return ca, nil
}

// MustCA is [NewCA] in t.TempDir(), failing t on error.
func MustCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Issue writes a pair named name (dir/name.pem, dir/name-key.pem) valid
// for 127.0.0.1, ::1, localhost and hosts (IP addresses or DNS names), for
// serving and for presenting as a client certificate, as one Kinbridge
// process does both.
func (ca *CA) Issue(name string, hosts ...string) (Pair, error) {
	return ca.issue(name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), hosts)
}

// IssueExpired is [CA.Issue] for a certificate whose validity has ended.
func (ca *CA) IssueExpired(name string, hosts ...string) (Pair, error) {
	return ca.issue(name, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), hosts)
}

// MustIssue is [CA.Issue], failing t on error.
func (ca *CA) MustIssue(t testing.TB, name string, hosts ...string) Pair {
	t.Helper()
	p, err := ca.Issue(name, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (ca *CA) issue(name string, notBefore, notAfter time.Time, hosts []string) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return Pair{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	p := Pair{CertFile: filepath.Join(ca.dir, name+".pem"), KeyFile: filepath.Join(ca.dir, name+"-key.pem"), Serial: tmpl.SerialNumber}
	if err := writePEM(p.CertFile, "CERTIFICATE", der); err != nil {
		return Pair{}, err
	}
	if err := writePEM(p.KeyFile, "PRIVATE KEY", keyDER); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// WriteCerts makes a CA in dir and issues it one pair, "node", for hosts
// (and loopback).
func WriteCerts(dir string, hosts []string) (Certs, error) {
	ca, err := NewCA(dir)
	if err != nil {
		return Certs{}, err
	}
	p, err := ca.Issue("node", hosts...)
	if err != nil {
		return Certs{}, err
	}
	return Certs{CA: ca.CertFile, Pair: p}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("testenv: no randomness: %v", err)) // crypto/rand does not fail on supported systems
	}
	return n.Add(n, big.NewInt(1))
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

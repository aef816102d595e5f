package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback host:port nothing listens on: a port just
// freed, for a test that needs a refused connection or starts something
// there later.
func FreeAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

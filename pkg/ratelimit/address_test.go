package ratelimit_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

func TestClientAddress(t *testing.T) {
	trusted, err := ratelimit.ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    ratelimit.TrustedProxies
		want       string
	}{
		{"no proxies trusted: the peer, whatever the header says", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"an untrusted peer's header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, trusted, "203.0.113.9"},
		{"a trusted proxy's last hop", "10.1.2.3:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"spoofed entries left of the proxy's are not believed", "10.1.2.3:5000", []string{"1.1.1.1, 8.8.8.8, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"trusted hops are skipped, right to left", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1, 192.0.2.7", "10.9.9.9"}, trusted, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.2.3:5000", []string{"10.0.0.1, 10.0.0.2"}, trusted, "10.0.0.1"},
		{"no header: the proxy itself", "10.1.2.3:5000", nil, trusted, "10.1.2.3"},
		{"garbage ends the walk at the proxy that passed it", "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip"}, trusted, "10.1.2.3"},
		{"hops with ports", "10.1.2.3:5000", []string{"[2001:db8:2::5]:443"}, trusted, "2001:db8:2::5"},
		{"IPv6 peer trusted by range", "[2001:db8:1::1]:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ratelimit.ClientAddress(r, tc.trusted); got.String() != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxiesRefusesNonsense(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0"} {
		if _, err := ratelimit.ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ff::1":   "2001:db8:1:2::/64",
	} {
		if got := ratelimit.AddressKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("AddressKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := ratelimit.AddressKey(netip.Addr{}); got != "unknown" {
		t.Errorf("AddressKey(invalid) = %s", got)
	}
}

// FuzzClientAddress: whatever the header holds, the answer is the peer or
// one of the header's entries, and never a panic.
func FuzzClientAddress(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.1", "10.1.2.3:1")
	f.Add("[::1]:80,,, ,", "[2001:db8:1::1]:1")
	f.Add("fe80::1%eth0", "192.0.2.7:9")
	trusted, _ := ratelimit.ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"})
	f.Fuzz(func(t *testing.T, xff, peer string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := ratelimit.ClientAddress(r, trusted)
		if !got.IsValid() {
			return // the peer is no IP address
		}
		peer = strings.TrimSpace(peer)
		if got.String() == peer {
			return
		}
		p, err := netip.ParseAddrPort(peer)
		if err == nil && p.Addr().Unmap() == got {
			return
		}
		if a, err := netip.ParseAddr(peer); err == nil && a.Unmap().WithZone("") == got {
			return
		}
		if !strings.Contains(xff, got.String()) && !strings.Contains(xff, got.StringExpanded()) {
			// An entry may spell the address another way (mapped, zoned,
			// with a port): it must still be one of the entries.
			found := false
			for e := range strings.SplitSeq(xff, ",") {
				e = strings.TrimSpace(e)
				if a, err := netip.ParseAddr(e); err == nil && a.Unmap().WithZone("") == got {
					found = true
				}
				if ap, err := netip.ParseAddrPort(e); err == nil && ap.Addr().Unmap().WithZone("") == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("ClientAddress = %s, neither the peer %q nor an entry of %q", got, peer, xff)
			}
		}
	})
}

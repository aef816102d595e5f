package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the proxies whose X-Forwarded-For is believed.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads a list of CIDR ranges ("10.0.0.0/8") and
// single addresses ("192.0.2.7", "::1").
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR range", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t TrustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddress returns the address r comes from: the connection's peer,
// unless the peer is a trusted proxy. Then X-Forwarded-For is read from the
// right, where the nearest proxy appended what it saw, hop by hop while
// the hop is a trusted proxy too: the first address that is not one is the
// client. Entries left of it are whatever the client sent, and are never
// believed; an entry that is not an address ends the walk at the proxy that
// passed it on. The result is invalid only when the peer is not an IP
// address (a Unix socket).
func ClientAddress(r *http.Request, trusted TrustedProxies) netip.Addr {
	client := parseHop(r.RemoteAddr)
	if len(trusted) == 0 || !trusted.contains(client) {
		return client
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && trusted.contains(client); i-- {
		hop := parseHop(hops[i])
		if !hop.IsValid() {
			break
		}
		client = hop
	}
	return client
}

// parseHop reads "192.0.2.1", "2001:db8::1", or either with a port
// ("192.0.2.1:1234", "[2001:db8::1]:1234"); an IPv4-mapped IPv6 address
// is its IPv4 address. It returns the zero Addr for anything else.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("")
}

// AddressKey is the bucket of a client address: an IPv4 address alone, an
// IPv6 address by its /64, since one host or home usually holds a whole /64
// and could otherwise take a fresh bucket per request.
func AddressKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	default:
		p, _ := a.Prefix(64)
		return p.String()
	}
}

package apiclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlockedAddress is returned when a connection would go to a link-local or cloud metadata
// address: credentials are never sent there, whatever a base URL or DNS answer says.
var ErrBlockedAddress = errors.New("address is link-local or a cloud metadata endpoint")

// metadataAddrs are cloud metadata endpoints outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
}

// Blocked reports whether ip is an address credentials must never go to: link-local
// (169.254.0.0/16, which holds 169.254.169.254, and fe80::/10), unspecified, multicast, or a
// known metadata endpoint.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return true
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return true
		}
	}
	return false
}

// guardControl runs on every connection attempt with the resolved address, so a DNS name
// that resolves (or rebinds) to a blocked address is refused too.
func guardControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("cannot parse dialed address %q: %w", host, err)
	}
	if Blocked(ip) {
		return fmt.Errorf("refusing to connect to %s: %w", ip, ErrBlockedAddress)
	}
	return nil
}

// GuardedHTTPClient returns an HTTP client for provider calls whose dialer refuses blocked
// addresses after DNS resolution. It does not follow redirects (the provider clients refuse
// them too). Proxies from the environment are not used: a proxy would dial for us.
func GuardedHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guardControl}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	return &http.Client{Transport: t}
}

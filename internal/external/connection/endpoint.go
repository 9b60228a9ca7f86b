package connection

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
)

// EndpointPolicy says where the controller may send credentials. It is checked before a
// client is built, so a refused endpoint sends no request; the dialer
// (apiclient.GuardedHTTPClient) checks again after DNS resolution.
type EndpointPolicy struct {
	// AllowInsecureHTTP accepts plain http base URLs (manager flag --allow-insecure-http; the
	// demo and tests use it on loopback). Without it only https is accepted.
	AllowInsecureHTTP bool
	// AllowedHosts lists, per provider, the hosts a base URL may name (exact, case-insensitive;
	// "*.example.com" matches subdomains). Empty means any host.
	AllowedHosts map[Provider][]string
}

// Check refuses a base URL the policy does not allow, with an error carrying the outcome.
func (p EndpointPolicy) Check(provider Provider, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return stall(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf("base URL %q is not an absolute URL", raw))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowInsecureHTTP:
	case u.Scheme == "http":
		return stall(accessv1alpha1.ReasonEndpointRefused, fmt.Sprintf(
			"base URL %q uses plain http: credentials are sent only over https (a manager started with --allow-insecure-http accepts http, for local tests)", raw))
	default:
		return stall(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf("base URL %q must use https", raw))
	}
	// What the provider clients refuse of a URL is the spec's fault (InvalidSpec), checked here
	// so that the client constructors only refuse a Secret's content.
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return stall(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf("base URL %q must not carry credentials, a query or a fragment", raw))
	}
	if provider == OnlyOffice && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/api/2.0") {
		return stall(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf("base URL %q must be the portal root, without /api/2.0", raw))
	}
	host := strings.ToLower(u.Hostname())
	if ip, err := netip.ParseAddr(host); err == nil && apiclient.Blocked(ip) {
		return stall(accessv1alpha1.ReasonEndpointRefused, fmt.Sprintf(
			"base URL %q names a link-local or cloud metadata address: credentials are never sent there", raw))
	}
	if allowed := p.AllowedHosts[provider]; len(allowed) > 0 && !hostAllowed(host, allowed) {
		return stall(accessv1alpha1.ReasonEndpointRefused, fmt.Sprintf(
			"base URL host %q is not in the manager's allow-list for %s (%s): ask the administrator to add it with --%s-allowed-hosts",
			host, provider, strings.Join(allowed, ", "), provider))
	}
	return nil
}

func hostAllowed(host string, allowed []string) bool {
	host = strings.TrimSuffix(host, ".")
	return slices.ContainsFunc(allowed, func(a string) bool {
		a = strings.ToLower(strings.TrimSpace(a))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			return strings.HasSuffix(host, "."+suffix)
		}
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		return host == a
	})
}

package connection

import (
	"strings"
	"testing"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

func TestEndpointPolicy(t *testing.T) {
	strict := EndpointPolicy{AllowedHosts: map[Provider][]string{HostUp: {"cloud.hostup.se"}}}
	dev := EndpointPolicy{AllowInsecureHTTP: true}
	cases := []struct {
		name     string
		policy   EndpointPolicy
		provider Provider
		url      string
		reason   string // "" means allowed
		says     string
	}{
		{"public https host", strict, HostUp, "https://cloud.hostup.se/api", "", ""},
		{"plain http without the flag", strict, OnlyOffice, "http://portal.example.com", accessv1alpha1.ReasonEndpointRefused, "--allow-insecure-http"},
		{"plain http with the flag", dev, OnlyOffice, "http://127.0.0.1:8080", "", ""},
		{"metadata address", dev, OnlyOffice, "http://169.254.169.254/latest", accessv1alpha1.ReasonEndpointRefused, "metadata"},
		{"metadata over https", strict, OnlyOffice, "https://169.254.169.254", accessv1alpha1.ReasonEndpointRefused, "metadata"},
		{"IPv6 link-local", dev, OnlyOffice, "http://[fe80::1]/", accessv1alpha1.ReasonEndpointRefused, "link-local"},
		{"host outside the allow-list", strict, HostUp, "https://evil.example.com/api", accessv1alpha1.ReasonEndpointRefused, "--hostup-allowed-hosts"},
		{"wildcard allow-list", EndpointPolicy{AllowedHosts: map[Provider][]string{OnlyOffice: {"*.onlyoffice.example"}}}, OnlyOffice, "https://crm.onlyoffice.example", "", ""},
		{"wildcard does not match the bare domain's look-alike", EndpointPolicy{AllowedHosts: map[Provider][]string{OnlyOffice: {"*.onlyoffice.example"}}}, OnlyOffice, "https://evilonlyoffice.example", accessv1alpha1.ReasonEndpointRefused, "allow-list"},
		{"ftp", dev, OnlyOffice, "ftp://x", accessv1alpha1.ReasonInvalidSpec, "https"},
		{"ONLYOFFICE API path instead of the portal root", strict, OnlyOffice, "https://office.example.com/api/2.0/", accessv1alpha1.ReasonInvalidSpec, "portal root"},
		{"credentials in the URL", strict, HostUp, "https://user:pw@cloud.hostup.se/api", accessv1alpha1.ReasonInvalidSpec, "credentials"},
		{"query", strict, OnlyOffice, "https://office.example.com/?x=1", accessv1alpha1.ReasonInvalidSpec, "query"},
	}
	for _, tc := range cases {
		err := tc.policy.Check(tc.provider, tc.url)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: allowed, want %s", tc.name, tc.reason)
			continue
		}
		o := reconciler.Classify(err)
		if o.Reason != tc.reason || o.Kind != reconciler.KindStalled || !strings.Contains(o.Message, tc.says) {
			t.Errorf("%s: %s %q, want stalled %s mentioning %q", tc.name, o.Reason, o.Message, tc.reason, tc.says)
		}
	}
}

package hostup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The decoders below turn HostUp's v1 success bodies into this package's types. They are
// strict where a wrong reading could make the controller write: a missing required field is
// an error, never a zero value. Each returns either a complete value or an error.

// errEnvelopeFailure is a 2xx body whose envelope says success:false.
var errEnvelopeFailure = errors.New("the response envelope says success:false")

// addContactFailure is an HTTP 200 answer to POST /teams with data.success false.
type addContactFailure struct{ msg string }

func (f *addContactFailure) Error() string { return f.msg }

// flexString accepts a JSON string, a number (kept as its literal text) or null ("").
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %.20s", b)
		}
		*s = flexString(n.String())
	}
	return nil
}

type envelope struct {
	Success   *bool           `json:"success"`
	RequestID flexString      `json:"requestId"`
	Data      json.RawMessage `json:"data"`
}

// decodeEnvelope returns the data object and requestId of a v1 success body.
func decodeEnvelope(body []byte) (json.RawMessage, string, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, "", err
	}
	rid := sanitize(string(env.RequestID), 100)
	if env.Success != nil && !*env.Success {
		return nil, rid, errEnvelopeFailure
	}
	if !isObject(env.Data) {
		return nil, rid, errors.New("no data object in the response")
	}
	return env.Data, rid, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// wireResource is a permission item: an object {id,name,type,category,hasAccess} or, as the
// older GET page documents, a bare string.
type wireResource struct{ Resource }

// UnmarshalJSON maps a bare string to a granted item (the string array can only list what the
// contact has): a numeric string is taken as the id, anything else as the name.
func (r *wireResource) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return errors.New("empty resource string")
		}
		r.Resource = Resource{HasAccess: true, Bare: true}
		if isDigits(s) {
			r.ID = s
		} else {
			r.Name = s
		}
		return nil
	}
	var w struct {
		ID        flexString `json:"id"`
		Name      flexString `json:"name"`
		Type      flexString `json:"type"`
		Category  flexString `json:"category"`
		HasAccess *bool      `json:"hasAccess"`
	}
	if !isObject(b) {
		return fmt.Errorf("want a resource object or string, got %.20s", b)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.ID == "" {
		return errors.New("resource without an id")
	}
	r.Resource = Resource{ID: string(w.ID), Name: string(w.Name), Type: string(w.Type), Category: string(w.Category)}
	if w.HasAccess != nil {
		r.HasAccess = *w.HasAccess
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type wirePermissions struct {
	Services               *[]wireResource `json:"services"`
	Domains                *[]wireResource `json:"domains"`
	DNSZones               *[]wireResource `json:"dnsZones"`
	CanViewInvoices        *bool           `json:"canViewInvoices"`
	CanReceiveInvoices     *bool           `json:"canReceiveInvoices"`
	CanOpenTickets         *bool           `json:"canOpenTickets"`
	CanViewTickets         *bool           `json:"canViewTickets"`
	CanReceiveTicketEmails *bool           `json:"canReceiveTicketEmails"`
	CanCloseTickets        *bool           `json:"canCloseTickets"`
	CanPlaceOrders         *bool           `json:"canPlaceOrders"`
	AccessAllVps           *bool           `json:"accessAllVps"`
	AccessAllHosting       *bool           `json:"accessAllHosting"`
	AccessAllDomains       *bool           `json:"accessAllDomains"`
}

// toPermissions converts; strict requires every field to be present (contact permissions are
// replaced as a whole, so a field we did not see must not be guessed).
func (w *wirePermissions) toPermissions(strict bool) (Permissions, error) {
	var p Permissions
	lists := []struct {
		name string
		in   *[]wireResource
		out  *[]Resource
	}{
		{"services", w.Services, &p.Services},
		{"domains", w.Domains, &p.Domains},
		{"dnsZones", w.DNSZones, &p.DNSZones},
	}
	for _, l := range lists {
		if l.in == nil {
			if strict {
				return Permissions{}, fmt.Errorf("field %s is missing", l.name)
			}
			*l.out = []Resource{}
			continue
		}
		*l.out = make([]Resource, len(*l.in))
		for i, r := range *l.in {
			(*l.out)[i] = r.Resource
		}
	}
	flags := []struct {
		name string
		in   *bool
		out  *bool
	}{
		{"canViewInvoices", w.CanViewInvoices, &p.CanViewInvoices},
		{"canReceiveInvoices", w.CanReceiveInvoices, &p.CanReceiveInvoices},
		{"canOpenTickets", w.CanOpenTickets, &p.CanOpenTickets},
		{"canViewTickets", w.CanViewTickets, &p.CanViewTickets},
		{"canReceiveTicketEmails", w.CanReceiveTicketEmails, &p.CanReceiveTicketEmails},
		{"canCloseTickets", w.CanCloseTickets, &p.CanCloseTickets},
		{"canPlaceOrders", w.CanPlaceOrders, &p.CanPlaceOrders},
		{"accessAllVps", w.AccessAllVps, &p.AccessAllVps},
		{"accessAllHosting", w.AccessAllHosting, &p.AccessAllHosting},
		{"accessAllDomains", w.AccessAllDomains, &p.AccessAllDomains},
	}
	for _, f := range flags {
		if f.in == nil {
			if strict {
				return Permissions{}, fmt.Errorf("field %s is missing", f.name)
			}
			continue
		}
		*f.out = *f.in
	}
	return p, nil
}

// decodePermissions decodes the data of GET /contacts/{id}/permissions.
func decodePermissions(data json.RawMessage) (*Permissions, error) {
	var w wirePermissions
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	p, err := w.toPermissions(true)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeGrantPermissions decodes the data of GET /delegated-access/{id}/permissions. The page
// was only partly visible, so only grant.id is required.
func decodeGrantPermissions(data json.RawMessage) (*GrantPermissions, error) {
	var w struct {
		wirePermissions
		CanRequestEpp *bool `json:"canRequestEpp"`
		Grant         *struct {
			ID              flexString `json:"id"`
			GranteeClientID flexString `json:"granteeClientId"`
			Label           flexString `json:"label"`
		} `json:"grant"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.Grant == nil || w.Grant.ID == "" {
		return nil, errors.New("field grant.id is missing")
	}
	p, err := w.toPermissions(false)
	if err != nil {
		return nil, err
	}
	gp := &GrantPermissions{
		Permissions:     p,
		GrantID:         string(w.Grant.ID),
		GranteeClientID: string(w.Grant.GranteeClientID),
		Label:           string(w.Grant.Label),
	}
	if w.CanRequestEpp != nil {
		gp.CanRequestEpp = *w.CanRequestEpp
	}
	return gp, nil
}

// decodeCreateContact decodes the data of POST /teams: success needs data.success true and a
// positive data.contact_id. data.success false is an *addContactFailure.
func decodeCreateContact(data json.RawMessage) (int64, error) {
	var w struct {
		Success   *bool      `json:"success"`
		ContactID flexString `json:"contact_id"`
		Error     flexString `json:"error"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return 0, err
	}
	// Seed 002 does not mark data.success as required: a missing success with a valid
	// contact_id is a success (documented: the id; inferred: success may be left out).
	if w.Success == nil && len(w.ContactID) == 0 {
		return 0, errors.New("neither data.success nor data.contact_id is present")
	}
	if w.Success != nil && !*w.Success {
		msg := sanitize(string(w.Error), 500)
		if msg == "" {
			msg = "HostUp answered data.success false without a reason"
		}
		return 0, &addContactFailure{msg: msg}
	}
	id, err := strconv.ParseInt(string(w.ContactID), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("data.contact_id %q is not a positive integer", sanitize(string(w.ContactID), 40))
	}
	return id, nil
}

// decodeSessionInfo decodes the data of GET /session-info.
func decodeSessionInfo(data json.RawMessage) (*SessionInfo, error) {
	var w struct {
		Authenticated *bool      `json:"authenticated"`
		IsContact     *bool      `json:"isContact"`
		CanAccessCdn  *bool      `json:"canAccessCdn"`
		AuthType      flexString `json:"authType"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.Authenticated == nil || w.IsContact == nil {
		return nil, errors.New("field authenticated or isContact is missing")
	}
	si := &SessionInfo{Authenticated: *w.Authenticated, IsContact: *w.IsContact, AuthType: string(w.AuthType)}
	if w.CanAccessCdn != nil {
		si.CanAccessCdn = *w.CanAccessCdn
	}
	return si, nil
}

type wireGrant struct {
	ID               flexString `json:"id"`
	GrantorClientID  flexString `json:"grantor_client_id"`
	GranteeClientID  flexString `json:"grantee_client_id"`
	GranteeCompany   flexString `json:"grantee_company"`
	GranteeEmail     flexString `json:"grantee_email"`
	GranteeName      flexString `json:"grantee_name"`
	GrantorCompany   flexString `json:"grantor_company"`
	GrantorName      flexString `json:"grantor_name"`
	InviteEmail      flexString `json:"invite_email"`
	InviteToken      flexString `json:"invite_token"`
	Label            flexString `json:"label"`
	Status           flexString `json:"status"`
	InviteExpiresAt  flexString `json:"invite_expires_at"`
	InviteAcceptedAt flexString `json:"invite_accepted_at"`
	RevokedAt        flexString `json:"revoked_at"`
	CreatedAt        flexString `json:"created_at"`
	UpdatedAt        flexString `json:"updated_at"`
}

func (w *wireGrant) toGrant() (Grant, error) {
	if w.ID == "" {
		return Grant{}, errors.New("grant without an id")
	}
	g := Grant{
		ID:              string(w.ID),
		GrantorClientID: string(w.GrantorClientID),
		GranteeClientID: string(w.GranteeClientID),
		GranteeCompany:  string(w.GranteeCompany),
		GranteeEmail:    string(w.GranteeEmail),
		GranteeName:     string(w.GranteeName),
		GrantorCompany:  string(w.GrantorCompany),
		GrantorName:     string(w.GrantorName),
		InviteEmail:     string(w.InviteEmail),
		InviteToken:     string(w.InviteToken),
		Label:           string(w.Label),
		Status:          string(w.Status),
	}
	times := []struct {
		name string
		in   flexString
		out  **time.Time
	}{
		{"invite_expires_at", w.InviteExpiresAt, &g.InviteExpiresAt},
		{"invite_accepted_at", w.InviteAcceptedAt, &g.InviteAcceptedAt},
		{"revoked_at", w.RevokedAt, &g.RevokedAt},
	}
	for _, t := range times {
		v, err := parseTime(string(t.in))
		if err != nil {
			return Grant{}, fmt.Errorf("grant %s: %s: %w", g.ID, t.name, err)
		}
		*t.out = v
	}
	for _, t := range []struct {
		name string
		in   flexString
		out  *time.Time
	}{{"created_at", w.CreatedAt, &g.CreatedAt}, {"updated_at", w.UpdatedAt, &g.UpdatedAt}} {
		v, err := parseTime(string(t.in))
		if err != nil {
			return Grant{}, fmt.Errorf("grant %s: %s: %w", g.ID, t.name, err)
		}
		if v != nil {
			*t.out = *v
		}
	}
	return g, nil
}

// decodeGrants decodes the data of GET /delegated-access. Both lists are required: a missing
// list must not read as "no grants" (the controller would invite again).
func decodeGrants(data json.RawMessage) (byMe, toMe []Grant, err error) {
	var w struct {
		ByMe *[]wireGrant `json:"grantedByMe"`
		ToMe *[]wireGrant `json:"grantedToMe"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, nil, err
	}
	if w.ByMe == nil || w.ToMe == nil {
		return nil, nil, errors.New("field grantedByMe or grantedToMe is missing")
	}
	conv := func(in []wireGrant) ([]Grant, error) {
		out := make([]Grant, 0, len(in))
		for i := range in {
			g, err := in[i].toGrant()
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	}
	if byMe, err = conv(*w.ByMe); err != nil {
		return nil, nil, err
	}
	if toMe, err = conv(*w.ToMe); err != nil {
		return nil, nil, err
	}
	return byMe, toMe, nil
}

// decodeInvite decodes the (camelCase) data of POST /delegated-access.
func decodeInvite(data json.RawMessage) (*Invite, error) {
	var w struct {
		ID              flexString `json:"id"`
		InviteToken     flexString `json:"inviteToken"`
		InviteExpiresAt flexString `json:"inviteExpiresAt"`
		CreatedAt       flexString `json:"createdAt"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.ID == "" {
		return nil, errors.New("field id is missing")
	}
	exp, err := parseTime(string(w.InviteExpiresAt))
	if err != nil || exp == nil {
		return nil, fmt.Errorf("field inviteExpiresAt is missing or invalid")
	}
	created, err := parseTime(string(w.CreatedAt))
	if err != nil || created == nil {
		return nil, fmt.Errorf("field createdAt is missing or invalid")
	}
	return &Invite{ID: string(w.ID), InviteToken: string(w.InviteToken), InviteExpiresAt: *exp, CreatedAt: *created}, nil
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"}

// parseTime reads an ISO-8601 timestamp ("" is nil). Timestamps without a zone are UTC.
func parseTime(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return &t, nil
		}
	}
	return nil, fmt.Errorf("unreadable timestamp %q", sanitize(s, 40))
}

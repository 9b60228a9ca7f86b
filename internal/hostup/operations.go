package hostup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/contactsync/contactsync/internal/apiclient"
)

// SessionInfo returns who the key belongs to (GET /session-info).
func (c *Client) SessionInfo(ctx context.Context) (*SessionInfo, error) {
	op := opSessionInfo
	data, meta, err := c.call(ctx, op, http.MethodGet, "/session-info", nil, nil)
	if err != nil {
		return nil, err
	}
	si, err := decodeSessionInfo(data)
	if err != nil {
		return nil, meta.decodeFailed(op, err)
	}
	return si, nil
}

type wireNewContact struct {
	Type        string `json:"type"`
	FirstName   string `json:"firstname"`
	LastName    string `json:"lastname"`
	Email       string `json:"email"`
	Password    string `json:"password"`
	PhoneNumber string `json:"phonenumber"`
	Address1    string `json:"address1"`
	City        string `json:"city"`
	Country     string `json:"country"`
	Postcode    string `json:"postcode"`
}

// CreateContact adds a contact person (POST /teams, type contact) and returns its id.
//
// HostUp answers HTTP 200 even when its billing system refused the contact; that is an *Error
// with Code CodeAddContactFailed. HostUp documents no duplicate-e-mail check and no list of
// contacts: after a network error or a DecodeError the contact may or may not exist, so the
// caller must not blindly create again.
func (c *Client) CreateContact(ctx context.Context, nc NewContact) (int64, error) {
	op := opCreateContact
	for _, f := range []struct{ name, v string }{
		{"first name", nc.FirstName}, {"last name", nc.LastName}, {"e-mail", nc.Email}, {"password", nc.Password},
	} {
		if f.v == "" {
			return 0, apiclient.NotSent(fmt.Errorf("cannot %s: %s is empty", op.desc, f.name))
		}
	}
	c.redactor.Add(nc.Password)
	in := wireNewContact{
		Type: "contact", FirstName: nc.FirstName, LastName: nc.LastName, Email: nc.Email, Password: nc.Password,
		PhoneNumber: nc.PhoneNumber, Address1: nc.Address1, City: nc.City, Country: nc.Country, Postcode: nc.Postcode,
	}
	data, meta, err := c.call(ctx, op, http.MethodPost, "/teams", nil, in)
	if err != nil {
		return 0, err
	}
	id, err := decodeCreateContact(data)
	var fail *addContactFailure
	if errors.As(err, &fail) {
		return 0, c.redact(&Error{Op: op.desc, HTTPStatus: meta.status, RequestID: meta.requestID, Code: CodeAddContactFailed, Title: "Failed to add contact", Message: fail.msg})
	}
	if err != nil {
		return 0, meta.decodeFailed(op, err)
	}
	return id, nil
}

// DeleteContact removes a contact person (DELETE /teams?id=&type=contact).
func (c *Client) DeleteContact(ctx context.Context, id int64) error {
	op := opDeleteContact
	if id <= 0 {
		return fmt.Errorf("cannot %s: id %d is not positive", op.desc, id)
	}
	q := url.Values{"id": {strconv.FormatInt(id, 10)}, "type": {"contact"}}
	_, _, err := c.call(ctx, op, http.MethodDelete, "/teams", q, nil)
	return err
}

// GetPermissions returns a contact's permissions with the account's whole catalogue
// (GET /contacts/{id}/permissions). HostUp's older doc types domains and dnsZones as string
// arrays: a bare numeric string is read as a granted item's ID, any other string as a granted
// item's Name.
func (c *Client) GetPermissions(ctx context.Context, contactID int64) (*Permissions, error) {
	op := opGetPermissions
	if contactID <= 0 {
		return nil, fmt.Errorf("cannot %s: contact id %d is not positive", op.desc, contactID)
	}
	data, meta, err := c.call(ctx, op, http.MethodGet, "/contacts/"+strconv.FormatInt(contactID, 10)+"/permissions", nil, nil)
	if err != nil {
		return nil, err
	}
	p, err := decodePermissions(data)
	if err != nil {
		return nil, meta.decodeFailed(op, err)
	}
	return p, nil
}

type wirePermItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	HasAccess bool   `json:"hasAccess"`
}

type wireSetPermissions struct {
	Services               []wirePermItem `json:"services"`
	Domains                []wirePermItem `json:"domains"`
	DNSZones               []wirePermItem `json:"dnsZones"`
	CanViewInvoices        bool           `json:"canViewInvoices"`
	CanReceiveInvoices     bool           `json:"canReceiveInvoices"`
	CanOpenTickets         bool           `json:"canOpenTickets"`
	CanViewTickets         bool           `json:"canViewTickets"`
	CanReceiveTicketEmails bool           `json:"canReceiveTicketEmails"`
	CanCloseTickets        bool           `json:"canCloseTickets"`
	AccessAllVps           bool           `json:"accessAllVps"`
	AccessAllHosting       bool           `json:"accessAllHosting"`
	AccessAllDomains       bool           `json:"accessAllDomains"`
	CanPlaceOrders         bool           `json:"canPlaceOrders"`
}

// SetPermissions replaces a contact's permissions (POST /contacts/{id}/permissions). Every
// field is sent; items are sent as given ({id,name,hasAccess}), so what is absent or has
// HasAccess false is denied.
func (c *Client) SetPermissions(ctx context.Context, contactID int64, p *Permissions) error {
	op := opSetPermissions
	if contactID <= 0 {
		return fmt.Errorf("cannot %s: contact id %d is not positive", op.desc, contactID)
	}
	if p == nil {
		return fmt.Errorf("cannot %s: no permissions given", op.desc)
	}
	items := func(kind string, rs []Resource) ([]wirePermItem, error) {
		out := make([]wirePermItem, 0, len(rs))
		for i, r := range rs {
			if r.ID == "" {
				return nil, fmt.Errorf("cannot %s: %s #%d (%q) has no id", op.desc, kind, i, r.Name)
			}
			out = append(out, wirePermItem{ID: r.ID, Name: r.Name, HasAccess: r.HasAccess})
		}
		return out, nil
	}
	in := wireSetPermissions{
		CanViewInvoices: p.CanViewInvoices, CanReceiveInvoices: p.CanReceiveInvoices,
		CanOpenTickets: p.CanOpenTickets, CanViewTickets: p.CanViewTickets,
		CanReceiveTicketEmails: p.CanReceiveTicketEmails, CanCloseTickets: p.CanCloseTickets,
		AccessAllVps: p.AccessAllVps, AccessAllHosting: p.AccessAllHosting, AccessAllDomains: p.AccessAllDomains,
		CanPlaceOrders: p.CanPlaceOrders,
	}
	var err error
	if in.Services, err = items("service", p.Services); err != nil {
		return err
	}
	if in.Domains, err = items("domain", p.Domains); err != nil {
		return err
	}
	if in.DNSZones, err = items("DNS zone", p.DNSZones); err != nil {
		return err
	}
	_, _, err = c.call(ctx, op, http.MethodPost, "/contacts/"+strconv.FormatInt(contactID, 10)+"/permissions", nil, in)
	return err
}

// ListGrants returns the delegated-access grants the account gave (byMe) and received (toMe)
// (GET /delegated-access). Grants carry InviteToken, a credential.
func (c *Client) ListGrants(ctx context.Context) (byMe []Grant, toMe []Grant, err error) {
	op := opListGrants
	data, meta, err := c.call(ctx, op, http.MethodGet, "/delegated-access", nil, nil)
	if err != nil {
		return nil, nil, err
	}
	byMe, toMe, err = decodeGrants(data)
	if err != nil {
		return nil, nil, meta.decodeFailed(op, err)
	}
	return byMe, toMe, nil
}

// CreateGrant invites email to manage the account (POST /delegated-access). label may be empty.
// HostUp selects no permissions here; the invite is pending until the person accepts it.
func (c *Client) CreateGrant(ctx context.Context, email, label string) (*Invite, error) {
	op := opCreateGrant
	if email == "" {
		return nil, apiclient.NotSent(fmt.Errorf("cannot %s: e-mail is empty", op.desc))
	}
	in := struct {
		Email string `json:"email"`
		Label string `json:"label,omitempty"`
	}{email, label}
	data, meta, err := c.call(ctx, op, http.MethodPost, "/delegated-access", nil, in)
	if err != nil {
		return nil, err
	}
	inv, err := decodeInvite(data)
	if err != nil {
		return nil, meta.decodeFailed(op, err)
	}
	c.redactor.Add(inv.InviteToken)
	return inv, nil
}

// GetGrantPermissions returns a grant's permissions (GET /delegated-access/{id}/permissions).
func (c *Client) GetGrantPermissions(ctx context.Context, grantID string) (*GrantPermissions, error) {
	op := opGetGrantPermissions
	if grantID == "" {
		return nil, fmt.Errorf("cannot %s: grant id is empty", op.desc)
	}
	data, meta, err := c.call(ctx, op, http.MethodGet, "/delegated-access/"+url.PathEscape(grantID)+"/permissions", nil, nil)
	if err != nil {
		return nil, err
	}
	gp, err := decodeGrantPermissions(data)
	if err != nil {
		return nil, meta.decodeFailed(op, err)
	}
	return gp, nil
}

// DeleteGrant calls DELETE /delegated-access/{id}. HostUp documents this path only as "switch
// back to own account" (400 "Not in a delegated access session" otherwise), not as a revoke;
// use it only where the account's API is known to revoke with it. Not part of API.
func (c *Client) DeleteGrant(ctx context.Context, grantID string) error {
	op := opDeleteGrant
	if grantID == "" {
		return fmt.Errorf("cannot %s: grant id is empty", op.desc)
	}
	_, _, err := c.call(ctx, op, http.MethodDelete, "/delegated-access/"+url.PathEscape(grantID), nil, nil)
	return err
}

package hostupfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/session-info", s.sessionInfo)
	m.HandleFunc("POST /api/teams", s.createContact)
	m.HandleFunc("DELETE /api/teams", s.deleteContact)
	m.HandleFunc("GET /api/contacts/{id}/permissions", s.getPermissions)
	m.HandleFunc("POST /api/contacts/{id}/permissions", s.setPermissions)
	m.HandleFunc("GET /api/delegated-access", s.listGrants)
	m.HandleFunc("POST /api/delegated-access", s.createGrant)
	m.HandleFunc("GET /api/delegated-access/{id}", s.lookupInvite)
	m.HandleFunc("POST /api/delegated-access/{id}", s.switchGrant)
	m.HandleFunc("DELETE /api/delegated-access/{id}", s.switchBack)
	m.HandleFunc("GET /api/delegated-access/{id}/permissions", s.grantPermissions)
	m.HandleFunc("/", s.notImplemented)
	s.mux = m
}

// notImplemented answers every route the fake does not model loudly, never with a 200.
func (s *Server) notImplemented(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusNotImplemented, fmt.Sprintf("hostupfake does not implement %s %s", r.Method, r.URL.Path))
}

func (s *Server) sessionInfo(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	si := s.session
	s.mu.Unlock()
	s.writeOK(w, http.StatusOK, map[string]any{
		"authenticated": si.Authenticated, "isContact": si.IsContact, "authType": si.AuthType, "canAccessCdn": si.CanAccessCdn,
	})
}

// decodeObject reads a JSON object body into raw fields.
func decodeObject(r *http.Request) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || raw == nil {
		return nil, fmt.Errorf("request body is not a JSON object")
	}
	return raw, nil
}

var contactFields = []string{"type", "firstname", "lastname", "email", "password", "phonenumber", "address1", "city", "country", "postcode"}

// createContact is POST /api/teams. Undocumented choices: every documented field must be
// present as a string (400 BAD_REQUEST otherwise) and firstname, lastname, email and password
// must be non-empty. A duplicate e-mail is NOT rejected (HostUp documents no check): a second
// contact with the same e-mail is created, which is the danger a controller must guard against.
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	raw, err := decodeObject(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v := map[string]string{}
	var missing []string
	for _, f := range contactFields {
		b, ok := raw[f]
		if !ok {
			missing = append(missing, f)
			continue
		}
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			s.writeError(w, http.StatusBadRequest, "Parameter "+f+" must be a string")
			return
		}
		v[f] = str
	}
	for _, f := range []string{"firstname", "lastname", "email", "password"} {
		if _, ok := raw[f]; ok && strings.TrimSpace(v[f]) == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		s.writeError(w, http.StatusBadRequest, "Missing required parameters: "+strings.Join(missing, ", "))
		return
	}
	if v["type"] != "contact" {
		s.writeError(w, http.StatusBadRequest, "Unsupported type: "+v["type"])
		return
	}
	s.mu.Lock()
	id := s.addContact(Contact{
		FirstName: v["firstname"], LastName: v["lastname"], Email: v["email"], Password: v["password"],
		PhoneNumber: v["phonenumber"], Address1: v["address1"], City: v["city"], Country: v["country"], Postcode: v["postcode"],
	})
	s.writes++
	now := s.now()
	s.mu.Unlock()
	// HostUp answers 200, not 201.
	answer := map[string]any{"success": true, "contact_id": id, "call": "addClientContact", "server_time": now.Unix()}
	if s.createOmitsSuccess {
		delete(answer, "success")
	}
	s.writeOK(w, http.StatusOK, answer)
}

// deleteContact is DELETE /api/teams?id=&type=contact. Undocumented choice: an unknown id is
// 404 NOT_FOUND (legacy shape); HostUp documents only 400 and 503.
func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idStr, typ := q.Get("id"), q.Get("type")
	if idStr == "" || typ == "" {
		s.writeError(w, http.StatusBadRequest, "Missing required parameters: type and id")
		return
	}
	if typ != "contact" {
		s.writeError(w, http.StatusBadRequest, "Unsupported type: "+typ)
		return
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id < 1 {
		s.writeError(w, http.StatusBadRequest, "Invalid id")
		return
	}
	s.mu.Lock()
	_, ok := s.contacts[id]
	if ok {
		delete(s.contacts, id)
		delete(s.perms, id)
		s.writes++
	}
	now := s.now()
	s.mu.Unlock()
	if !ok {
		if s.deleteGoneStatus != 0 {
			s.writeError(w, s.deleteGoneStatus, "Failed to delete contact")
			return
		}
		s.writeError(w, http.StatusNotFound, "Contact not found")
		return
	}
	s.writeOK(w, http.StatusOK, map[string]any{
		"call": "deleteClientContact", "info": []string{"Contact has been deleted"}, "server_time": now.Unix(), "success": true,
	})
}

// contactID reads {id}: a positive integer, else 400.
func (s *Server) contactID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.writeError(w, http.StatusBadRequest, "contactId must be an integer >= 1")
		return 0, false
	}
	return id, true
}

type wireItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Category  string `json:"category,omitempty"`
	HasAccess bool   `json:"hasAccess"`
}

// catalogue lists every service, domain and zone with hasAccess from p (caller holds s.mu).
// Undocumented choice: hasAccess is the stored per-item flag; accessAll* does not set it,
// unless WithAccessAllExpanded (the other convention) is on.
func (s *Server) catalogue(p Permissions) (services, domains, zones []wireItem) {
	services, domains, zones = []wireItem{}, []wireItem{}, []wireItem{}
	for _, x := range s.services {
		all := s.accessAllExpanded && ((x.Category == "vps" && p.AccessAllVps) || (x.Category == "hosting" && p.AccessAllHosting))
		services = append(services, wireItem{x.ID, x.Name, "service", x.Category, all || slices.Contains(p.Services, x.ID)})
	}
	for _, x := range s.domains {
		all := s.accessAllExpanded && p.AccessAllDomains
		domains = append(domains, wireItem{x.ID, x.Name, "domain", "", all || slices.Contains(p.Domains, x.ID)})
	}
	for _, x := range s.zones {
		zones = append(zones, wireItem{x.ID, x.Name, "dns_zone", "", slices.Contains(p.DNSZones, x.ID)})
	}
	return services, domains, zones
}

func permissionData(p Permissions, services, domains, zones []wireItem) map[string]any {
	return map[string]any{
		"services": services, "domains": domains, "dnsZones": zones,
		"canViewInvoices": p.CanViewInvoices, "canReceiveInvoices": p.CanReceiveInvoices,
		"canOpenTickets": p.CanOpenTickets, "canViewTickets": p.CanViewTickets,
		"canReceiveTicketEmails": p.CanReceiveTicketEmails, "canCloseTickets": p.CanCloseTickets,
		"accessAllVps": p.AccessAllVps, "accessAllHosting": p.AccessAllHosting,
		"accessAllDomains": p.AccessAllDomains, "canPlaceOrders": p.CanPlaceOrders,
	}
}

// getPermissions is GET /api/contacts/{id}/permissions: the whole catalogue with hasAccess,
// domains and dnsZones as objects. Undocumented choice: unknown contact is 404 NOT_FOUND.
func (s *Server) getPermissions(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	p, ok := s.perms[id]
	var data map[string]any
	if ok {
		sv, dm, zn := s.catalogue(*p)
		data = permissionData(*p, sv, dm, zn)
		if s.stringLists {
			data["domains"], data["dnsZones"] = grantedIDs(dm), grantedIDs(zn)
		}
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, "Contact not found")
		return
	}
	s.writeOK(w, http.StatusOK, data)
}

// grantedIDs is the string-array shape of a list: the ids of the granted items.
func grantedIDs(items []wireItem) []string {
	out := []string{}
	for _, it := range items {
		if it.HasAccess {
			out = append(out, it.ID)
		}
	}
	return out
}

var permissionFlags = []string{
	"canViewInvoices", "canReceiveInvoices", "canOpenTickets", "canViewTickets", "canReceiveTicketEmails",
	"canCloseTickets", "accessAllVps", "accessAllHosting", "accessAllDomains", "canPlaceOrders",
}

// setPermissions is POST /api/contacts/{id}/permissions, a full replace. Undocumented choices
// (HostUp documents no 4xx here): unknown contact 404 NOT_FOUND; a missing field, a wrong
// type or an id not in the matching catalogue list 400 BAD_REQUEST, all in the legacy shape.
// Item names are not checked. Items with hasAccess false are the same as absent items.
func (s *Server) setPermissions(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	_, exists := s.contacts[id]
	s.mu.Unlock()
	if !exists {
		s.writeError(w, http.StatusNotFound, "Contact not found")
		return
	}
	raw, err := decodeObject(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var missing []string
	for _, f := range append([]string{"services", "domains", "dnsZones"}, permissionFlags...) {
		if _, ok := raw[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		s.writeError(w, http.StatusBadRequest, "Missing required fields: "+strings.Join(missing, ", "))
		return
	}
	var p Permissions
	flags := []*bool{&p.CanViewInvoices, &p.CanReceiveInvoices, &p.CanOpenTickets, &p.CanViewTickets, &p.CanReceiveTicketEmails,
		&p.CanCloseTickets, &p.AccessAllVps, &p.AccessAllHosting, &p.AccessAllDomains, &p.CanPlaceOrders}
	for i, f := range permissionFlags {
		if err := json.Unmarshal(raw[f], flags[i]); err != nil || string(raw[f]) == "null" {
			s.writeError(w, http.StatusBadRequest, "Field "+f+" must be a boolean")
			return
		}
	}
	for _, l := range []struct {
		field string
		out   *[]string
	}{{"services", &p.Services}, {"domains", &p.Domains}, {"dnsZones", &p.DNSZones}} {
		var items []struct {
			ID        *string `json:"id"`
			Name      string  `json:"name"`
			HasAccess *bool   `json:"hasAccess"`
		}
		if err := json.Unmarshal(raw[l.field], &items); err != nil || string(raw[l.field]) == "null" {
			s.writeError(w, http.StatusBadRequest, "Field "+l.field+" must be an array of {id, name, hasAccess}")
			return
		}
		for _, it := range items {
			if it.ID == nil || it.HasAccess == nil {
				s.writeError(w, http.StatusBadRequest, "Every item of "+l.field+" needs id and hasAccess")
				return
			}
			if *it.HasAccess {
				*l.out = append(*l.out, *it.ID)
			}
		}
	}
	status, msg := s.replacePermissions(id, p)
	if status != http.StatusOK {
		s.writeError(w, status, msg)
		return
	}
	s.writeOK(w, http.StatusOK, map[string]any{"message": "Permissions updated successfully"})
}

// replacePermissions stores p for contact id; a change counts as a write.
func (s *Server) replacePermissions(id int64, p Permissions) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkGranted(p); err != nil {
		return http.StatusBadRequest, "Invalid permissions: " + err.Error()
	}
	old, ok := s.perms[id]
	if !ok { // deleted meanwhile
		return http.StatusNotFound, "Contact not found"
	}
	p = p.clone()
	if !old.equal(p) {
		s.perms[id] = &p
		s.writes++
	}
	return http.StatusOK, ""
}

// wireGrant is a grantedByMe item, snake_case as HostUp documents it.
type wireGrant struct {
	ID               string  `json:"id"`
	GrantorClientID  string  `json:"grantor_client_id"`
	GranteeClientID  *string `json:"grantee_client_id"`
	GranteeCompany   *string `json:"grantee_company"`
	GranteeEmail     *string `json:"grantee_email"`
	GranteeName      *string `json:"grantee_name"`
	InviteEmail      *string `json:"invite_email"`
	InviteToken      string  `json:"invite_token"`
	InviteExpiresAt  *string `json:"invite_expires_at"`
	InviteAcceptedAt *string `json:"invite_accepted_at"`
	Label            string  `json:"label"`
	Status           string  `json:"status,omitempty"`
	RevokedAt        *string `json:"revoked_at"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := isoTime(*t)
	return &s
}

// listGrants is GET /api/delegated-access. Undocumented choices: status is one of pending,
// active, expired, revoked (HostUp shows only "active"); a pending grant has null grantee_*
// fields; grantedToMe is always empty.
func (s *Server) listGrants(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	now := s.now()
	byMe := make([]wireGrant, 0, len(s.grantOrder))
	for _, id := range s.grantOrder {
		g := s.grants[id]
		status := g.status(now)
		if s.grantRows && g.RevokedAt != nil {
			continue // the documented-only convention: a revoked row is gone
		}
		if s.grantRows && status != "active" {
			status = ""
		}
		byMe = append(byMe, wireGrant{
			ID: g.ID, GrantorClientID: g.GrantorClientID,
			GranteeClientID: nullable(g.GranteeClientID), GranteeCompany: nullable(g.GranteeCompany),
			GranteeEmail: nullable(g.GranteeEmail), GranteeName: nullable(g.GranteeName),
			InviteEmail: nullable(g.InviteEmail), InviteToken: g.InviteToken,
			InviteExpiresAt: nullableTime(g.InviteExpiresAt), InviteAcceptedAt: nullableTime(g.InviteAcceptedAt),
			Label: g.Label, Status: status, RevokedAt: nullableTime(g.RevokedAt),
			CreatedAt: isoTime(g.CreatedAt), UpdatedAt: isoTime(g.UpdatedAt),
		})
	}
	s.mu.Unlock()
	s.writeOK(w, http.StatusOK, map[string]any{"grantedByMe": byMe, "grantedToMe": []any{}})
}

// createGrant is POST /api/delegated-access: a pending invite, 201 with camelCase data.
// Undocumented choices: a missing or malformed email is 400; inviting an address that already
// has a pending or active grant is allowed (another grant is created).
func (s *Server) createGrant(w http.ResponseWriter, r *http.Request) {
	raw, err := decodeObject(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var email, label string
	if b, ok := raw["email"]; !ok || json.Unmarshal(b, &email) != nil || !strings.Contains(email, "@") {
		s.writeError(w, http.StatusBadRequest, "Missing required parameter: email")
		return
	}
	if b, ok := raw["label"]; ok && string(b) != "null" {
		if json.Unmarshal(b, &label) != nil {
			s.writeError(w, http.StatusBadRequest, "Parameter label must be a string")
			return
		}
	}
	s.mu.Lock()
	now := s.now().UTC()
	exp := now.Add(s.inviteTTL)
	g := &Grant{
		ID: s.uuid(), GrantorClientID: s.clientID, Label: label, InviteEmail: email, InviteToken: s.token(),
		InviteExpiresAt: &exp, CreatedAt: now, UpdatedAt: now,
	}
	s.grants[g.ID] = g
	s.grantOrder = append(s.grantOrder, g.ID)
	s.writes++
	s.mu.Unlock()
	s.writeOK(w, http.StatusCreated, map[string]any{
		"id": g.ID, "inviteToken": g.InviteToken, "inviteExpiresAt": isoTime(exp), "createdAt": isoTime(now),
	})
}

// lookupInvite is GET /api/delegated-access/{id}?token=: invite info for the accept page.
func (s *Server) lookupInvite(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		s.writeError(w, http.StatusBadRequest, "Missing required parameter: token")
		return
	}
	s.mu.Lock()
	g, ok := s.grants[r.PathValue("id")]
	var data map[string]any
	if ok && g.InviteToken == tok {
		data = map[string]any{
			"grantorClientId": g.GrantorClientID, "label": g.Label, "inviteEmail": g.InviteEmail,
			"expired": g.status(s.now()) == StatusExpired,
		}
	}
	s.mu.Unlock()
	if data == nil {
		s.writeError(w, http.StatusNotFound, "Invite not found")
		return
	}
	s.writeOK(w, http.StatusOK, data)
}

// switchGrant is POST /api/delegated-access/{id}, HostUp's session switch (and, apparently,
// accept). It needs a grantee's dashboard session, which the fake does not model: use AcceptGrant.
func (s *Server) switchGrant(w http.ResponseWriter, _ *http.Request) {
	s.writeError(w, http.StatusNotImplemented,
		"hostupfake does not implement POST /api/delegated-access/{id} (a grantee session switch); tests accept invites with AcceptGrant")
}

// switchBack is DELETE /api/delegated-access/{id}. HostUp documents it as "switch back to own
// account", not as a revoke; an API key is never in a delegated session, so the fake always
// answers the documented 400 and changes nothing.
func (s *Server) switchBack(w http.ResponseWriter, _ *http.Request) {
	s.writeError(w, http.StatusBadRequest, "Not in a delegated access session")
}

// grantPermissions is GET /api/delegated-access/{id}/permissions. Undocumented choice: an
// unknown grant is 404 NOT_FOUND.
func (s *Server) grantPermissions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g, ok := s.grants[r.PathValue("id")]
	var data map[string]any
	if ok {
		p := g.Permissions
		sv, dm, zn := s.catalogue(p.Permissions)
		data = permissionData(p.Permissions, sv, dm, zn)
		data["canRequestEpp"] = p.CanRequestEpp
		data["grant"] = map[string]any{"id": g.ID, "granteeClientId": nullable(g.GranteeClientID), "label": g.Label}
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, "Grant not found")
		return
	}
	s.writeOK(w, http.StatusOK, data)
}

// Package hostupcontact is the external client of a ContactAccess with spec.hostup: the rights
// of one HostUp contact person (and, with spec.hostup.contact.create, the contact itself).
package hostupcontact

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/plan"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Event reasons.
const (
	EventRevoked = "Revoked"
	EventDeleted = "Deleted"
)

// External implements reconciler.External for HostUp contacts.
type External struct {
	API hostup.API
	// Secrets reads the contact's password Secret (object's namespace, opt-in label only).
	Secrets connection.SecretReader
}

var _ reconciler.External[*accessv1alpha1.ContactAccess] = (*External)(nil)

// contactID is the contact's id: the spec's, or the one this object created ("" when none yet).
func contactID(obj *accessv1alpha1.ContactAccess) (int64, bool, error) {
	c := obj.Spec.HostUp.Contact
	if c.ID != nil {
		return *c.ID, true, nil
	}
	v := reconciler.CreatedID(obj)
	if v == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, false, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonInvalidSpec,
			fmt.Sprintf("annotation %s=%q is not a contact id", accessv1alpha1.AnnotationCreatedID, v), false))
	}
	return id, true, nil
}

// Observe reads the contact's permissions and compares them with the spec.
func (e *External) Observe(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.Observation, error) {
	id, ok, err := contactID(obj)
	if err != nil {
		return reconciler.Observation{}, err
	}
	if !ok {
		c := obj.Spec.HostUp.Contact.Create
		return reconciler.Observation{
			CreatePlan:  fmt.Sprintf("create HostUp contact %s %s <%s>, then apply its permissions", c.FirstName, c.LastName, c.Email),
			CreateCheck: fmt.Sprintf("HostUp cannot list contacts, so a person must check the dashboard's Teams page for %s", c.Email),
		}, nil
	}
	obj.Status.ContactID = strconv.FormatInt(id, 10)
	perms, err := e.API.GetPermissions(ctx, id)
	if err != nil {
		if hostup.IsNotFound(err) {
			o := reconciler.Stalled(accessv1alpha1.ReasonContactNotFound, fmt.Sprintf("HostUp has no contact %d: fix spec.hostup.contact (a contact deleted in the dashboard is not recreated automatically)", id), true)
			return reconciler.Observation{Exists: true, Result: &o}, nil
		}
		return reconciler.Observation{}, err
	}
	observed, names, catalogue := Observed(perms)
	obj.Status.Observed = &accessv1alpha1.ObservedAccess{HostUp: ObservedStatus(observed, names)}
	desired, problems := Desired(obj.Spec.HostUp.Permissions, catalogue)
	if len(problems) > 0 {
		o := reconciler.Stalled(accessv1alpha1.ReasonUnknownResource, "nothing was written; not in the account's catalogue: "+strings.Join(problems, "; "), true)
		return reconciler.Observation{Exists: true, Result: &o}, nil
	}
	d, o := Effective(desired, observed, perms)
	return reconciler.Observation{Exists: true, Diff: plan.HostUp(d, o, names).Differences, Read: perms}, nil
}

// Effective compares access as the contact has it: while an accessAll* flag is on in both
// the spec and HostUp, the items it covers (VPS services, hosting services, domains) are left
// out of the item comparison. HostUp may report every such item hasAccess:true or only the
// listed ones (the docs do not say which; see hostupfake.WithAccessAllExpanded): either way the
// contact reaches all of them, so both conventions converge with one write and then none.
func Effective(desired, observed plan.HostUpState, p *hostup.Permissions) (plan.HostUpState, plan.HostUpState) {
	covered := map[string]bool{}
	both := func(right string) bool { return desired.Rights[right] && observed.Rights[right] }
	for _, it := range p.Services {
		if (it.Category == "vps" && both("accessAllVps")) || (it.Category == "hosting" && both("accessAllHosting")) {
			covered[it.ID] = true
		}
	}
	allDomains := both("accessAllDomains")
	services := func(ids []string) []string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			if !covered[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for _, st := range []*plan.HostUpState{&desired, &observed} {
		st.Services = services(st.Services)
		if allDomains {
			st.Domains = nil
		}
	}
	return desired, observed
}

// PrepareCreate checks the password Secret before any intent is recorded.
func (e *External) PrepareCreate(ctx context.Context, obj *accessv1alpha1.ContactAccess) error {
	_, err := e.password(ctx, obj)
	return err
}

func (e *External) password(ctx context.Context, obj *accessv1alpha1.ContactAccess) (string, error) {
	ref := obj.Spec.HostUp.Contact.Create.PasswordSecretRef
	secret, err := e.Secrets.Get(ctx, obj.Namespace, ref.Name, "the contact's initial password")
	if err != nil {
		return "", err
	}
	password := string(secret.Data[ref.Key])
	if password == "" {
		return "", reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q (or it is empty): put the contact's initial password there", ref.Name, ref.Key), false))
	}
	return password, nil
}

// Create creates the contact person (POST /teams) with the password from its Secret.
func (e *External) Create(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.Created, error) {
	spec := obj.Spec.HostUp.Contact.Create
	password, err := e.password(ctx, obj)
	if err != nil {
		return reconciler.Created{}, reconciler.NotSentError(err)
	}
	id, err := e.API.CreateContact(ctx, hostup.NewContact{
		FirstName: spec.FirstName, LastName: spec.LastName, Email: spec.Email, Password: password,
		PhoneNumber: spec.PhoneNumber, Address1: spec.Address1, City: spec.City, Country: spec.Country, Postcode: spec.Postcode,
	})
	if err != nil {
		return reconciler.Created{}, err
	}
	return reconciler.Created{
		ID: strconv.FormatInt(id, 10), Reason: reconciler.EventCreated,
		Message: fmt.Sprintf("Created HostUp contact %d for %s", id, spec.Email),
	}, nil
}

// Update writes the desired permissions (a full replace) built on the read Observe just made
// (read again only when there is none).
func (e *External) Update(ctx context.Context, obj *accessv1alpha1.ContactAccess, obs reconciler.Observation) error {
	id, _, err := contactID(obj)
	if err != nil {
		return err
	}
	perms, ok := obs.Read.(*hostup.Permissions)
	if !ok || perms == nil {
		if perms, err = e.API.GetPermissions(ctx, id); err != nil {
			return err
		}
	}
	_, _, catalogue := Observed(perms)
	desired, problems := Desired(obj.Spec.HostUp.Permissions, catalogue)
	if len(problems) > 0 {
		return reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonUnknownResource, "nothing was written; not in the account's catalogue: "+strings.Join(problems, "; "), true))
	}
	return e.API.SetPermissions(ctx, id, Write(desired, perms))
}

// Delete revokes every right of the contact (Revoke) or deletes the contact this object
// created (Delete).
func (e *External) Delete(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.Deleted, error) {
	id, ok, err := contactID(obj)
	if err != nil {
		return reconciler.Deleted{}, err
	}
	if !ok {
		d := reconciler.Deleted{Done: true}
		if _, pending := reconciler.CreatePending(obj); pending {
			d.Warning, d.Reason = true, accessv1alpha1.ReasonCreateOutcomeUnknown
			d.Message = fmt.Sprintf("a contact for %s may exist in HostUp without its id recorded: check the dashboard's Teams page and remove it there if it does",
				obj.Spec.HostUp.Contact.Create.Email)
		}
		return d, nil // nothing was created by this object
	}
	if obj.Spec.DeletionPolicy == accessv1alpha1.DeletionDelete {
		// Only a contact this object created (admission allows Delete only with create).
		if reconciler.CreatedID(obj) == "" {
			return reconciler.Deleted{Done: true}, nil
		}
		return e.deleteContact(ctx, obj, id)
	}
	perms, err := e.API.GetPermissions(ctx, id)
	if hostup.IsNotFound(err) {
		return reconciler.Deleted{Done: true}, nil
	}
	if err != nil {
		return reconciler.Deleted{}, err
	}
	observed, names, _ := Observed(perms)
	none := plan.HostUpState{}
	if plan.HostUp(none, observed, names).Empty() {
		return reconciler.Deleted{Done: true}, nil
	}
	if err := e.API.SetPermissions(ctx, id, Write(none, perms)); err != nil {
		return reconciler.Deleted{}, err
	}
	return reconciler.Deleted{Done: true, Reason: EventRevoked, Message: fmt.Sprintf("Revoked every permission of HostUp contact %d", id)}, nil
}

// maxDeleteFailures is how many failed deletes of one contact are retried (with the loop's
// backoff, up to the sync interval) before the object stalls and asks a person.
const maxDeleteFailures = 5

// deleteFailures counts failed deletes per object in this process; entries go when the
// delete completes or stalls.
var deleteFailures = struct {
	sync.Mutex
	m map[types.UID]int
}{m: map[types.UID]int{}}

// deleteContact applies deletionPolicy Delete. HostUp documents 400 and 503 "Failed to delete
// contact" and no 404 (hostup-api.md §1.2), so a contact that is already gone may answer with
// a failure. Assumption (the docs are silent): the contact is gone when the delete says 404 or
// when the permissions read of the same id says 404; any other answer means it may still
// exist, which is retried a bounded number of times and then stalls, offering Orphan.
func (e *External) deleteContact(ctx context.Context, obj *accessv1alpha1.ContactAccess, id int64) (reconciler.Deleted, error) {
	done := func(msg string) (reconciler.Deleted, error) {
		deleteFailures.Lock()
		delete(deleteFailures.m, obj.UID)
		deleteFailures.Unlock()
		return reconciler.Deleted{Done: true, Reason: EventDeleted, Message: msg}, nil
	}
	err := e.API.DeleteContact(ctx, id)
	if err == nil {
		return done(fmt.Sprintf("Deleted HostUp contact %d", id))
	}
	if hostup.IsNotFound(err) {
		return done(fmt.Sprintf("HostUp contact %d was already gone", id))
	}
	if _, gerr := e.API.GetPermissions(ctx, id); hostup.IsNotFound(gerr) {
		return done(fmt.Sprintf("HostUp contact %d was already gone (the delete answered: %v)", id, err))
	}
	deleteFailures.Lock()
	deleteFailures.m[obj.UID]++
	n := deleteFailures.m[obj.UID]
	if n >= maxDeleteFailures {
		delete(deleteFailures.m, obj.UID)
	}
	deleteFailures.Unlock()
	if n < maxDeleteFailures {
		return reconciler.Deleted{}, err
	}
	return reconciler.Deleted{Wait: reconciler.Stalled(accessv1alpha1.ReasonDeleteFailed, fmt.Sprintf(
		"deletionPolicy Delete: HostUp refused to delete contact %d %d times (last: %v) and it still exists. "+
			"Delete it in the HostUp dashboard (Teams), or set spec.deletionPolicy to Orphan to let this object go without deleting it; retried every sync interval",
		id, maxDeleteFailures, err), true)}, nil
}

// Catalogue is what a permissions read tells about the account's resources.
type Catalogue struct {
	// Items per field ("services", "domains", "dnsZones"): id and name of each known item.
	Items map[string][]plan.CatalogueItem
	// Open marks the fields whose read is no complete catalogue: the older GET shape lists only
	// granted items as bare strings (hostup-api.md §2.1), and an empty list cannot tell. There,
	// ids in the spec are used as they are and names resolve only against items whose id and
	// name the read gave. This is the one place that assumption lives.
	Open map[string]bool
}

// Observed turns a permissions read into a plan state, the id→name map and the catalogue.
// A granted item given only by name (a bare string) is tracked as "name:<name>".
func Observed(p *hostup.Permissions) (plan.HostUpState, map[string]string, Catalogue) {
	names := map[string]string{}
	cat := Catalogue{Items: map[string][]plan.CatalogueItem{}, Open: map[string]bool{}}
	st := plan.HostUpState{Rights: plan.WireRights(p)}
	for _, f := range []struct {
		field string
		items []hostup.Resource
		ids   *[]string
	}{
		{"services", p.Services, &st.Services},
		{"domains", p.Domains, &st.Domains},
		{"dnsZones", p.DNSZones, &st.DNSZones},
	} {
		cat.Open[f.field] = len(f.items) == 0 && f.field != "services"
		for _, it := range f.items {
			cat.Open[f.field] = cat.Open[f.field] || it.Bare
			id := it.ID
			if id == "" {
				id = "name:" + it.Name
			} else {
				cat.Items[f.field] = append(cat.Items[f.field], plan.CatalogueItem{ID: it.ID, Name: it.Name})
			}
			names[id] = it.Name
			if it.HasAccess {
				*f.ids = append(*f.ids, id)
			}
		}
	}
	return st.Normalize(), names, cat
}

// Desired resolves the spec against the catalogue.
func Desired(spec accessv1alpha1.HostUpPermissions, cat Catalogue) (plan.HostUpState, []string) {
	var problems []string
	resolve := func(field string, refs []accessv1alpha1.ResourceRef) []string {
		if cat.Open[field] {
			ids, p := resolveOpen(field, refs, cat.Items[field])
			problems = append(problems, p...)
			return ids
		}
		ids, p := plan.Resolve(field, refs, cat.Items[field])
		problems = append(problems, p...)
		return ids
	}
	st := plan.HostUpState{
		Services: resolve("services", spec.Services),
		Domains:  resolve("domains", spec.Domains),
		DNSZones: resolve("dnsZones", spec.DNSZones),
		Rights:   plan.DesiredRights(spec),
	}
	return st.Normalize(), problems
}

// resolveOpen resolves references of a field without a catalogue: a numeric id is used as it
// is; a name only when the read gave that item's id and name.
func resolveOpen(field string, refs []accessv1alpha1.ResourceRef, known []plan.CatalogueItem) ([]string, []string) {
	var ids, problems []string
	for i, r := range refs {
		if r.ID != "" {
			if !isDigits(r.ID) {
				problems = append(problems, fmt.Sprintf("%s[%d]: id %q is not a numeric HostUp id", field, i, r.ID))
				continue
			}
			ids = append(ids, r.ID)
			continue
		}
		got, p := plan.Resolve(field, []accessv1alpha1.ResourceRef{r}, known)
		if len(p) > 0 || len(got) == 0 {
			problems = append(problems, fmt.Sprintf(
				"%s[%d]: name %q cannot be resolved: HostUp's permissions answer lists %s without their ids and names, and no documented listing gives them; name it by id (spec.hostup.permissions.%s[%d].id)",
				field, i, r.Name, field, field, i))
			continue
		}
		ids = append(ids, got...)
	}
	return ids, problems
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Write builds the full-replace body: every catalogue item with its desired flag. For a field
// the read gave no catalogue for (see Catalogue.Open), only the desired items are sent, granted:
// what is left out is denied, so the write never grants more than the spec.
func Write(desired plan.HostUpState, current *hostup.Permissions) *hostup.Permissions {
	_, names, cat := Observed(current)
	flag := func(field string, items []hostup.Resource, ids []string) []hostup.Resource {
		if cat.Open[field] {
			out := make([]hostup.Resource, 0, len(ids))
			for _, id := range ids {
				out = append(out, hostup.Resource{ID: id, Name: names[id], HasAccess: true})
			}
			return out
		}
		out := make([]hostup.Resource, len(items))
		for i, it := range items {
			it.HasAccess = slices.Contains(ids, it.ID)
			out[i] = it
		}
		return out
	}
	out := &hostup.Permissions{
		Services: flag("services", current.Services, desired.Services),
		Domains:  flag("domains", current.Domains, desired.Domains),
		DNSZones: flag("dnsZones", current.DNSZones, desired.DNSZones),
	}
	plan.SetWireRights(out, desired.Rights)
	return out
}

// ObservedStatus is the status.observed.hostup of a state.
func ObservedStatus(st plan.HostUpState, names map[string]string) *accessv1alpha1.ObservedHostUp {
	res := func(ids []string) []accessv1alpha1.ObservedResource {
		var out []accessv1alpha1.ObservedResource
		for _, id := range ids {
			out = append(out, accessv1alpha1.ObservedResource{ID: id, Name: names[id]})
		}
		return out
	}
	return &accessv1alpha1.ObservedHostUp{
		Services: res(st.Services), Domains: res(st.Domains), DNSZones: res(st.DNSZones),
		Rights: st.EnabledRights(),
	}
}

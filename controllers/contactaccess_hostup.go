package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/plan"
)

// syncHostUp reconciles one HostUp contact person.
func (run *caRun) syncHostUp(ctx context.Context) {
	obj := run.obj
	id, ok := run.hostupContactID(ctx)
	if !ok {
		return
	}
	obj.Status.ContactID = strconv.FormatInt(id, 10)

	perms, err := run.conn.HostUp.GetPermissions(ctx, id)
	if err != nil {
		if hostup.IsNotFound(err) {
			run.out = stalled(accessv1alpha1.ReasonContactNotFound, fmt.Sprintf("HostUp has no contact %d: fix spec.hostup.contact (a contact deleted in the dashboard is not recreated automatically)", id), true)
			return
		}
		run.fail(err)
		return
	}
	observed, names, catalogue := hostupObserved(perms)
	obj.Status.Observed = &accessv1alpha1.ObservedAccess{HostUp: observedHostUpStatus(observed, names)}

	desired, problems := hostupDesired(obj.Spec.HostUp.Permissions, catalogue)
	if len(problems) > 0 {
		run.out = stalled(accessv1alpha1.ReasonUnknownResource,
			"nothing was written; not in the account's catalogue: "+strings.Join(problems, "; "), true)
		return
	}
	p := plan.HostUp(desired, observed, names)
	decision := plan.Gate(obj.Spec.ManagementPolicy, p)
	if !decision.Write {
		run.finish(ctx, p.Differences, decision.Pending, false)
		return
	}
	if err := run.conn.HostUp.SetPermissions(ctx, id, hostupWrite(desired, perms)); err != nil {
		run.fail(err)
		return
	}
	// Verify by read: the POST answers only a message.
	after, err := run.conn.HostUp.GetPermissions(ctx, id)
	if err != nil {
		run.fail(err)
		return
	}
	observedAfter, _, _ := hostupObserved(after)
	obj.Status.Observed = &accessv1alpha1.ObservedAccess{HostUp: observedHostUpStatus(observedAfter, names)}
	if still := plan.HostUp(desired, observedAfter, names); !still.Empty() {
		run.fail(fmt.Errorf("cannot verify the permissions of contact %d: HostUp still differs after the write: %s", id, strings.Join(still.Differences, "; ")))
		return
	}
	run.finish(ctx, p.Differences, nil, true)
}

// hostupContactID returns the contact's id: the spec's, or the one this object created
// (creating it now if needed, behind the crash-safe guard). ok is false when the run ends here.
func (run *caRun) hostupContactID(ctx context.Context) (int64, bool) {
	obj := run.obj
	c := obj.Spec.HostUp.Contact
	if c.ID != nil {
		return *c.ID, true
	}
	if v := obj.Annotations[accessv1alpha1.AnnotationCreatedID]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			run.out = stalled(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf("annotation %s=%q is not a contact id", accessv1alpha1.AnnotationCreatedID, v), false)
			return 0, false
		}
		return id, true
	}
	if at, pending := obj.Annotations[accessv1alpha1.AnnotationCreatePending]; pending {
		run.out = stalled(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
			"a HostUp contact for %s may have been created at %s, but its id was not recorded (the controller stopped or the API did not answer). "+
				"HostUp cannot list contacts, so a person must check the dashboard's Teams page: if the contact exists, annotate this object with %s=<its id>; "+
				"if it does not, remove the annotation %s to create it",
			c.Create.Email, at, accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending), false)
		return 0, false
	}
	if obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve {
		run.finish(ctx, nil, []string{fmt.Sprintf("contact: create %s %s <%s>, then apply its permissions", c.Create.FirstName, c.Create.LastName, c.Create.Email)}, false)
		return 0, false
	}
	return run.createHostUpContact(ctx)
}

// createHostUpContact creates the contact with intent recorded before the call and the id
// right after it, so a crash in between can never lead to a second contact.
func (run *caRun) createHostUpContact(ctx context.Context) (int64, bool) {
	obj, r := run.obj, run.r
	spec := obj.Spec.HostUp.Contact.Create
	secret := &corev1.Secret{}
	ref := spec.PasswordSecretRef
	if err := r.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			run.out = stalled(accessv1alpha1.ReasonSecretNotFound, fmt.Sprintf("password Secret %q not found in namespace %q", ref.Name, obj.Namespace), false)
			return 0, false
		}
		run.fail(err)
		return 0, false
	}
	password := string(secret.Data[ref.Key])
	if password == "" {
		run.out = stalled(accessv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q (or it is empty): put the contact's initial password there", ref.Name, ref.Key), false)
		return 0, false
	}

	// Record intent. The optimistic lock makes two racing reconcilers (a leader hand-over)
	// agree on one creator: the loser's patch conflicts and it creates nothing.
	before := obj.DeepCopy()
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[accessv1alpha1.AnnotationCreatePending] = r.now().UTC().Format(time.RFC3339)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		run.fail(fmt.Errorf("cannot record the intent to create a contact: %w", err))
		return 0, false
	}

	// From here to the recorded id the work is not interrupted by a manager shutdown: a
	// graceful stop (rollout, lost lease) finishes the create and records its id.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
	defer cancel()
	id, err := run.conn.HostUp.CreateContact(ctx, hostup.NewContact{
		FirstName: spec.FirstName, LastName: spec.LastName, Email: spec.Email, Password: password,
		PhoneNumber: spec.PhoneNumber, Address1: spec.Address1, City: spec.City, Country: spec.Country, Postcode: spec.Postcode,
	})
	if err != nil {
		if createOutcomeKnown(err) {
			// Refused: nothing exists, so the intent is withdrawn and a later attempt is safe.
			if perr := run.patchAnnotations(ctx, map[string]*string{accessv1alpha1.AnnotationCreatePending: nil}); perr != nil {
				logf.FromContext(ctx).Error(perr, "cannot withdraw the create intent")
			}
			run.fail(err)
			return 0, false
		}
		// The contact may exist: keep the intent; the next reconcile reports CreateOutcomeUnknown.
		run.out = stalled(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
			"the create call for %s got no clear answer (%v). HostUp cannot list contacts, so a person must check the dashboard's Teams page: "+
				"if the contact exists, annotate this object with %s=<its id>; if not, remove the annotation %s to create it",
			spec.Email, err, accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending), false)
		return 0, false
	}
	if run.r.afterCreate != nil {
		if err := run.r.afterCreate(); err != nil {
			run.retryErr = err
			run.out = retrying(accessv1alpha1.ReasonAPIError, err.Error())
			return 0, false
		}
	}
	idStr := strconv.FormatInt(id, 10)
	// Record the id; retried in-process because the id exists nowhere else.
	err = wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 6},
		func(ctx context.Context) (bool, error) {
			return run.patchAnnotations(ctx, map[string]*string{
				accessv1alpha1.AnnotationCreatePending: nil,
				accessv1alpha1.AnnotationCreatedID:     &idStr,
			}) == nil, nil
		})
	if err != nil {
		run.out = stalled(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
			"HostUp created contact %d for %s but the id could not be recorded: annotate this object with %s=%d and remove %s",
			id, spec.Email, accessv1alpha1.AnnotationCreatedID, id, accessv1alpha1.AnnotationCreatePending), true)
		return 0, false
	}
	r.Recorder.Eventf(obj, nil, "Normal", eventCreated, "Create", "Created HostUp contact %d for %s", id, spec.Email)
	return id, true
}

// patchAnnotations sets (or, for nil values, removes) annotations with a merge patch.
func (run *caRun) patchAnnotations(ctx context.Context, set map[string]*string) error {
	obj := run.obj
	before := obj.DeepCopy()
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	for k, v := range set {
		if v == nil {
			delete(obj.Annotations, k)
		} else {
			obj.Annotations[k] = *v
		}
	}
	return run.r.Patch(ctx, obj, client.MergeFrom(before))
}

// hostupObserved turns a permissions read into a plan state, the id→name map and the catalogue.
func hostupObserved(p *hostup.Permissions) (plan.HostUpState, map[string]string, map[string][]plan.CatalogueItem) {
	names := map[string]string{}
	catalogue := map[string][]plan.CatalogueItem{}
	st := plan.HostUpState{Rights: map[string]bool{
		"canViewInvoices": p.CanViewInvoices, "canReceiveInvoices": p.CanReceiveInvoices,
		"canOpenTickets": p.CanOpenTickets, "canViewTickets": p.CanViewTickets,
		"canReceiveTicketEmails": p.CanReceiveTicketEmails, "canCloseTickets": p.CanCloseTickets,
		"canPlaceOrders": p.CanPlaceOrders, "accessAllVps": p.AccessAllVps,
		"accessAllHosting": p.AccessAllHosting, "accessAllDomains": p.AccessAllDomains,
	}}
	for _, f := range []struct {
		field string
		items []hostup.Resource
		ids   *[]string
	}{
		{"services", p.Services, &st.Services},
		{"domains", p.Domains, &st.Domains},
		{"dnsZones", p.DNSZones, &st.DNSZones},
	} {
		for _, it := range f.items {
			names[it.ID] = it.Name
			catalogue[f.field] = append(catalogue[f.field], plan.CatalogueItem{ID: it.ID, Name: it.Name})
			if it.HasAccess {
				*f.ids = append(*f.ids, it.ID)
			}
		}
	}
	return st.Normalize(), names, catalogue
}

// hostupDesired resolves the spec against the catalogue.
func hostupDesired(spec accessv1alpha1.HostUpPermissions, catalogue map[string][]plan.CatalogueItem) (plan.HostUpState, []string) {
	var problems []string
	resolve := func(field string, refs []accessv1alpha1.ResourceRef) []string {
		ids, p := plan.Resolve(field, refs, catalogue[field])
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

// hostupWrite builds the full-replace body: every catalogue item with its desired flag.
func hostupWrite(desired plan.HostUpState, current *hostup.Permissions) *hostup.Permissions {
	flag := func(items []hostup.Resource, ids []string) []hostup.Resource {
		out := make([]hostup.Resource, len(items))
		for i, it := range items {
			it.HasAccess = slices.Contains(ids, it.ID)
			out[i] = it
		}
		return out
	}
	r := desired.Rights
	return &hostup.Permissions{
		Services:        flag(current.Services, desired.Services),
		Domains:         flag(current.Domains, desired.Domains),
		DNSZones:        flag(current.DNSZones, desired.DNSZones),
		CanViewInvoices: r["canViewInvoices"], CanReceiveInvoices: r["canReceiveInvoices"],
		CanOpenTickets: r["canOpenTickets"], CanViewTickets: r["canViewTickets"],
		CanReceiveTicketEmails: r["canReceiveTicketEmails"], CanCloseTickets: r["canCloseTickets"],
		CanPlaceOrders: r["canPlaceOrders"], AccessAllVps: r["accessAllVps"],
		AccessAllHosting: r["accessAllHosting"], AccessAllDomains: r["accessAllDomains"],
	}
}

func observedHostUpStatus(st plan.HostUpState, names map[string]string) *accessv1alpha1.ObservedHostUp {
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

package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/plan"
)

// syncOnlyOffice reconciles the sharing of one ONLYOFFICE CRM contact.
func (run *caRun) syncOnlyOffice(ctx context.Context) {
	obj := run.obj
	spec := obj.Spec.OnlyOffice
	obj.Status.ContactID = fmt.Sprint(spec.ContactID)

	managers, names, ok := run.resolveManagers(ctx, spec.Managers)
	if !ok {
		return
	}
	desired := plan.OnlyOfficeState{ShareType: plan.ShareNone, Managers: managers}
	if spec.Shared {
		desired = plan.OnlyOfficeState{ShareType: plan.ShareReadWrite}
	}

	current, ok := run.readContact(ctx, names)
	if !ok {
		return
	}
	p := plan.OnlyOffice(desired, current, names)
	decision := plan.Gate(obj.Spec.ManagementPolicy, p)
	if !decision.Write {
		run.finish(ctx, p.Differences, decision.Pending, false)
		return
	}
	if err := run.conn.access.Set(ctx, spec.ContactID, spec.Shared, desired.Managers); err != nil {
		run.fail(err)
		return
	}
	// Verify by read: the PUT answer shows the sharing as it was before the write.
	after, ok := run.readContact(ctx, names)
	if !ok {
		return
	}
	if still := plan.OnlyOffice(desired, after, names); !still.Empty() {
		if slices.Contains(after.Managers, onlyoffice.LostUserID) {
			run.out = stalled(accessv1alpha1.ReasonUnknownManager,
				"ONLYOFFICE reads a manager id back as a removed/unknown user: check spec.onlyoffice.managers ids", true)
			return
		}
		run.fail(fmt.Errorf("cannot verify the access of contact %d: ONLYOFFICE still differs after the write: %s", spec.ContactID, strings.Join(still.Differences, "; ")))
		return
	}
	run.finish(ctx, p.Differences, nil, true)
}

// readContact reads the contact's sharing and records it in status.observed.
func (run *caRun) readContact(ctx context.Context, names map[string]string) (plan.OnlyOfficeState, bool) {
	id := run.obj.Spec.OnlyOffice.ContactID
	c, err := run.conn.OnlyOffice.GetContact(ctx, id)
	if err != nil {
		if onlyoffice.IsNotFound(err) {
			run.out = stalled(accessv1alpha1.ReasonContactNotFound,
				fmt.Sprintf("ONLYOFFICE has no CRM contact %d that these credentials can read: check spec.onlyoffice.contactID and that the ProviderConfig's user is a CRM administrator", id), true)
			return plan.OnlyOfficeState{}, false
		}
		run.fail(err)
		return plan.OnlyOfficeState{}, false
	}
	st := plan.OnlyOfficeState{ShareType: c.ShareType}
	obs := &accessv1alpha1.ObservedOnlyOffice{ShareType: plan.ShareTypeName(c.ShareType)}
	for _, m := range c.AccessList {
		st.Managers = append(st.Managers, m.ID)
		obs.Managers = append(obs.Managers, accessv1alpha1.ObservedManager{ID: m.ID, DisplayName: m.DisplayName})
		if names[m.ID] == "" {
			names[m.ID] = m.DisplayName
		}
	}
	run.obj.Status.Observed = &accessv1alpha1.ObservedAccess{OnlyOffice: obs}
	return st, true
}

// resolveManagers turns manager references into user GUIDs. An unknown e-mail, a terminated
// user or a visitor stalls the object: nothing is written.
func (run *caRun) resolveManagers(ctx context.Context, refs []accessv1alpha1.ManagerRef) ([]string, map[string]string, bool) {
	names := map[string]string{}
	var ids, unknown, inactive []string
	now := run.r.now()
	for _, ref := range refs {
		if ref.ID != "" {
			ids = append(ids, strings.ToLower(ref.ID))
			continue
		}
		email := strings.ToLower(ref.Email)
		v, err, _ := run.conn.users.flight.Do(email, func() (any, error) {
			if u, cached := run.conn.users.get(email, now); cached {
				return u, nil
			}
			got, err := run.conn.OnlyOffice.UserByEmail(ctx, email)
			if err != nil {
				return nil, err
			}
			run.conn.users.put(email, *got, now.Add(run.interval))
			return *got, nil
		})
		if err != nil {
			if onlyoffice.IsNotFound(err) {
				unknown = append(unknown, ref.Email)
				continue
			}
			run.fail(err)
			return nil, nil, false
		}
		u := v.(onlyoffice.User)
		if !u.Active() || u.IsVisitor {
			state := "terminated or not activated"
			if u.IsVisitor {
				state = "a visitor (guests have no CRM access)"
			}
			inactive = append(inactive, fmt.Sprintf("%s is %s", ref.Email, state))
			continue
		}
		ids = append(ids, strings.ToLower(u.ID))
		names[strings.ToLower(u.ID)] = ref.Email
	}
	switch {
	case len(unknown) > 0:
		run.out = stalled(accessv1alpha1.ReasonUnknownManager,
			"nothing was written; no portal user has the e-mail "+strings.Join(unknown, ", "), true)
		return nil, nil, false
	case len(inactive) > 0:
		run.out = stalled(accessv1alpha1.ReasonManagerNotActive, "nothing was written; "+strings.Join(inactive, "; "), true)
		return nil, nil, false
	}
	slices.Sort(ids)
	return slices.Compact(ids), names, true
}

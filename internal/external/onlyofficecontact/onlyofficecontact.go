// Package onlyofficecontact is the external client of a ContactAccess with spec.onlyoffice: who
// may see one ONLYOFFICE CRM contact. Writes of identical access are coalesced into bulk PUTs
// (coalesce.go); manager e-mails are resolved through a per-account cache.
package onlyofficecontact

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/plan"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// EventRevoked is the event reason of a Revoke on delete.
const EventRevoked = "Revoked"

// External implements reconciler.External for ONLYOFFICE CRM contacts.
type External struct {
	API      onlyoffice.API
	access   *accessBatcher
	users    *userCache
	interval time.Duration
	now      func() time.Time
}

var _ reconciler.External[*accessv1alpha1.ContactAccess] = (*External)(nil)

type batcherKey struct{}
type usersKey struct{}

// New returns the external client over conn (its coalescer and user cache are per account).
func New(conn *connection.Connection, interval time.Duration, now func() time.Time) *External {
	return &External{
		API:      conn.OnlyOffice,
		access:   conn.Value(batcherKey{}, func() any { return newAccessBatcher(conn.OnlyOffice) }).(*accessBatcher),
		users:    conn.Value(usersKey{}, func() any { return &userCache{} }).(*userCache),
		interval: interval,
		now:      now,
	}
}

// Observe resolves the managers (nothing is compared, let alone written, until every one is
// known and active), reads the contact's sharing and compares.
func (e *External) Observe(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.Observation, error) {
	spec := obj.Spec.OnlyOffice
	obj.Status.ContactID = fmt.Sprint(spec.ContactID)
	desired, names, res, err := e.desired(ctx, spec)
	if err != nil || res != nil {
		return reconciler.Observation{Exists: true, Result: res}, err
	}
	current, res, err := e.read(ctx, obj, names)
	if err != nil || res != nil {
		return reconciler.Observation{Exists: true, Result: res}, err
	}
	obs := reconciler.Observation{Exists: true, Diff: plan.OnlyOffice(desired, current, names).Differences}
	if len(obs.Diff) > 0 && obj.GetManagementPolicy() != accessv1alpha1.ManagementObserve {
		// This reconcile writes next: identical writes of other contacts wait for it.
		e.access.Expect(spec.ContactID, spec.Shared, desired.Managers)
	}
	if slices.Contains(current.Managers, onlyoffice.LostUserID) {
		o := reconciler.Stalled(accessv1alpha1.ReasonUnknownManager,
			"ONLYOFFICE reads a manager id back as a removed/unknown user: check spec.onlyoffice.managers ids", true)
		obs.Stuck = &o
	}
	return obs, nil
}

// Create is never called: CRM contacts are not created by contactsync (Observe always reports
// that the contact exists, or stalls when it does not).
func (e *External) Create(context.Context, *accessv1alpha1.ContactAccess) (reconciler.Created, error) {
	return reconciler.Created{}, reconciler.NotSentError(fmt.Errorf("cannot create ONLYOFFICE CRM contacts: contactsync only manages who may see them"))
}

// Update writes the desired sharing (possibly coalesced with other contacts' identical writes).
func (e *External) Update(ctx context.Context, obj *accessv1alpha1.ContactAccess, _ reconciler.Observation) error {
	spec := obj.Spec.OnlyOffice
	desired, _, res, err := e.desired(ctx, spec)
	if err != nil {
		return err
	}
	if res != nil {
		return reconciler.Fail(*res)
	}
	return e.access.Set(ctx, spec.ContactID, spec.Shared, desired.Managers)
}

// Delete (Revoke) makes the contact private with no managers, so only CRM administrators see it.
func (e *External) Delete(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.Deleted, error) {
	id := obj.Spec.OnlyOffice.ContactID
	c, err := e.API.GetContact(ctx, id)
	if onlyoffice.IsNotFound(err) {
		return reconciler.Deleted{Done: true}, nil
	}
	if err != nil {
		return reconciler.Deleted{}, err
	}
	if c.ShareType == plan.ShareNone && len(c.AccessList) == 0 {
		return reconciler.Deleted{Done: true}, nil
	}
	if err := e.access.Set(ctx, id, false, nil); err != nil {
		return reconciler.Deleted{}, err
	}
	return reconciler.Deleted{Done: true, Reason: EventRevoked, Message: fmt.Sprintf("Made CRM contact %d private with no managers", id)}, nil
}

func (e *External) desired(ctx context.Context, spec *accessv1alpha1.OnlyOfficeContactAccess) (plan.OnlyOfficeState, map[string]string, *reconciler.Outcome, error) {
	managers, names, res, err := e.resolveManagers(ctx, spec.Managers)
	if err != nil || res != nil {
		return plan.OnlyOfficeState{}, nil, res, err
	}
	if spec.Shared {
		return plan.OnlyOfficeState{ShareType: plan.ShareReadWrite}, names, nil, nil
	}
	return plan.OnlyOfficeState{ShareType: plan.ShareNone, Managers: managers}, names, nil, nil
}

// read reads the contact's sharing and records it in status.observed.
func (e *External) read(ctx context.Context, obj *accessv1alpha1.ContactAccess, names map[string]string) (plan.OnlyOfficeState, *reconciler.Outcome, error) {
	id := obj.Spec.OnlyOffice.ContactID
	c, err := e.API.GetContact(ctx, id)
	if err != nil {
		if onlyoffice.IsNotFound(err) {
			o := reconciler.Stalled(accessv1alpha1.ReasonContactNotFound,
				fmt.Sprintf("ONLYOFFICE has no CRM contact %d that these credentials can read: check spec.onlyoffice.contactID and that the ProviderConfig's user is a CRM administrator", id), true)
			return plan.OnlyOfficeState{}, &o, nil
		}
		return plan.OnlyOfficeState{}, nil, err
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
	obj.Status.Observed = &accessv1alpha1.ObservedAccess{OnlyOffice: obs}
	return st, nil, nil
}

// resolveManagers turns manager references into user GUIDs. Ids are checked exactly like
// e-mails (people lookup by id): ONLYOFFICE stores any GUID it is given as an Allow entry plus
// an Everyone-Deny (CommunityServer CRMSecurity.SetAccessTo), so an unknown id would make the
// contact private to a ghost. An unknown user, a terminated user or a visitor stalls the
// object: nothing is written until every manager is known and active.
func (e *External) resolveManagers(ctx context.Context, refs []accessv1alpha1.ManagerRef) ([]string, map[string]string, *reconciler.Outcome, error) {
	names := map[string]string{}
	var ids, unknown, inactive []string
	now := e.now()
	for _, ref := range refs {
		label, key := "the e-mail "+ref.Email, "email:"+strings.ToLower(ref.Email)
		fetch := func() (*onlyoffice.User, error) { return e.API.UserByEmail(ctx, strings.ToLower(ref.Email)) }
		if ref.ID != "" {
			id := strings.ToLower(ref.ID)
			label, key = "the id "+id, "id:"+id
			fetch = func() (*onlyoffice.User, error) { return e.API.UserByID(ctx, id) }
		}
		u, err := e.users.lookup(key, now, e.interval, fetch)
		if err != nil {
			if onlyoffice.IsNotFound(err) {
				unknown = append(unknown, label)
				continue
			}
			return nil, nil, nil, err
		}
		if !u.Active() || u.IsVisitor {
			state := "terminated or not activated"
			if u.IsVisitor {
				state = "a visitor (guests have no CRM access)"
			}
			inactive = append(inactive, fmt.Sprintf("%s is %s", label, state))
			continue
		}
		ids = append(ids, strings.ToLower(u.ID))
		name := ref.Email
		if name == "" {
			name = u.Email
		}
		names[strings.ToLower(u.ID)] = name
	}
	switch {
	case len(unknown) > 0:
		o := reconciler.Stalled(accessv1alpha1.ReasonUnknownManager, "nothing was written; no portal user has "+strings.Join(unknown, ", "), true)
		return nil, nil, &o, nil
	case len(inactive) > 0:
		o := reconciler.Stalled(accessv1alpha1.ReasonManagerNotActive, "nothing was written; "+strings.Join(inactive, "; "), true)
		return nil, nil, &o, nil
	}
	slices.Sort(ids)
	return slices.Compact(ids), names, nil, nil
}

// userCache remembers user lookups for one poll period, so a steady state does not look every
// manager up on every poll; concurrent misses for one key share a single lookup. Expired
// entries are evicted when the cache is next written, so it never grows without bound.
type userCache struct {
	mu      sync.Mutex
	entries map[string]cachedUser
	flight  singleflight.Group
}

type cachedUser struct {
	user    onlyoffice.User
	expires time.Time
}

func (u *userCache) lookup(key string, now time.Time, ttl time.Duration, fetch func() (*onlyoffice.User, error)) (onlyoffice.User, error) {
	v, err, _ := u.flight.Do(key, func() (any, error) {
		u.mu.Lock()
		e, ok := u.entries[key]
		u.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.user, nil
		}
		got, err := fetch()
		if err != nil {
			return nil, err
		}
		u.put(key, *got, now, now.Add(ttl))
		return *got, nil
	})
	if err != nil {
		return onlyoffice.User{}, err
	}
	return v.(onlyoffice.User), nil
}

func (u *userCache) put(key string, user onlyoffice.User, now, expires time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.entries == nil {
		u.entries = map[string]cachedUser{}
	}
	for k, e := range u.entries {
		if !now.Before(e.expires) {
			delete(u.entries, k)
		}
	}
	u.entries[key] = cachedUser{user, expires}
}

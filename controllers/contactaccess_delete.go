package controllers

import (
	"context"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/plan"
)

// delete applies the deletion policy, then lets the object go. When the policy cannot be
// applied (no ProviderConfig, API down) the finalizer stays and the status says why and how
// to let go (deletionPolicy: Orphan).
func (run *caRun) delete(ctx context.Context, orig *accessv1alpha1.ContactAccess) (ctrl.Result, error) {
	obj, r := run.obj, run.r
	if !controllerutil.ContainsFinalizer(obj, accessv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	// Observe never writes, not even on delete: it behaves as Orphan.
	done := obj.Spec.DeletionPolicy == accessv1alpha1.DeletionOrphan || obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve
	if !done {
		if err := run.connect(ctx); err == nil {
			done = run.applyDeletionPolicy(ctx)
		} else if run.out.kind != outcomeRetrying {
			run.out.message = fmt.Sprintf("cannot apply deletionPolicy %s: %s. Fix that, or set spec.deletionPolicy to Orphan to let the object go without changing the provider",
				obj.Spec.DeletionPolicy, run.out.message)
			run.out.kind = outcomeStalled
		}
	} else {
		r.Recorder.Eventf(obj, nil, "Normal", eventOrphaned, "Delete", "deletionPolicy %s with managementPolicy %s: the provider was left as it is",
			obj.Spec.DeletionPolicy, obj.Spec.ManagementPolicy)
	}
	if done {
		controllerutil.RemoveFinalizer(obj, accessv1alpha1.Finalizer)
		if err := r.Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, nil
	}
	return run.complete(ctx, r.Client, r.Recorder, &r.retries, obj, orig)
}

// applyDeletionPolicy revokes or deletes; it reports whether the object may go.
func (run *caRun) applyDeletionPolicy(ctx context.Context) bool {
	obj, r := run.obj, run.r
	if obj.Spec.HostUp != nil {
		id := int64(0)
		if obj.Spec.HostUp.Contact.ID != nil {
			id = *obj.Spec.HostUp.Contact.ID
		} else if v := obj.Annotations[accessv1alpha1.AnnotationCreatedID]; v != "" {
			id, _ = strconv.ParseInt(v, 10, 64)
		}
		if id == 0 {
			if _, pending := obj.Annotations[accessv1alpha1.AnnotationCreatePending]; pending {
				r.Recorder.Eventf(obj, nil, "Warning", accessv1alpha1.ReasonCreateOutcomeUnknown, "Delete",
					"a contact for %s may exist in HostUp without its id recorded: check the dashboard's Teams page and remove it there if it does",
					obj.Spec.HostUp.Contact.Create.Email)
			}
			return true // nothing was created by this object
		}
		if obj.Spec.DeletionPolicy == accessv1alpha1.DeletionDelete {
			// Only a contact this object created (admission allows Delete only with create).
			if obj.Annotations[accessv1alpha1.AnnotationCreatedID] == "" {
				return true
			}
			if err := run.conn.HostUp.DeleteContact(ctx, id); err != nil && !hostup.IsNotFound(err) {
				run.fail(err)
				return false
			}
			r.Recorder.Eventf(obj, nil, "Normal", eventDeleted, "Delete", "Deleted HostUp contact %d", id)
			return true
		}
		perms, err := run.conn.HostUp.GetPermissions(ctx, id)
		if hostup.IsNotFound(err) {
			return true
		}
		if err != nil {
			run.fail(err)
			return false
		}
		observed, names, _ := hostupObserved(perms)
		none := plan.HostUpState{}
		if plan.HostUp(none, observed, names).Empty() {
			return true
		}
		if err := run.conn.HostUp.SetPermissions(ctx, id, hostupWrite(none, perms)); err != nil {
			run.fail(err)
			return false
		}
		r.Recorder.Eventf(obj, nil, "Normal", eventRevoked, "Delete", "Revoked every permission of HostUp contact %d", id)
		return true
	}
	id := obj.Spec.OnlyOffice.ContactID
	c, err := run.conn.OnlyOffice.GetContact(ctx, id)
	if onlyoffice.IsNotFound(err) {
		return true
	}
	if err != nil {
		run.fail(err)
		return false
	}
	if c.ShareType == plan.ShareNone && len(c.AccessList) == 0 {
		return true
	}
	// Revoke: private with no managers, so only CRM administrators can see the contact.
	if err := run.conn.access.Set(ctx, id, false, nil); err != nil {
		run.fail(err)
		return false
	}
	r.Recorder.Eventf(obj, nil, "Normal", eventRevoked, "Delete", "Made CRM contact %d private with no managers", id)
	return true
}

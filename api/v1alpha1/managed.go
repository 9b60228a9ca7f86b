package v1alpha1

// The accessors below let the managed reconcile loop (internal/reconciler) treat every kind
// alike.

// GetManagementPolicy returns the object's management policy (Enforce when unset).
func (o *ContactAccess) GetManagementPolicy() ManagementPolicy {
	return policyOrEnforce(o.Spec.ManagementPolicy)
}

// GetManagementPolicy returns the object's management policy (Enforce when unset).
func (o *DelegatedGrant) GetManagementPolicy() ManagementPolicy {
	return policyOrEnforce(o.Spec.ManagementPolicy)
}

// OrphansOnDelete reports whether deleting the object leaves the provider as it is.
func (o *ContactAccess) OrphansOnDelete() bool { return o.Spec.DeletionPolicy == DeletionOrphan }

// OrphansOnDelete reports whether deleting the object leaves the provider as it is.
func (o *DelegatedGrant) OrphansOnDelete() bool { return o.Spec.DeletionPolicy == GrantDeletionOrphan }

// GetDeletionPolicy names the deletion policy, for messages.
func (o *ContactAccess) GetDeletionPolicy() string { return string(o.Spec.DeletionPolicy) }

// GetDeletionPolicy names the deletion policy, for messages.
func (o *DelegatedGrant) GetDeletionPolicy() string { return string(o.Spec.DeletionPolicy) }

// SetPlan records the differences found (drift) and those left unapplied (pending).
func (o *ContactAccess) SetPlan(drift, pending []string) {
	o.Status.Drift, o.Status.Plan = drift, pending
}

// SetPlan records the changes left unapplied (pending); a grant has no drift list.
func (o *DelegatedGrant) SetPlan(_, pending []string) { o.Status.Plan = pending }

func policyOrEnforce(p ManagementPolicy) ManagementPolicy {
	if p == "" {
		return ManagementEnforce
	}
	return p
}

package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// DelegatedGrantReconciler reconciles DelegatedGrant objects.
type DelegatedGrantReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/finalizers,verbs=update

// Reconcile is a shell until its own issue lands: it writes nothing, and claims no Ready.
func (r *DelegatedGrantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *DelegatedGrantReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.DelegatedGrant{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(r)
}

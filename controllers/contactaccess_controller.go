package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// ContactAccessReconciler reconciles ContactAccess objects.
type ContactAccessReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/finalizers,verbs=update

// Reconcile is a shell until its own issue lands: it writes nothing, and claims no Ready.
func (r *ContactAccessReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *ContactAccessReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.ContactAccess{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(r)
}

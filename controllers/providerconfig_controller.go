package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// ProviderConfigReconciler reconciles ProviderConfig objects.
type ProviderConfigReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/finalizers,verbs=update

// Reconcile is a shell until its own issue lands: it writes nothing, and claims no Ready.
func (r *ProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *ProviderConfigReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.ProviderConfig{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(r)
}

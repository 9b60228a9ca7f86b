package controllers

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// The field indexes of the objects that use a config: indexProviderConfig holds the name of a
// ProviderConfig (of the object's namespace), indexClusterProviderConfig the name of a
// ClusterProviderConfig. An object is in exactly one of them.
const indexClusterProviderConfig = "spec.providerConfigRef.clusterName"

// refOf returns the providerConfigRef of a ContactAccess or DelegatedGrant.
func refOf(obj client.Object) accessv1alpha1.ProviderConfigReference {
	switch o := obj.(type) {
	case *accessv1alpha1.ContactAccess:
		return o.Spec.ProviderConfigRef
	case *accessv1alpha1.DelegatedGrant:
		return o.Spec.ProviderConfigRef
	}
	return accessv1alpha1.ProviderConfigReference{}
}

// indexRef indexes a dependant under its ProviderConfig (cluster false) or ClusterProviderConfig.
func indexRef(cluster bool) client.IndexerFunc {
	return func(obj client.Object) []string {
		if ref := refOf(obj); ref.IsCluster() == cluster {
			return []string{ref.Name}
		}
		return nil
	}
}

// indexDependant registers both indexes of a dependant kind.
func indexDependant(ctx context.Context, idx client.FieldIndexer, obj client.Object) error {
	if err := idx.IndexField(ctx, obj, indexProviderConfig, indexRef(false)); err != nil {
		return err
	}
	return idx.IndexField(ctx, obj, indexClusterProviderConfig, indexRef(true))
}

// configRequest is the request of the config obj uses.
func configRequest(obj client.Object) reconcile.Request {
	ref := refOf(obj)
	if ref.IsCluster() {
		return reconcile.Request{NamespacedName: types.NamespacedName{Name: ref.Name}}
	}
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}}
}

// watchDependants wakes the usage reconciler of a config when an object that uses it appears or
// goes (the reference is immutable, so updates cannot change the count).
func watchDependants(b *ctrl.Builder, cluster bool) *ctrl.Builder {
	toConfig := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		if refOf(obj).IsCluster() != cluster {
			return nil
		}
		return []reconcile.Request{configRequest(obj)}
	})
	createOrDelete := ctrl.WithPredicates(predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }})
	return b.Watches(&accessv1alpha1.ContactAccess{}, toConfig, createOrDelete).
		Watches(&accessv1alpha1.DelegatedGrant{}, toConfig, createOrDelete)
}

// dependants lists "Kind namespace/name" of every ContactAccess and DelegatedGrant using the
// config (kind and key as in a reconcile.Request of it), sorted.
func dependants(ctx context.Context, kube client.Reader, cluster bool, key types.NamespacedName) ([]string, error) {
	var opts []client.ListOption
	if cluster {
		opts = []client.ListOption{client.MatchingFields{indexClusterProviderConfig: key.Name}}
	} else {
		opts = []client.ListOption{client.InNamespace(key.Namespace), client.MatchingFields{indexProviderConfig: key.Name}}
	}
	var out []string
	cas := &accessv1alpha1.ContactAccessList{}
	if err := kube.List(ctx, cas, opts...); err != nil {
		return nil, fmt.Errorf("cannot list ContactAccesses: %w", err)
	}
	for _, o := range cas.Items {
		out = append(out, "ContactAccess "+o.Namespace+"/"+o.Name)
	}
	dgs := &accessv1alpha1.DelegatedGrantList{}
	if err := kube.List(ctx, dgs, opts...); err != nil {
		return nil, fmt.Errorf("cannot list DelegatedGrants: %w", err)
	}
	for _, o := range dgs.Items {
		out = append(out, "DelegatedGrant "+o.Namespace+"/"+o.Name)
	}
	sort.Strings(out)
	return out, nil
}

// watchClusterConfigs wakes the objects of list's kind that use a ClusterProviderConfig when it
// changes (its selector included) or its readiness does, and those of a namespace whose labels
// change (the selector may now match, or no longer).
func watchClusterConfigs(b *ctrl.Builder, kube client.Reader, list func() client.ObjectList) *ctrl.Builder {
	return b.Watches(&accessv1alpha1.ClusterProviderConfig{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, cpc client.Object) []reconcile.Request {
		return requestsFor(ctx, kube, list(), "", indexClusterProviderConfig, cpc.GetName())
	}), ctrl.WithPredicates(providerConfigReadinessChanged())).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
			l := list()
			if err := kube.List(ctx, l, client.InNamespace(ns.GetName())); err != nil {
				logf.FromContext(ctx).Error(err, "cannot list objects of a namespace", "namespace", ns.GetName())
				return nil
			}
			var out []reconcile.Request
			eachObject(l, func(o client.Object) {
				if refOf(o).IsCluster() {
					out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
				}
			})
			return out
		}), ctrl.WithPredicates(predicate.LabelChangedPredicate{}, onlyUpdates()))
}

func onlyUpdates() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func eachObject(list client.ObjectList, f func(client.Object)) {
	switch l := list.(type) {
	case *accessv1alpha1.ContactAccessList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *accessv1alpha1.DelegatedGrantList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	}
}

// configReady reports the Ready of a ProviderConfig or ClusterProviderConfig for its generation.
func configReady(obj client.Object) bool {
	switch o := obj.(type) {
	case *accessv1alpha1.ProviderConfig:
		return reconciler.IsReady(o.Status.Conditions, o.Generation)
	case *accessv1alpha1.ClusterProviderConfig:
		return reconciler.IsReady(o.Status.Conditions, o.Generation)
	}
	return false
}

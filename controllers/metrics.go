package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Per-object metrics for dashboards and alerts (docs/metrics.md), in the spirit of External
// Secrets Operator's externalsecret_status_condition and Crossplane's ready/synced gauges.
// They are computed at scrape time from the manager's cache, so they cost no memory between
// scrapes, always match the objects' status, and vanish with a deleted object.
var (
	conditionDesc = prometheus.NewDesc("contactsync_object_condition",
		"Conditions of each contactsync object: one series per condition, labelled with its current status (True, False, or Unknown when not set yet), value 1.",
		[]string{"kind", "namespace", "name", "condition", "status"}, nil)
	inviteExpiryDesc = prometheus.NewDesc("contactsync_invite_expiry_timestamp_seconds",
		"When the pending invitation of each DelegatedGrant expires (Unix time); only pending invitations have a series.",
		[]string{"namespace", "name"}, nil)
)

// StatusCollector reports the conditions of every object in the manager's cache. Only the
// leader reports (other replicas hold the same cache; their series would be duplicates).
type StatusCollector struct {
	mu      sync.Mutex
	reader  client.Reader
	elected <-chan struct{}
}

// statusCollector is registered with the manager's metrics registry; Setup points it at the
// manager's cache (until then it reports nothing).
var statusCollector = &StatusCollector{}

func init() { ctrlmetrics.Registry.MustRegister(statusCollector) }

func (c *StatusCollector) use(reader client.Reader, elected <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.elected = reader, elected
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- conditionDesc
	ch <- inviteExpiryDesc
}

// conditionTypes are the conditions every object carries.
var conditionTypes = []string{accessv1alpha1.TypeReady, accessv1alpha1.TypeSynced, accessv1alpha1.TypeReconciling, accessv1alpha1.TypeStalled}

// Collect implements prometheus.Collector.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reader, elected := c.reader, c.elected
	c.mu.Unlock()
	if reader == nil {
		return
	}
	select {
	case <-elected:
	default:
		return // not the leader
	}
	// Read-only use of the cached objects: no copy of 10 000 objects per scrape.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conditions := func(kind, ns, name string, conds []metav1.Condition) {
		for _, t := range conditionTypes {
			status := metav1.ConditionUnknown
			for _, cond := range conds {
				if cond.Type == t {
					status = cond.Status
				}
			}
			ch <- prometheus.MustNewConstMetric(conditionDesc, prometheus.GaugeValue, 1, kind, ns, name, t, string(status))
		}
	}
	pcs := &accessv1alpha1.ProviderConfigList{}
	if reader.List(ctx, pcs, client.UnsafeDisableDeepCopy) == nil {
		for _, o := range pcs.Items {
			conditions("ProviderConfig", o.Namespace, o.Name, o.Status.Conditions)
		}
	}
	cpcs := &accessv1alpha1.ClusterProviderConfigList{}
	if reader.List(ctx, cpcs, client.UnsafeDisableDeepCopy) == nil {
		for _, o := range cpcs.Items {
			conditions("ClusterProviderConfig", "", o.Name, o.Status.Conditions) // cluster-scoped: no namespace
		}
	}
	cas := &accessv1alpha1.ContactAccessList{}
	if reader.List(ctx, cas, client.UnsafeDisableDeepCopy) == nil {
		for _, o := range cas.Items {
			conditions("ContactAccess", o.Namespace, o.Name, o.Status.Conditions)
		}
	}
	dgs := &accessv1alpha1.DelegatedGrantList{}
	if reader.List(ctx, dgs, client.UnsafeDisableDeepCopy) == nil {
		for _, o := range dgs.Items {
			conditions("DelegatedGrant", o.Namespace, o.Name, o.Status.Conditions)
			if o.Status.State == accessv1alpha1.GrantPending && o.Status.InviteExpiresAt != nil {
				ch <- prometheus.MustNewConstMetric(inviteExpiryDesc, prometheus.GaugeValue, float64(o.Status.InviteExpiresAt.Unix()), o.Namespace, o.Name)
			}
		}
	}
}

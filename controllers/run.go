package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// statusHeartbeat is how often lastSyncTime is refreshed when nothing else in status changed.
const statusHeartbeat = time.Hour

// statusObject is any kind of this API: it has the common status and a comparable status.
type statusObject interface {
	client.Object
	GetCommonStatus() *accessv1alpha1.CommonStatus
	StatusValue() any
}

// runState is what one reconcile of any kind accumulates: the connection it used and how it
// ended. The generic loop (connect, classify errors, write status once, requeue) lives here;
// the per-kind code only observes, plans and applies.
type runState struct {
	conn     *Connection
	interval time.Duration
	out      outcome
	// retryAfter asks for a requeue at a time the provider gave.
	retryAfter time.Duration
	// retryErr sends the object back to the queue with backoff.
	retryErr error
}

// fail records a provider or Kubernetes error: terminal ones stall, others retry.
func (s *runState) fail(err error) {
	s.out = classify(err)
	if s.out.kind == outcomeRetrying {
		if ra := retryAfterOf(err); ra > 0 {
			s.retryAfter = ra
		} else {
			s.retryErr = err
		}
	}
}

// connect finds the ProviderConfig named ref (in the object's own namespace only) and its
// shared connection. It reports false, with the outcome set, when the run ends here.
func (s *runState) connect(ctx context.Context, kube client.Client, conns *Connections, ns, ref string, wantHostUp bool, override *metav1.Duration) bool {
	conn, interval, out, ok := connectProvider(ctx, kube, conns, ns, ref, wantHostUp, override)
	s.interval = interval
	if !ok {
		s.out = out
		if out.kind == outcomeRetrying {
			s.retryErr = errors.New(out.message)
		}
		return false
	}
	s.conn = conn
	return true
}

// complete writes the outcome into the status — once, and only if the status changed — emits
// a Warning when the object newly stalls, and says when to come back.
func (s *runState) complete(ctx context.Context, kube client.Client, rec events.EventRecorder, retries *retryBackoff, obj, orig statusObject) (ctrl.Result, error) {
	st := obj.GetCommonStatus()
	s.out.apply(&st.Conditions, obj.GetGeneration())
	st.ObservedGeneration = obj.GetGeneration()
	// A poll that found nothing new writes nothing: lastSyncTime alone moves at most once per
	// statusHeartbeat (10 000 objects must not mean a status write per object per poll).
	if prev, now := orig.GetCommonStatus().LastSyncTime, st.LastSyncTime; prev != nil && now != nil && now.Sub(prev.Time) < statusHeartbeat {
		st.LastSyncTime = prev
		if !equality.Semantic.DeepEqual(orig.StatusValue(), obj.StatusValue()) {
			st.LastSyncTime = now
		}
	}
	if !equality.Semantic.DeepEqual(orig.StatusValue(), obj.StatusValue()) {
		if err := kube.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
			if apierrors.IsNotFound(err) {
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("cannot write status: %w", err)
		}
	}
	if s.out.kind == outcomeStalled {
		before := meta.FindStatusCondition(orig.GetCommonStatus().Conditions, accessv1alpha1.TypeStalled)
		if before == nil || before.Status != metav1.ConditionTrue || before.Reason != s.out.reason || before.ObservedGeneration != obj.GetGeneration() {
			rec.Eventf(obj, nil, corev1.EventTypeWarning, s.out.reason, "Reconcile", "%s", s.out.message)
		}
	}
	key := client.ObjectKeyFromObject(obj)
	switch {
	case s.retryAfter > 0:
		return ctrl.Result{RequeueAfter: s.retryAfter}, nil
	case s.retryErr != nil:
		delay := retries.next(key, s.interval)
		logf.FromContext(ctx).Info("retrying after an error", "error", s.retryErr.Error(), "after", delay)
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	retries.forget(key)
	return ctrl.Result{RequeueAfter: jitter(s.interval)}, nil
}

// ensureFinalizer adds the finalizer if it is missing and returns the base for the status
// patch (the object as the API server now has it).
func ensureFinalizer[T statusObject](ctx context.Context, kube client.Client, obj, orig T) (T, error) {
	if !controllerutil.AddFinalizer(obj, accessv1alpha1.Finalizer) {
		return orig, nil
	}
	if err := kube.Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		return orig, fmt.Errorf("cannot add finalizer: %w", err)
	}
	return obj.DeepCopyObject().(T), nil
}

// requestsFor maps an event to the objects of list's kind in ns whose indexed field equals
// value (for example the ContactAccess objects that use a ProviderConfig).
func requestsFor(ctx context.Context, kube client.Reader, list client.ObjectList, ns, field, value string) []reconcile.Request {
	if err := kube.List(ctx, list, client.InNamespace(ns), client.MatchingFields{field: value}); err != nil {
		logf.FromContext(ctx).Error(err, "cannot list dependants", "field", field, "value", value)
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// retryBackoff spaces the retries of an object that keeps failing: 1 s doubling per
// consecutive failure, but never longer than the object's poll interval (a failing object is
// retried at least as often as a healthy one is polled) nor 5 minutes. A Retry-After from the
// provider is honoured separately.
type retryBackoff struct {
	mu       sync.Mutex
	failures map[types.NamespacedName]int
}

func (b *retryBackoff) next(key types.NamespacedName, interval time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == nil {
		b.failures = map[types.NamespacedName]int{}
	}
	n := b.failures[key]
	b.failures[key] = n + 1
	d := time.Second << min(n, 9)
	return jitter(min(d, interval, 5*time.Minute))
}

func (b *retryBackoff) forget(key types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, key)
}

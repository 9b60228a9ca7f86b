package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// StatusHeartbeat is how often lastSyncTime is refreshed when nothing else in status changed.
const StatusHeartbeat = time.Hour

// StatusObject is anything with the common status: the managed kinds and ProviderConfig.
type StatusObject interface {
	client.Object
	GetCommonStatus() *accessv1alpha1.CommonStatus
	StatusValue() any
}

// WriteStatus applies out to obj's conditions and writes the status — once, and only if it
// changed. A poll that found nothing new writes nothing: lastSyncTime alone moves at most once
// per StatusHeartbeat (10 000 objects must not mean a status write per object per poll). Every
// kind, ProviderConfig included, writes its status through here.
func WriteStatus(ctx context.Context, kube client.Client, obj, orig StatusObject, out Outcome) error {
	st := obj.GetCommonStatus()
	out.Apply(&st.Conditions, obj.GetGeneration())
	st.ObservedGeneration = obj.GetGeneration()
	if prev, now := orig.GetCommonStatus().LastSyncTime, st.LastSyncTime; prev != nil && now != nil && now.Sub(prev.Time) < StatusHeartbeat {
		st.LastSyncTime = prev
		if !equality.Semantic.DeepEqual(orig.StatusValue(), obj.StatusValue()) {
			st.LastSyncTime = now
		}
	}
	if equality.Semantic.DeepEqual(orig.StatusValue(), obj.StatusValue()) {
		return nil
	}
	if err := kube.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("cannot write status: %w", err)
	}
	return nil
}

// newlyStalled reports whether a Stalled outcome with reason is news compared with orig (so a
// Warning event is sent once per reason and generation, not once per poll).
func newlyStalled(orig StatusObject, generation int64, reason string) bool {
	before := meta.FindStatusCondition(orig.GetCommonStatus().Conditions, accessv1alpha1.TypeStalled)
	return before == nil || before.Status != metav1.ConditionTrue || before.Reason != reason || before.ObservedGeneration != generation
}

// Backoff spaces the retries of an object that keeps failing: 1 s (base) doubling per consecutive
// failure, but never longer than the object's poll interval (a failing object is retried at
// least as often as a healthy one is polled) nor 5 minutes. A Retry-After from the provider is
// honoured separately.
type Backoff struct {
	mu       sync.Mutex
	failures map[types.NamespacedName]int
}

// Next counts one more failure of key and returns the delay before its retry; base is the
// first delay (zero: 1 s).
func (b *Backoff) Next(key types.NamespacedName, interval, base time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == nil {
		b.failures = map[types.NamespacedName]int{}
	}
	n := b.failures[key]
	b.failures[key] = n + 1
	if base <= 0 {
		base = time.Second
	}
	d := base << min(n, 9)
	return Jitter(min(d, interval, 5*time.Minute))
}

// Forget drops key's failures (it succeeded, or is gone), so the map never grows without bound.
func (b *Backoff) Forget(key types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, key)
}

package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
)

// DefaultSyncInterval is the poll period when neither the object nor its ProviderConfig sets one.
const DefaultSyncInterval = 10 * time.Minute

// Event reasons of the loop.
const (
	EventCreated        = "Created"
	EventUpdated        = "Updated"
	EventDriftCorrected = "DriftCorrected"
	EventDriftDetected  = "DriftDetected"
	EventOrphaned       = "Orphaned"
	EventAdopted        = "Adopted"
)

// Reconciler runs the managed loop for one kind.
type Reconciler[T Object] struct {
	Kube client.Client
	// APIReader reads uncached (the manager's API reader); used only when an intent is found.
	APIReader client.Reader
	New       func() T
	Connector Connector[T]
	Recorder  events.EventRecorder
	// Now is the clock (tests may set it).
	Now func() time.Time
	// AfterCreate, when set (tests only), runs between a create call and the recording of its
	// id; an error from it stands for a crash at that point.
	AfterCreate func() error
	// CreateTimeout bounds a detached create and the recording of its id; zero or anything
	// longer means DetachedTimeout (tests shorten it).
	CreateTimeout time.Duration
	// RetryBase is the first delay of the retries after a provider error (doubling per
	// consecutive failure, capped by the poll interval); zero means 1 s. The test manager
	// divides it like its poll intervals.
	RetryBase time.Duration

	retries Backoff
	creates createGate
	// recordBackoff paces the in-process retries of recording a created id (zero: the default).
	recordBackoff wait.Backoff
}

// result is how one pass ended: the outcome and when to come back.
type result struct {
	out      Outcome
	interval time.Duration
	// retryAfter asks for a requeue at a time the provider gave.
	retryAfter time.Duration
	// retryErr sends the object back with backoff.
	retryErr error
	// skipStatus leaves the status as it is (a stale cache answered; nothing was learnt).
	skipStatus bool
}

// quietPause is the longest pause of an account (a provider's Retry-After, seen by another
// object's call) that an object waits out without saying so in its status: a second's pause is
// routine pacing; a longer one is shown as RateLimited.
const quietPause = 5 * time.Second

// fail records an error: terminal ones stall, others retry (honouring Retry-After). A call
// the account's limiter handed back (its turn lies ahead) learnt nothing: the status stays
// and the object comes back at its turn, holding no worker meanwhile.
func (r *result) fail(err error) {
	if we := apiclient.AsWait(err); we != nil && (!we.Paused || time.Until(we.Until) <= quietPause) {
		r.skipStatus = true
		r.retryAfter = max(time.Until(we.Until), time.Millisecond)
		return
	}
	r.out = Classify(err)
	if r.out.Kind == KindRetrying {
		if ra := RetryAfter(err); ra > 0 {
			r.retryAfter = ra
		} else {
			r.retryErr = err
		}
	}
}

func (r *Reconciler[T]) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.New()
	if err := r.Kube.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := obj.DeepCopyObject().(T)
	// The account's limiter may hand the first call of this reconcile back instead of holding
	// the worker (apiclient.Limiter); the ticket names the object so its turn is kept for it.
	ctx = apiclient.WithTicket(ctx, fmt.Sprintf("%T/%s", obj, req.NamespacedName))
	if !obj.GetDeletionTimestamp().IsZero() {
		return r.delete(ctx, obj, orig)
	}
	if controllerutil.AddFinalizer(obj, accessv1alpha1.Finalizer) {
		if err := r.Kube.Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("cannot add finalizer: %w", err)
		}
		orig = obj.DeepCopyObject().(T)
	}
	res := r.sync(ctx, obj)
	return r.complete(ctx, obj, orig, res)
}

// sync runs connect → observe → create → gate → update → verify.
func (r *Reconciler[T]) sync(ctx context.Context, obj T) result {
	ext, interval, err := r.Connector.Connect(ctx, obj)
	res := result{interval: interval}
	if err != nil {
		res.fail(err)
		return res
	}
	obs, err := ext.Observe(ctx, obj)
	if err != nil {
		res.fail(err)
		return res
	}
	r.observedNow(obj)
	if obs.Result != nil {
		res.out = *obs.Result
		return res
	}
	if !obs.Exists {
		if obj.GetManagementPolicy() == accessv1alpha1.ManagementObserve {
			r.observeOnly(obj, nil, Pending(obs), &res)
			return res
		}
		if !r.create(ctx, obj, ext, obs, &res) {
			return res
		}
		var ok bool
		if obs, ok = r.verify(ctx, ext, obj, &res); !ok {
			return res
		}
		if !obs.Exists {
			res.fail(fmt.Errorf("cannot find what was just created (id %s) in the provider", CreatedID(obj)))
			return res
		}
	}
	if len(obs.Diff) == 0 {
		obj.SetPlan(nil, nil)
		res.out = upToDate(obs, obj)
		return res
	}
	if obj.GetManagementPolicy() == accessv1alpha1.ManagementObserve {
		r.observeOnly(obj, obs.Diff, Pending(obs), &res)
		return res
	}
	if err := ext.Update(ctx, obj, obs); err != nil {
		res.fail(err)
		return res
	}
	// Verify by a second read: neither provider's write answer can be trusted to show the result.
	after, ok := r.verify(ctx, ext, obj, &res)
	if !ok {
		return res
	}
	if len(after.Diff) > 0 {
		if after.Stuck != nil {
			res.out = *after.Stuck
			return res
		}
		res.fail(fmt.Errorf("cannot verify the write: the provider still differs after it: %s", strings.Join(after.Diff, "; ")))
		return res
	}
	reason, note := EventUpdated, "Applied: "+strings.Join(obs.Diff, "; ")
	// Conditions still hold the previous reconcile's outcome: Ready at this generation means the
	// provider had matched this spec, so what differed now was changed outside.
	if IsReady(obj.GetCommonStatus().Conditions, obj.GetGeneration()) {
		reason, note = EventDriftCorrected, "Drift corrected: "+strings.Join(obs.Diff, "; ")
		DriftCorrections.WithLabelValues(kindOf(obj), obj.GetNamespace()).Inc()
	}
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Update", "%s", truncate(note, 1000))
	logf.FromContext(ctx).Info("applied", "changes", obs.Diff)
	// The differences are corrected and verified: none remain (the event above records what
	// was corrected). Keeping them would cost one more status write on the next quiet poll.
	obj.SetPlan(nil, nil)
	res.out = upToDate(after, obj)
	return res
}

// Pending is what Enforce would change after observation obs, in the words of status.plan:
// the create, or the differences. Empty means nothing would change (or obs.Result ends the
// reconcile before any change). The controller (under managementPolicy Observe) and
// `kubectl contactsync plan` both use it, so their plans read the same.
func Pending(obs Observation) []string {
	switch {
	case obs.Result != nil:
		return nil
	case !obs.Exists:
		return []string{obs.CreatePlan}
	}
	return obs.Diff
}

// verify reads the provider again after a write (a create or an update). It reports false,
// with the outcome in res, when the read failed or ended the reconcile.
func (r *Reconciler[T]) verify(ctx context.Context, ext External[T], obj T, res *result) (Observation, bool) {
	obs, err := ext.Observe(ctx, obj)
	if err != nil {
		res.fail(err)
		return obs, false
	}
	if obs.Result != nil {
		res.out = *obs.Result
		return obs, false
	}
	return obs, true
}

func upToDate[T Object](obs Observation, obj T) Outcome {
	if obs.UpToDate != nil {
		return *obs.UpToDate
	}
	if obj.GetManagementPolicy() == accessv1alpha1.ManagementObserve {
		return Ready(accessv1alpha1.ReasonAvailable, "The provider matches the spec (managementPolicy Observe: nothing is ever written).")
	}
	return Ready(accessv1alpha1.ReasonAvailable, "The provider matches the spec (verified by a read).")
}

// observeOnly reports a plan that managementPolicy Observe keeps from being applied.
func (r *Reconciler[T]) observeOnly(obj T, drift, pending []string, res *result) {
	prev := planOf(obj)
	obj.SetPlan(drift, pending)
	if !slices.Equal(prev, pending) {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventDriftDetected, "Observe", "%s",
			truncate("Plan (not applied, managementPolicy Observe): "+strings.Join(pending, "; "), 1000))
	}
	res.out = Observed(fmt.Sprintf("managementPolicy is Observe: %d change(s) pending, see status.plan; nothing was written", len(pending)))
}

func planOf(obj Object) []string {
	switch o := any(obj).(type) {
	case *accessv1alpha1.ContactAccess:
		return o.Status.Plan
	case *accessv1alpha1.DelegatedGrant:
		return o.Status.Plan
	}
	return nil
}

func (r *Reconciler[T]) observedNow(obj T) {
	t := metav1.NewTime(r.now())
	obj.GetCommonStatus().LastSyncTime = &t
}

// delete applies the deletion policy, then lets the object go. When the policy cannot be
// applied the finalizer stays and the status says why and how to let go (Orphan).
func (r *Reconciler[T]) delete(ctx context.Context, obj, orig T) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, accessv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	res := result{interval: DefaultSyncInterval}
	done := false
	// Observe never writes, not even on delete: it behaves as Orphan.
	if obj.OrphansOnDelete() || obj.GetManagementPolicy() == accessv1alpha1.ManagementObserve {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventOrphaned, "Delete",
			"deletionPolicy %s with managementPolicy %s: the provider was left as it is", obj.GetDeletionPolicy(), obj.GetManagementPolicy())
		done = true
	} else {
		ext, interval, err := r.Connector.Connect(ctx, obj)
		res.interval = interval
		var d Deleted
		if err == nil {
			d, err = ext.Delete(ctx, obj)
		}
		switch {
		case err != nil:
			res.fail(err)
			if res.out.Kind != KindRetrying {
				res.out.Message = fmt.Sprintf("cannot apply deletionPolicy %s: %s. Fix that, or set spec.deletionPolicy to Orphan to let the object go without changing the provider",
					obj.GetDeletionPolicy(), res.out.Message)
				res.out.Kind = KindStalled
			}
		case d.Done:
			done = true
		default:
			res.out, res.retryAfter = d.Wait, d.RequeueAfter
		}
		if d.Reason != "" {
			typ := corev1.EventTypeNormal
			if d.Warning {
				typ = corev1.EventTypeWarning
			}
			r.Recorder.Eventf(obj, nil, typ, d.Reason, "Delete", "%s", d.Message)
		}
	}
	if done {
		controllerutil.RemoveFinalizer(obj, accessv1alpha1.Finalizer)
		if err := r.Kube.Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.retries.Forget(client.ObjectKeyFromObject(obj))
		r.creates.forget(client.ObjectKeyFromObject(obj))
		return ctrl.Result{}, nil
	}
	return r.complete(ctx, obj, orig, res)
}

// complete writes the outcome into the status — once, and only if it changed — emits a
// Warning when the object newly stalls, and says when to come back.
func (r *Reconciler[T]) complete(ctx context.Context, obj, orig T, res result) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(obj)
	if res.skipStatus {
		return ctrl.Result{RequeueAfter: res.retryAfter}, nil
	}
	if quietRateLimit(orig, res) {
		// A poll of a Ready object that the provider turned away with Retry-After learnt
		// nothing: the status stays as last verified and the poll is retried when the provider
		// allows (contactsync_api_rate_limited_total counts these). Writing Synced=False and
		// back for every such poll would be two API-server writes per object per 503.
		return ctrl.Result{RequeueAfter: res.retryAfter}, nil
	}
	if err := WriteStatus(ctx, r.Kube, obj, orig, res.out); err != nil {
		return ctrl.Result{}, err
	}
	if res.out.Kind == KindStalled {
		if newlyStalled(orig, obj.GetGeneration(), res.out.Reason) {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, res.out.Reason, "Reconcile", "%s", res.out.Message)
		}
	}
	switch {
	case res.retryAfter > 0:
		return ctrl.Result{RequeueAfter: res.retryAfter}, nil
	case res.retryErr != nil:
		delay := r.retries.Next(key, res.interval, r.RetryBase)
		logf.FromContext(ctx).Info("retrying after an error", "error", res.retryErr.Error(), "after", delay)
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	r.retries.Forget(key)
	// A periodic poll goes behind new objects and spec changes (controller-runtime's priority
	// queue serves higher priorities first; events keep the default priority 0).
	return ctrl.Result{RequeueAfter: Jitter(res.interval), Priority: ptr.To(handler.LowPriority)}, nil
}

// quietRateLimit reports whether res is a rate-limited poll of an object that is Ready and
// Synced for its generation.
func quietRateLimit[T Object](orig T, res result) bool {
	if res.out.Kind != KindRetrying || res.out.Reason != accessv1alpha1.ReasonRateLimited || res.retryAfter <= 0 {
		return false
	}
	conds := orig.GetCommonStatus().Conditions
	synced := meta.FindStatusCondition(conds, accessv1alpha1.TypeSynced)
	return IsReady(conds, orig.GetGeneration()) && synced != nil && synced.Status == metav1.ConditionTrue
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

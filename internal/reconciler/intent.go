package reconciler

// The create-intent protocol, the one place that decides how a non-idempotent create is sent
// and what its outcome means. Every create (a HostUp contact, the first invitation of a
// DelegatedGrant, every re-invitation) goes through Reconciler.create:
//
//  1. an id that was created but could not be recorded (status.unrecordedCreatedID) is
//     recorded, never created again;
//  2. an intent left by an interrupted attempt (create-pending without created-id) is resolved:
//     externals that can list (grants) find what it made and adopt it; the others (HostUp
//     contacts cannot be listed) stall with CreateOutcomeUnknown and ask a person;
//  3. a refused create waits for its backoff (up to the sync interval, then once per interval);
//  4. the intent is recorded (create-pending, with the optimistic lock so two racing managers
//     agree on one creator) before the call;
//  5. the call runs detached from shutdown, and its failure is classified once (ClassifyCreate):
//     not sent → intent withdrawn, retried; refused → intent withdrawn, provider's message shown,
//     backoff; unknown → intent kept, never created again automatically;
//  6. the id is recorded right after the call (created-id), retried in-process; if that fails
//     the id is kept in status.unrecordedCreatedID and in an Info log line.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup"
)

// DetachedTimeout bounds a create call and the recording of its id, which run detached from the
// reconcile's context so that a graceful shutdown cannot split them. The manager's graceful
// shutdown timeout and the Pod's terminationGracePeriodSeconds are longer (cmd/main.go,
// config/manager).
const DetachedTimeout = time.Minute

// CreateOutcome classes a failed create call.
type CreateOutcome int

const (
	// CreateUnknown: the provider may have created it (a 5xx, a timeout or a lost answer after
	// the request was written). The intent stays; nothing is created again automatically.
	CreateUnknown CreateOutcome = iota
	// CreateNotSent: the request never left (the limiter wait ended, the context ended before
	// the request was written, the connection was refused).
	CreateNotSent
	// CreateRefused: a documented refusal (HTTP 200 with data.success=false, a 4xx).
	CreateRefused
)

// ClassifyCreate decides what a failed create call means. HostUp documents no idempotency key
// and no way to list contacts, so when in doubt the answer is CreateUnknown.
func ClassifyCreate(err error) CreateOutcome {
	if notSent(err) {
		return CreateNotSent
	}
	var he *hostup.Error
	if errors.As(err, &he) && he.HTTPStatus < http.StatusInternalServerError {
		// 200 with data.success=false (ADD_CONTACT_FAILED) or any 4xx: refused before anything
		// was made. A 5xx, even with a JSON code such as INTERNAL_SERVER_ERROR, may come after
		// the contact was created: unknown.
		return CreateRefused
	}
	return CreateUnknown
}

// NotSentError marks err as arising before any request was sent.
func NotSentError(err error) error { return notSentError{err} }

type notSentError struct{ error }

func (e notSentError) Unwrap() error { return e.error }

// notSent reports whether err proves the request never left the process: the clients mark
// every such failure with apiclient.ErrNotSent (the limiter wait ended, the connection was
// refused, the request was never completely written, a local check failed before sending).
func notSent(err error) bool {
	return errors.As(err, new(notSentError)) || errors.Is(err, apiclient.ErrNotSent)
}

// CreatedID is the id of the contact or grant this object created, as recorded in metadata.
func CreatedID(obj client.Object) string {
	return obj.GetAnnotations()[accessv1alpha1.AnnotationCreatedID]
}

// CreatePending reports the time of an intent to create that has no recorded outcome yet.
func CreatePending(obj client.Object) (time.Time, bool) {
	v, ok := obj.GetAnnotations()[accessv1alpha1.AnnotationCreatePending]
	if !ok {
		return time.Time{}, false
	}
	at, _ := time.Parse(time.RFC3339, v)
	return at, true
}

// create runs the protocol above. It reports whether the object now has a recorded id.
func (r *Reconciler[T]) create(ctx context.Context, obj T, ext External[T], obs Observation, res *result) bool {
	key := client.ObjectKeyFromObject(obj)
	log := logf.FromContext(ctx)
	st := obj.GetCommonStatus()
	at, pending := CreatePending(obj)

	if pending && r.APIReader != nil {
		// The cache may not have seen our own last write yet (the intent withdrawn, or the id
		// recorded): ask the API server before concluding anything from a pending intent.
		fresh := r.New()
		if err := r.APIReader.Get(ctx, key, fresh); err != nil {
			res.fail(client.IgnoreNotFound(err))
			return false
		}
		if _, still := CreatePending(fresh); !still || fresh.GetResourceVersion() != obj.GetResourceVersion() {
			res.skipStatus, res.retryAfter = true, 100*time.Millisecond
			return false
		}
	}

	// 1. Created earlier, id not recorded: record it, never create again.
	if id := st.UnrecordedCreatedID; id != "" && pending {
		if err := r.record(ctx, obj, id); err != nil {
			res.out = Retrying(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf("%s was created with id %s, which is not recorded yet: %v", obs.CreatePlan, id, err))
			res.retryErr = err
			return false
		}
		st.UnrecordedCreatedID = ""
		return true
	}

	// 2. An interrupted attempt.
	if pending {
		finder, canList := ext.(Finder[T])
		if !canList {
			res.out = Stalled(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
				"%s may have been done at %s, but its id was not recorded (the controller stopped or the provider gave no clear answer). "+
					"%s: if it exists, annotate this object with %s=<its id>; if it does not, remove the annotation %s to create it",
				obs.CreatePlan, at.Format(time.RFC3339), obs.CreateCheck, accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending), false)
			return false
		}
		id, err := finder.FindCreated(ctx, obj, at)
		if err != nil {
			res.fail(err)
			return false
		}
		if id != "" {
			if err := r.record(ctx, obj, id); err != nil {
				res.fail(err)
				return false
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventAdopted, "Create",
				"Found %s that an interrupted attempt created; recorded it instead of creating again", id)
			return true
		}
		// The provider lists nothing made by that attempt: nothing was created, a create is safe.
	}

	// 3. A refused create waits for its backoff, whatever woke the object.
	if out, wait, blocked := r.creates.blocked(key, obj.GetGeneration(), r.now()); blocked {
		res.out, res.retryAfter = out, wait
		return false
	}

	if p, ok := ext.(Preparer[T]); ok {
		if err := p.PrepareCreate(ctx, obj); err != nil {
			res.fail(err)
			return false
		}
	}

	// The create must not be handed back by the account's limiter once its intent is recorded
	// (two API-server writes, and a withdrawn intent spaces the retry): it waits its turn.
	apiclient.HoldTicket(ctx)

	// 4. Record the intent. The optimistic lock makes two racing reconcilers (a leader
	// hand-over) agree on one creator: the loser's patch conflicts and it creates nothing.
	stamp := r.now().UTC().Format(time.RFC3339)
	if err := r.patchAnnotations(ctx, obj, map[string]*string{accessv1alpha1.AnnotationCreatePending: &stamp}, true); err != nil {
		if apierrors.IsConflict(err) {
			// Our copy is older than the API server's: nothing was learnt, come back shortly.
			res.skipStatus, res.retryAfter = true, 100*time.Millisecond
			return false
		}
		res.fail(fmt.Errorf("cannot record the intent to create: %w", err))
		return false
	}

	// 5. The call, detached: a graceful stop (rollout, lost lease) finishes the create and
	// records its id.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.createTimeout())
	defer cancel()
	created, err := ext.Create(dctx, obj)
	if err != nil {
		switch class := ClassifyCreate(err); class {
		case CreateNotSent, CreateRefused:
			// Nothing was created: withdraw the intent. Our own annotation change wakes the
			// object again, so the retry is spaced by the gate, not by whatever event comes.
			r.withdraw(dctx, obj)
			out := Classify(err)
			if class == CreateRefused && RetryAfter(err) == 0 {
				out = Outcome{Kind: KindProgressing, Reason: accessv1alpha1.ReasonCreateRefused, Synced: false,
					Message: fmt.Sprintf("the provider refused to %s: %v; nothing was created, retrying later", obs.CreatePlan, err)}
			}
			wait := r.creates.refused(key, obj.GetGeneration(), r.now(), res.interval, out)
			res.out, res.retryAfter = out, max(wait, RetryAfter(err))
		default:
			if _, canList := ext.(Finder[T]); canList {
				// The next pass lists what exists and adopts what this call may have made.
				res.fail(err)
				return false
			}
			res.out = Stalled(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
				"the call to %s got no clear answer (%v). %s: if it exists, annotate this object with %s=<its id>; if not, remove the annotation %s to create it",
				obs.CreatePlan, err, obs.CreateCheck, accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending), false)
		}
		return false
	}
	if r.AfterCreate != nil {
		if err := r.AfterCreate(); err != nil {
			res.out, res.retryErr = Retrying(accessv1alpha1.ReasonAPIError, err.Error()), err
			return false
		}
	}

	// 6. Record the id; it exists nowhere else on our side.
	if err := r.record(dctx, obj, created.ID); err != nil {
		st.UnrecordedCreatedID = created.ID
		log.Info("created, but the id could not be recorded on the object; kept in status.unrecordedCreatedID", "id", created.ID, "error", err.Error())
		res.out = Retrying(accessv1alpha1.ReasonCreateOutcomeUnknown, fmt.Sprintf(
			"created %s, but its id could not be recorded yet (%v); it is kept in status.unrecordedCreatedID and recorded on the next attempt", created.ID, err))
		res.retryErr = err
		return false
	}
	st.UnrecordedCreatedID = ""
	r.creates.forget(key)
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, created.Reason, "Create", "%s", created.Message)
	if created.Then != nil {
		if err := created.Then(dctx); err != nil {
			reason := created.ThenReason
			if reason == "" {
				reason = "PostCreateFailed"
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Create", "%v", err)
		}
	}
	return true
}

// defaultRecordBackoff retries the recording of an id for about 12 s, well inside DetachedTimeout.
var defaultRecordBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 6}

func (r *Reconciler[T]) createTimeout() time.Duration {
	if r.CreateTimeout > 0 && r.CreateTimeout < DetachedTimeout {
		return r.CreateTimeout
	}
	return DetachedTimeout
}

// record stores the id in metadata and drops the intent, retried in-process.
func (r *Reconciler[T]) record(ctx context.Context, obj T, id string) error {
	var last error
	b := r.recordBackoff
	if b.Steps == 0 {
		b = defaultRecordBackoff
	}
	err := wait.ExponentialBackoffWithContext(ctx, b,
		func(ctx context.Context) (bool, error) {
			last = r.patchAnnotations(ctx, obj, map[string]*string{
				accessv1alpha1.AnnotationCreatePending: nil,
				accessv1alpha1.AnnotationCreatedID:     &id,
			}, false)
			return last == nil, nil
		})
	if err != nil {
		if last != nil {
			err = last
		}
		return fmt.Errorf("cannot record id %s on the object: %w", id, err)
	}
	return nil
}

// withdraw removes an intent whose create certainly made nothing.
func (r *Reconciler[T]) withdraw(ctx context.Context, obj T) {
	if err := r.patchAnnotations(ctx, obj, map[string]*string{accessv1alpha1.AnnotationCreatePending: nil}, false); err != nil {
		logf.FromContext(ctx).Error(err, "cannot withdraw the create intent")
	}
}

// patchAnnotations sets (or, for nil values, removes) annotations with a merge patch.
func (r *Reconciler[T]) patchAnnotations(ctx context.Context, obj T, set map[string]*string, optimistic bool) error {
	before := obj.DeepCopyObject().(T)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	for k, v := range set {
		if v == nil {
			delete(ann, k)
		} else {
			ann[k] = *v
		}
	}
	obj.SetAnnotations(ann)
	patch := client.MergeFrom(before)
	if optimistic {
		patch = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	}
	if err := r.Kube.Patch(ctx, obj, patch); err != nil {
		obj.SetAnnotations(before.GetAnnotations())
		return err
	}
	return nil
}

// createGate spaces the retries of refused creates per object and generation: 30 s doubling,
// never more than the sync interval, and never sooner than that (jitter only adds). Events in
// between (our own annotation changes, a ProviderConfig update) do not send another create.
type createGate struct {
	mu sync.Mutex
	m  map[types.NamespacedName]gateEntry
}

type gateEntry struct {
	generation int64
	attempts   int
	notBefore  time.Time
	out        Outcome
}

func (g *createGate) blocked(key types.NamespacedName, generation int64, now time.Time) (Outcome, time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.m[key]
	if !ok || e.generation != generation || !now.Before(e.notBefore) {
		return Outcome{}, 0, false
	}
	return e.out, e.notBefore.Sub(now), true
}

func (g *createGate) refused(key types.NamespacedName, generation int64, now time.Time, interval time.Duration, out Outcome) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[types.NamespacedName]gateEntry{}
	}
	e := g.m[key]
	if e.generation != generation {
		e = gateEntry{generation: generation}
	}
	d := min(30*time.Second<<min(e.attempts, 10), interval)
	d = time.Duration(float64(d) * (1 + 0.1*randFloat()))
	e.attempts++
	e.notBefore, e.out = now.Add(d), out
	g.m[key] = e
	return d
}

func (g *createGate) forget(key types.NamespacedName) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, key)
}

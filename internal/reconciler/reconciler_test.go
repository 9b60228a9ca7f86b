package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup"
)

// The loop's branches, one test each, against a fake external client and controller-runtime's
// fake API client: no control plane. Modelled on crossplane-runtime's reconciler_test.go.

type ca = accessv1alpha1.ContactAccess

// fakeExternal is an External whose provider is a few fields: what exists, what differs, and
// the errors each call returns.
type fakeExternal struct {
	exists     bool     // the thing exists (an id is recorded or adopted)
	diff       []string // differences Observe reports while the provider is not updated
	fixed      bool     // Update has written (and the provider took it)
	sticky     bool     // Update "succeeds" but the provider keeps differing
	result     *Outcome
	createErr  error
	createID   string
	updateErr  error
	deleted    Deleted
	deleteErr  error
	found      string // Finder: what an interrupted create made ("" none)
	observeErr error

	creates, updates, deletes, finds int
}

func (f *fakeExternal) Observe(_ context.Context, obj *ca) (Observation, error) {
	if f.observeErr != nil {
		return Observation{}, f.observeErr
	}
	if f.result != nil {
		return Observation{Exists: true, Result: f.result}, nil
	}
	if !f.exists && CreatedID(obj) == "" {
		return Observation{CreatePlan: "create contact x@example.com", CreateCheck: "check the dashboard"}, nil
	}
	if f.fixed && !f.sticky {
		return Observation{Exists: true}, nil
	}
	return Observation{Exists: true, Diff: f.diff}, nil
}

func (f *fakeExternal) Create(context.Context, *ca) (Created, error) {
	f.creates++
	if f.createErr != nil {
		return Created{}, f.createErr
	}
	return Created{ID: f.createID, Reason: EventCreated, Message: "created " + f.createID}, nil
}

func (f *fakeExternal) Update(context.Context, *ca, Observation) error {
	f.updates++
	if f.updateErr != nil {
		return f.updateErr
	}
	f.fixed = true
	return nil
}

func (f *fakeExternal) Delete(context.Context, *ca) (Deleted, error) {
	f.deletes++
	return f.deleted, f.deleteErr
}

// finderExternal is a fakeExternal that can list what exists (like grants).
type finderExternal struct{ *fakeExternal }

func (f finderExternal) FindCreated(context.Context, *ca, time.Time) (string, error) {
	f.finds++
	return f.found, nil
}

type env struct {
	kube     client.Client
	r        *Reconciler[*ca]
	rec      *events.FakeRecorder
	key      types.NamespacedName
	patchErr func(obj client.Object, patch client.Patch) error
}

func newEnv(t *testing.T, ext External[*ca], obj *ca) *env {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := accessv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	e := &env{rec: events.NewFakeRecorder(100), key: types.NamespacedName{Namespace: "ns", Name: "a"}}
	obj.Namespace, obj.Name, obj.Generation = "ns", "a", 1
	e.kube = fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj).WithStatusSubresource(&ca{}).
		WithInterceptorFuncs(interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			if e.patchErr != nil {
				if err := e.patchErr(o, p); err != nil {
					return err
				}
			}
			return c.Patch(ctx, o, p, opts...)
		}}).Build()
	e.r = &Reconciler[*ca]{
		Kube: e.kube, APIReader: e.kube, New: func() *ca { return &ca{} }, Recorder: e.rec,
		Connector: ConnectorFunc[*ca](func(context.Context, *ca) (External[*ca], time.Duration, error) { return ext, 10 * time.Second, nil }),
	}
	return e
}

func (e *env) reconcile(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: e.key})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (e *env) get(t *testing.T) *ca {
	t.Helper()
	o := &ca{}
	if err := e.kube.Get(context.Background(), e.key, o); err != nil {
		t.Fatal(err)
	}
	return o
}

func cond(o *ca, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(o.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func (e *env) events() string {
	var out []string
	for {
		select {
		case ev := <-e.rec.Events:
			out = append(out, ev)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func TestCreateOutcomes(t *testing.T) {
	cases := map[string]struct {
		reason    string
		createErr error
		finder    bool
		// want
		creates     int // after two reconciles
		pending     bool
		readyReason string
		stalled     bool
		message     string
	}{
		"NotSentLimiterWaitCancelled": {
			reason:    "the limiter wait ended before the request was written: the intent is withdrawn, not CreateOutcomeUnknown",
			createErr: apiclient.NotSent(fmt.Errorf("cannot create contact: waiting for the rate limiter: %w", context.Canceled)),
			creates:   1, pending: false, readyReason: accessv1alpha1.ReasonAPIError,
		},
		"Refused": {
			reason:    "HTTP 200 with data.success=false: withdrawn, the provider's message shown, no burst of retries",
			createErr: &hostup.Error{Op: "create contact", HTTPStatus: 200, Code: hostup.CodeAddContactFailed, Message: "Failed to add contact"},
			creates:   1, pending: false, readyReason: accessv1alpha1.ReasonCreateRefused, message: "Failed to add contact",
		},
		"Refused4xx": {
			reason:    "a 4xx with a HostUp code refuses the create",
			createErr: &hostup.Error{Op: "create contact", HTTPStatus: 400, Code: "BAD_REQUEST", Message: "email is invalid"},
			creates:   1, pending: false, readyReason: accessv1alpha1.ReasonCreateRefused, message: "email is invalid",
		},
		"UnknownCoded500": {
			reason:    "a 5xx with a JSON code may come after the contact was made: intent kept, never created again",
			createErr: &hostup.Error{Op: "create contact", HTTPStatus: 500, Code: "INTERNAL_SERVER_ERROR", Message: "boom"},
			creates:   1, pending: true, readyReason: accessv1alpha1.ReasonCreateOutcomeUnknown, stalled: true,
		},
		"Unknown504": {
			reason:    `{"code":504}: unknown`,
			createErr: &hostup.Error{Op: "create contact", HTTPStatus: 504, Code: "504"},
			creates:   1, pending: true, readyReason: accessv1alpha1.ReasonCreateOutcomeUnknown, stalled: true,
		},
		"UnknownWithFinderAdopts": {
			reason:    "an external that can list adopts what the unclear call made instead of creating again",
			createErr: &hostup.Error{Op: "create grant", HTTPStatus: 502},
			finder:    true,
			creates:   1, pending: false, readyReason: accessv1alpha1.ReasonAvailable,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fe := &fakeExternal{createErr: tc.createErr}
			var ext External[*ca] = fe
			if tc.finder {
				fe.found = "77"
				ext = finderExternal{fe}
			}
			e := newEnv(t, ext, &ca{Spec: accessv1alpha1.ContactAccessSpec{}})
			e.reconcile(t)
			e.reconcile(t) // whatever wakes it next (our own annotation change) must not create again
			o := e.get(t)
			if fe.creates != tc.creates {
				t.Errorf("%s\ncreates: got %d, want %d", tc.reason, fe.creates, tc.creates)
			}
			_, pending := CreatePending(o)
			if pending != tc.pending {
				t.Errorf("%s\npending intent: got %v, want %v", tc.reason, pending, tc.pending)
			}
			if got := cond(o, accessv1alpha1.TypeReady).Reason; got != tc.readyReason {
				t.Errorf("%s\nReady reason: got %q, want %q (%s)", tc.reason, got, tc.readyReason, cond(o, accessv1alpha1.TypeReady).Message)
			}
			if got := cond(o, accessv1alpha1.TypeStalled).Status == metav1.ConditionTrue; got != tc.stalled {
				t.Errorf("%s\nstalled: got %v, want %v", tc.reason, got, tc.stalled)
			}
			if !strings.Contains(cond(o, accessv1alpha1.TypeReady).Message, tc.message) {
				t.Errorf("%s\nReady message %q lacks %q", tc.reason, cond(o, accessv1alpha1.TypeReady).Message, tc.message)
			}
			if tc.finder && CreatedID(o) != "77" {
				t.Errorf("%s\ncreated-id: got %q, want the adopted 77", tc.reason, CreatedID(o))
			}
		})
	}
}

func TestRefusedCreateIsPacedBySyncInterval(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fe := &fakeExternal{createErr: &hostup.Error{Op: "create contact", HTTPStatus: 200, Code: hostup.CodeAddContactFailed, Message: "Failed to add contact"}}
	e := newEnv(t, fe, &ca{})
	e.r.Now = func() time.Time { return now }
	// Reconcile as often as anything could wake it (every second) for a minute: the gate lets
	// a create through at most once per backoff step, capped at the 10 s interval.
	for range 60 {
		e.reconcile(t)
		now = now.Add(time.Second)
	}
	if fe.creates > 7 || fe.creates < 5 {
		t.Errorf("creates over 60 s with a 10 s interval: got %d, want 5..7", fe.creates)
	}
}

func TestCreatedButIDNotRecorded(t *testing.T) {
	fe := &fakeExternal{createID: "4242"}
	e := newEnv(t, fe, &ca{})
	failRecording := true
	e.patchErr = func(o client.Object, p client.Patch) error {
		data, _ := p.Data(o)
		if failRecording && strings.Contains(string(data), "created-id") {
			return errors.New("etcd is down")
		}
		return nil
	}
	e.r.recordBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2}
	e.reconcile(t)
	o := e.get(t)
	if o.Status.UnrecordedCreatedID != "4242" {
		t.Fatalf("status.unrecordedCreatedID: got %q, want 4242 (the id must survive the next reconcile)", o.Status.UnrecordedCreatedID)
	}
	failRecording = false
	e.reconcile(t)
	o = e.get(t)
	if fe.creates != 1 {
		t.Errorf("creates: got %d, want 1", fe.creates)
	}
	if CreatedID(o) != "4242" || o.Status.UnrecordedCreatedID != "" {
		t.Errorf("after recovery: created-id %q, unrecorded %q; want 4242 and empty", CreatedID(o), o.Status.UnrecordedCreatedID)
	}
	if _, pending := CreatePending(o); pending {
		t.Error("the intent is still pending after the id was recorded")
	}
}

func TestStaleCacheNeverConcludesFromAWithdrawnIntent(t *testing.T) {
	fe := &fakeExternal{}
	obj := &ca{}
	obj.Annotations = map[string]string{accessv1alpha1.AnnotationCreatePending: "2026-01-01T00:00:00Z"}
	// The finalizer is in place already, so no write refreshes the copy before the create step.
	obj.Finalizers = []string{accessv1alpha1.Finalizer}
	e := newEnv(t, fe, obj)
	// The API server has moved on (intent withdrawn); the cache still shows it.
	cached := e.get(t)
	fresh := cached.DeepCopy()
	delete(fresh.Annotations, accessv1alpha1.AnnotationCreatePending)
	if err := e.kube.Update(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	e.r.Kube = staleReader{Client: e.kube, obj: cached}
	e.reconcile(t)
	if fe.creates != 0 {
		t.Errorf("creates: got %d, want 0", fe.creates)
	}
	if c := cond(e.get(t), accessv1alpha1.TypeReady); c.Reason == accessv1alpha1.ReasonCreateOutcomeUnknown {
		t.Errorf("a stale cache made the object CreateOutcomeUnknown: %s", c.Message)
	}
}

// staleReader answers Get with an old copy of the object, as a lagging informer cache does.
type staleReader struct {
	client.Client
	obj *ca
}

func (s staleReader) Get(_ context.Context, _ client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	s.obj.DeepCopyInto(o.(*ca))
	return nil
}

func TestObserveNeverWrites(t *testing.T) {
	for name, fe := range map[string]*fakeExternal{
		"differences": {exists: true, diff: []string{"services: add 1"}},
		"nothing yet": {},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fe, &ca{Spec: accessv1alpha1.ContactAccessSpec{ManagementPolicy: accessv1alpha1.ManagementObserve}})
			e.reconcile(t)
			o := e.get(t)
			if fe.creates+fe.updates != 0 {
				t.Errorf("Observe wrote: %d creates, %d updates", fe.creates, fe.updates)
			}
			if _, pending := CreatePending(o); pending {
				t.Error("Observe recorded a create intent")
			}
			if c := cond(o, accessv1alpha1.TypeReady); c.Status != metav1.ConditionTrue || c.Reason != accessv1alpha1.ReasonObserveOnly {
				t.Errorf("Ready: got %s/%s, want True/ObserveOnly", c.Status, c.Reason)
			}
			if len(o.Status.Plan) != 1 {
				t.Errorf("status.plan: got %q, want one pending change", o.Status.Plan)
			}
			if !strings.Contains(e.events(), EventDriftDetected) {
				t.Error("no DriftDetected event for the pending plan")
			}
		})
	}
}

func TestUpdateAndVerify(t *testing.T) {
	cases := map[string]struct {
		fe          *fakeExternal
		wantReady   metav1.ConditionStatus
		wantSynced  metav1.ConditionStatus
		wantMessage string
		wantEvent   string
	}{
		"AppliedAndVerified": {fe: &fakeExternal{exists: true, diff: []string{"canViewInvoices: false → true"}},
			wantReady: metav1.ConditionTrue, wantSynced: metav1.ConditionTrue, wantEvent: EventUpdated},
		"VerifyMismatch": {fe: &fakeExternal{exists: true, sticky: true, diff: []string{"canViewInvoices: false → true"}},
			wantReady: metav1.ConditionFalse, wantSynced: metav1.ConditionFalse, wantMessage: "cannot verify"},
		"UpdateFails": {fe: &fakeExternal{exists: true, diff: []string{"x"}, updateErr: &hostup.Error{Op: "set permissions", HTTPStatus: 503}},
			wantReady: metav1.ConditionFalse, wantSynced: metav1.ConditionFalse, wantMessage: "HTTP 503"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.fe, &ca{})
			res := e.reconcile(t)
			o := e.get(t)
			if got := cond(o, accessv1alpha1.TypeReady).Status; got != tc.wantReady {
				t.Errorf("Ready: got %s, want %s", got, tc.wantReady)
			}
			if got := cond(o, accessv1alpha1.TypeSynced); got.Status != tc.wantSynced || !strings.Contains(got.Message, tc.wantMessage) {
				t.Errorf("Synced: got %s %q, want %s containing %q", got.Status, got.Message, tc.wantSynced, tc.wantMessage)
			}
			if tc.wantEvent != "" && !strings.Contains(e.events(), tc.wantEvent) {
				t.Errorf("no %s event", tc.wantEvent)
			}
			if res.RequeueAfter <= 0 || res.RequeueAfter > 11*time.Second {
				t.Errorf("RequeueAfter: got %s, want within the 10 s interval", res.RequeueAfter)
			}
		})
	}
}

func TestStatusWrittenOnlyOnChange(t *testing.T) {
	fe := &fakeExternal{exists: true}
	e := newEnv(t, fe, &ca{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.r.Now = func() time.Time { return now }
	e.reconcile(t)
	rv := e.get(t).ResourceVersion
	for range 5 {
		now = now.Add(10 * time.Minute)
		e.reconcile(t)
	}
	if got := e.get(t).ResourceVersion; got != rv {
		t.Errorf("quiet polls wrote the object (resourceVersion %s → %s)", rv, got)
	}
	now = now.Add(StatusHeartbeat)
	e.reconcile(t)
	if got := e.get(t).ResourceVersion; got == rv {
		t.Error("the hourly lastSyncTime heartbeat was not written")
	}
}

func TestDeletionPolicies(t *testing.T) {
	deleting := func(mgmt accessv1alpha1.ManagementPolicy, del accessv1alpha1.DeletionPolicy) *ca {
		o := &ca{Spec: accessv1alpha1.ContactAccessSpec{ManagementPolicy: mgmt, DeletionPolicy: del}}
		o.Finalizers = []string{accessv1alpha1.Finalizer}
		return o
	}
	cases := map[string]struct {
		obj         *ca
		fe          *fakeExternal
		wantDeletes int
		wantGone    bool
		wantReason  string
	}{
		"Orphan":          {obj: deleting("", accessv1alpha1.DeletionOrphan), fe: &fakeExternal{}, wantDeletes: 0, wantGone: true},
		"ObserveIsOrphan": {obj: deleting(accessv1alpha1.ManagementObserve, accessv1alpha1.DeletionRevoke), fe: &fakeExternal{}, wantDeletes: 0, wantGone: true},
		"RevokeDone":      {obj: deleting("", accessv1alpha1.DeletionRevoke), fe: &fakeExternal{deleted: Deleted{Done: true, Reason: "Revoked", Message: "revoked"}}, wantDeletes: 1, wantGone: true},
		"RevokeWaits": {obj: deleting("", accessv1alpha1.DeletionRevoke), wantDeletes: 1, wantReason: accessv1alpha1.ReasonRevocationRequiresDashboard,
			fe: &fakeExternal{deleted: Deleted{Wait: Stalled(accessv1alpha1.ReasonRevocationRequiresDashboard, "revoke it in the dashboard", true)}}},
		"RevokeAPIDown": {obj: deleting("", accessv1alpha1.DeletionRevoke), wantDeletes: 1, wantReason: accessv1alpha1.ReasonAPIError,
			fe: &fakeExternal{deleteErr: &hostup.Error{Op: "set permissions", HTTPStatus: 502}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.fe, tc.obj)
			if err := e.kube.Delete(context.Background(), e.get(t)); err != nil {
				t.Fatal(err)
			}
			e.reconcile(t)
			if tc.fe.deletes != tc.wantDeletes {
				t.Errorf("Delete calls: got %d, want %d", tc.fe.deletes, tc.wantDeletes)
			}
			o := &ca{}
			err := e.kube.Get(context.Background(), e.key, o)
			if gone := err != nil; gone != tc.wantGone {
				t.Fatalf("object gone: got %v, want %v", gone, tc.wantGone)
			}
			if !tc.wantGone {
				if diff := cmp.Diff(tc.wantReason, cond(o, accessv1alpha1.TypeReconciling).Reason+cond(o, accessv1alpha1.TypeStalled).Reason); !strings.Contains(cond(o, accessv1alpha1.TypeReconciling).Reason+cond(o, accessv1alpha1.TypeStalled).Reason, tc.wantReason) {
					t.Errorf("reason (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestResultEndsTheReconcileWithoutWrites(t *testing.T) {
	o := Stalled(accessv1alpha1.ReasonContactNotFound, "gone", true)
	fe := &fakeExternal{result: &o}
	e := newEnv(t, fe, &ca{})
	e.reconcile(t)
	if fe.creates+fe.updates != 0 {
		t.Errorf("wrote after a terminal observation: %d creates, %d updates", fe.creates, fe.updates)
	}
	if got := cond(e.get(t), accessv1alpha1.TypeStalled); got.Reason != accessv1alpha1.ReasonContactNotFound {
		t.Errorf("Stalled reason: got %q", got.Reason)
	}
	if !strings.Contains(e.events(), accessv1alpha1.ReasonContactNotFound) {
		t.Error("no Warning event for the new stall")
	}
	e.reconcile(t)
	if strings.Contains(e.events(), accessv1alpha1.ReasonContactNotFound) {
		t.Error("the Warning event was sent again for the same stall")
	}
}

func TestClassifyCreate(t *testing.T) {
	cases := map[string]struct {
		err  error
		want CreateOutcome
	}{
		"limiter wait ended":    {apiclient.NotSent(fmt.Errorf("cannot create: waiting for the rate limiter: %w", context.DeadlineExceeded)), CreateNotSent},
		"plain context error":   {fmt.Errorf("cannot create: %w", context.DeadlineExceeded), CreateUnknown},
		"marked not sent":       {NotSentError(errors.New("no password")), CreateNotSent},
		"200 success false":     {&hostup.Error{HTTPStatus: 200, Code: hostup.CodeAddContactFailed}, CreateRefused},
		"422 problem":           {&hostup.Error{HTTPStatus: 422, Code: "invalid_request", Problem: true}, CreateRefused},
		"429":                   {&hostup.Error{HTTPStatus: 429, RetryAfter: time.Second}, CreateRefused},
		"coded 500":             {&hostup.Error{HTTPStatus: 500, Code: "INTERNAL_SERVER_ERROR"}, CreateUnknown},
		"504 code":              {&hostup.Error{HTTPStatus: 504, Code: "504"}, CreateUnknown},
		"proxy 502":             {&hostup.Error{HTTPStatus: 502}, CreateUnknown},
		"undecodable 200":       {&hostup.DecodeError{HTTPStatus: 200, Err: errors.New("truncated")}, CreateUnknown},
		"timeout after writing": {fmt.Errorf("cannot create: %w", errors.New("read: connection reset")), CreateUnknown},
	}
	for name, tc := range cases {
		if got := ClassifyCreate(tc.err); got != tc.want {
			t.Errorf("%s: got %d, want %d", name, got, tc.want)
		}
	}
}

func TestRateLimitedPollOfAReadyObjectWritesNothing(t *testing.T) {
	fe := &fakeExternal{exists: true}
	e := newEnv(t, fe, &ca{})
	e.reconcile(t)
	rv := e.get(t).ResourceVersion
	fe.observeErr = &hostup.Error{Op: "get contact permissions", HTTPStatus: 429, RetryAfter: 7 * time.Second}
	res := e.reconcile(t)
	if got := e.get(t).ResourceVersion; got != rv {
		t.Errorf("a rate-limited poll of a Ready object wrote its status (resourceVersion %s → %s)", rv, got)
	}
	if res.RequeueAfter != 7*time.Second {
		t.Errorf("RequeueAfter = %v, want the provider's 7s", res.RequeueAfter)
	}

	// An object that is not Ready yet shows the rate limit: there is something to tell.
	fresh := newEnv(t, &fakeExternal{observeErr: fe.observeErr}, &ca{})
	fresh.reconcile(t)
	if c := cond(fresh.get(t), accessv1alpha1.TypeSynced); c.Reason != accessv1alpha1.ReasonRateLimited {
		t.Errorf("Synced on a new object: %+v, want RateLimited", c)
	}
}

// An account that must wait hands the reconcile back (apiclient.Limiter): it returns at once,
// comes back when its token is due, and writes nothing meanwhile; a server-ordered pause is
// reported like a rate-limited answer.
func TestAccountThatMustWaitHoldsNoWorker(t *testing.T) {
	paced := &fakeExternal{observeErr: apiclient.NotSent(fmt.Errorf("cannot get contact: %w", &apiclient.WaitError{Until: time.Now().Add(3 * time.Second)}))}
	e := newEnv(t, paced, &ca{})
	res := e.reconcile(t)
	if res.RequeueAfter <= 2*time.Second || res.RequeueAfter > 3*time.Second {
		t.Errorf("RequeueAfter = %v, want the time the limiter gave (~3s)", res.RequeueAfter)
	}
	if res.Priority != nil {
		t.Errorf("Priority = %d, want the request's own kept (nil): a new object handed back stays ahead of polls", *res.Priority)
	}
	if got := e.get(t); len(got.Status.Conditions) != 0 {
		t.Errorf("a handed-back reconcile wrote conditions: %+v", got.Status.Conditions)
	}
	if e.events() != "" {
		t.Error("a handed-back reconcile emitted an event")
	}

	// A short pause (another object's call was answered Retry-After: 1) is waited out quietly.
	short := newEnv(t, &fakeExternal{observeErr: apiclient.NotSent(&apiclient.WaitError{Until: time.Now().Add(time.Second), Paused: true})}, &ca{})
	if res := short.reconcile(t); res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("short pause: RequeueAfter = %v, want the pause's end", res.RequeueAfter)
	}
	if got := short.get(t); len(got.Status.Conditions) != 0 {
		t.Errorf("a 1 s pause wrote conditions: %+v", got.Status.Conditions)
	}

	paused := &fakeExternal{observeErr: apiclient.NotSent(fmt.Errorf("cannot get contact: %w", &apiclient.WaitError{Until: time.Now().Add(time.Hour), Paused: true}))}
	p := newEnv(t, paused, &ca{})
	res = p.reconcile(t)
	if res.RequeueAfter < 59*time.Minute {
		t.Errorf("paused: RequeueAfter = %v, want the end of the pause", res.RequeueAfter)
	}
	if c := cond(p.get(t), accessv1alpha1.TypeSynced); c.Reason != accessv1alpha1.ReasonRateLimited {
		t.Errorf("paused: Synced = %+v, want RateLimited", c)
	}
}

// A periodic poll goes behind new objects and spec changes in the priority queue.
func TestPollsAreLowPriority(t *testing.T) {
	e := newEnv(t, &fakeExternal{exists: true}, &ca{})
	res := e.reconcile(t)
	if res.Priority == nil || *res.Priority != handler.LowPriority {
		t.Fatalf("Priority of the next poll = %v, want handler.LowPriority", res.Priority)
	}
	if res.RequeueAfter < 9*time.Second || res.RequeueAfter > 11*time.Second {
		t.Errorf("RequeueAfter = %v, want the interval ±10%%", res.RequeueAfter)
	}
	// A retry keeps the request's priority (an error on a new object is not a poll).
	r := newEnv(t, &fakeExternal{observeErr: errors.New("boom")}, &ca{})
	if res := r.reconcile(t); res.Priority != nil {
		t.Errorf("retry Priority = %d, want the request's own", *res.Priority)
	}
}

func TestBackoffDoublesFromBaseCappedByInterval(t *testing.T) {
	var b Backoff
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	within := func(got, want time.Duration) bool { // Jitter: ±10 %
		return got >= want*9/10 && got <= want*11/10
	}
	for i, want := range []time.Duration{50, 100, 200, 400, 500, 500} {
		want *= time.Millisecond
		if got := b.Next(key, 500*time.Millisecond, 50*time.Millisecond); !within(got, want) {
			t.Errorf("failure %d: %v, want about %v", i+1, got, want)
		}
	}
	if got := b.Next(types.NamespacedName{Name: "other"}, time.Hour, 0); !within(got, time.Second) {
		t.Errorf("zero base: %v, want about 1s", got)
	}
	b.Forget(key)
	if got := b.Next(key, time.Hour, 0); !within(got, time.Second) {
		t.Errorf("after Forget: %v, want the first delay again", got)
	}
}

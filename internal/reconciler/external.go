package reconciler

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Object is a managed object of any kind of this API.
type Object interface {
	client.Object
	GetCommonStatus() *accessv1alpha1.CommonStatus
	StatusValue() any
	GetManagementPolicy() accessv1alpha1.ManagementPolicy
	OrphansOnDelete() bool
	GetDeletionPolicy() string
	SetPlan(drift, pending []string)
}

// Observation is what one read of the provider found. Observe may record what it read in the
// object's own observed-status fields (status.observed, contactID, state, …); everything the
// loop decides on travels in this value.
type Observation struct {
	// Exists is false when nothing exists in the provider for the object yet, or when it must be
	// made anew (an expired invitation with reinviteOnExpiry): Create is due.
	Exists bool
	// CreatePlan says what Create would do (shown as status.plan under managementPolicy Observe).
	CreatePlan string
	// CreateCheck tells a person how to check whether an interrupted create happened, for
	// externals that cannot list what exists (HostUp contacts).
	CreateCheck string
	// Diff lists the differences between the spec and the provider; empty means up to date.
	Diff []string
	// Result, when set, ends the reconcile with this outcome and nothing is written (a contact
	// that is gone, a revoked grant, an unknown manager).
	Result *Outcome
	// UpToDate is the outcome when Diff is empty; the default is Ready/Available.
	UpToDate *Outcome
	// Stuck explains a difference that is still there after a write, when the external knows why.
	Stuck *Outcome
	// Read is what the external read, for its own Update to build the write on without reading
	// again (the loop never looks inside).
	Read any
}

// Created is what a successful Create made.
type Created struct {
	// ID of the new contact or grant: recorded in the created-id annotation.
	ID string
	// Reason and Message of the Normal event.
	Reason, Message string
	// Then, if set, runs once the id is recorded (e.g. storing an invite token); an error becomes
	// a Warning event with reason ThenReason.
	Then       func(ctx context.Context) error
	ThenReason string
}

// Deleted is the result of applying a deletion policy.
type Deleted struct {
	// Done lets the finalizer go.
	Done bool
	// Event, if Reason is set, is emitted (Warning when Warning is true).
	Reason, Message string
	Warning         bool
	// Wait is the outcome while not Done, and RequeueAfter when to look again.
	Wait         Outcome
	RequeueAfter time.Duration
}

// External is the provider side of one kind. It never writes to the Kubernetes API except
// through the object passed in (observed status) or a Secret it owns; the loop owns the rest.
type External[T Object] interface {
	// Observe reads the provider and compares it with the spec.
	Observe(ctx context.Context, obj T) (Observation, error)
	// Create makes the contact or grant. It is called only by the create-intent protocol.
	Create(ctx context.Context, obj T) (Created, error)
	// Update applies the differences Observe found.
	Update(ctx context.Context, obj T, obs Observation) error
	// Delete applies the deletion policy Revoke or Delete (Orphan never reaches it).
	Delete(ctx context.Context, obj T) (Deleted, error)
}

// Finder is implemented by externals that can list what exists, so that the intent protocol
// can find what an interrupted create made instead of asking a person.
type Finder[T Object] interface {
	// FindCreated returns the id of what a create for obj made since the given time, or "".
	FindCreated(ctx context.Context, obj T, since time.Time) (string, error)
}

// Preparer is implemented by externals that must check something before a create is
// attempted (a password Secret): a failure here records no intent and sends nothing.
type Preparer[T Object] interface {
	PrepareCreate(ctx context.Context, obj T) error
}

// Connector chooses the provider, exactly once per reconcile, and returns the object's external
// client and its poll interval. A connection failure is an error (OutcomeError for what a
// person must fix); the interval is valid even then.
type Connector[T Object] interface {
	Connect(ctx context.Context, obj T) (External[T], time.Duration, error)
}

// ConnectorFunc adapts a function to a Connector.
type ConnectorFunc[T Object] func(ctx context.Context, obj T) (External[T], time.Duration, error)

// Connect calls f.
func (f ConnectorFunc[T]) Connect(ctx context.Context, obj T) (External[T], time.Duration, error) {
	return f(ctx, obj)
}

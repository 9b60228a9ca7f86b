package controllers

import (
	"errors"
	"net/http"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/contactsync/contactsync/internal/hostup"
)

// detachedTimeout bounds a non-idempotent create and the recording of its id, which run
// detached from the reconcile's context so that a graceful shutdown cannot split them.
const detachedTimeout = time.Minute

// errorBackoff is the queue's backoff for errors returned to controller-runtime (Kubernetes API
// failures): 1 s doubling to 5 min. Provider errors are spaced by retryBackoff instead, capped
// at the object's poll interval; Retry-After answers are honoured with RequeueAfter.
func errorBackoff() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute)
}

func isForbidden(err error) bool {
	var e *hostup.Error
	return errors.As(err, &e) && e.HTTPStatus == http.StatusForbidden
}

// createOutcomeKnown reports whether a failed create call certainly created nothing. This is
// the one place that decides it; HostUp documents no idempotency key and no way to list
// contacts, so when in doubt the answer is "unknown" and a person is asked to check:
//   - an HTTP error answer with a HostUp error body (legacy code or problem document), or any
//     4xx, means the request was refused: nothing was created;
//   - an HTTP 200 with data.success:false means the billing system refused it: nothing created;
//   - a network error, a timeout, an unreadable body or a 5xx without a HostUp error body
//     (a proxy's page) may have come after the contact was created: unknown.
func createOutcomeKnown(err error) bool {
	var e *hostup.Error
	if !errors.As(err, &e) {
		return false
	}
	if e.HTTPStatus >= 400 && e.HTTPStatus < 500 {
		return true
	}
	return e.Code != ""
}

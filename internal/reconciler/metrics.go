package reconciler

import (
	"reflect"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// DriftCorrections counts writes that corrected a change made outside contactsync (the
// DriftCorrected events), by kind and namespace. The per-object gauges are computed at scrape
// time from the cache (controllers.StatusCollector).
var DriftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "contactsync_drift_corrections_total",
	Help: "Changes made outside contactsync that it found and corrected (DriftCorrected events), by kind and namespace.",
}, []string{"kind", "namespace"})

func init() { ctrlmetrics.Registry.MustRegister(DriftCorrections) }

// kindOf names the kind of a typed object by its Go type (a typed client leaves TypeMeta empty).
func kindOf(obj any) string {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

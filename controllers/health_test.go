package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// healthCase is an object in a state the controller really produces (conditions written by
// outcome.apply), with what Argo CD's Lua check and kstatus must say about it.
type healthCase struct {
	reason  string
	obj     runtime.Object
	argo    string
	kstatus status.Status
}

func withOutcome(o reconciler.Outcome, generation, observed int64) []metav1.Condition {
	var conds []metav1.Condition
	o.Apply(&conds, observed)
	return conds
}

func healthCases() map[string]healthCase {
	meta := func(gen int64) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: gen}
	}
	ca := func(gen, observedGen int64, conds []metav1.Condition) *accessv1alpha1.ContactAccess {
		return &accessv1alpha1.ContactAccess{
			TypeMeta:   metav1.TypeMeta{APIVersion: "access.contactsync.dev/v1alpha1", Kind: "ContactAccess"},
			ObjectMeta: meta(gen),
			Status:     accessv1alpha1.ContactAccessStatus{CommonStatus: accessv1alpha1.CommonStatus{Conditions: conds, ObservedGeneration: observedGen}},
		}
	}
	dg := func(conds []metav1.Condition) *accessv1alpha1.DelegatedGrant {
		return &accessv1alpha1.DelegatedGrant{
			TypeMeta:   metav1.TypeMeta{APIVersion: "access.contactsync.dev/v1alpha1", Kind: "DelegatedGrant"},
			ObjectMeta: meta(1),
			Status:     accessv1alpha1.DelegatedGrantStatus{CommonStatus: accessv1alpha1.CommonStatus{Conditions: conds, ObservedGeneration: 1}},
		}
	}
	pc := func(conds []metav1.Condition) *accessv1alpha1.ProviderConfig {
		return &accessv1alpha1.ProviderConfig{
			TypeMeta:   metav1.TypeMeta{APIVersion: "access.contactsync.dev/v1alpha1", Kind: "ProviderConfig"},
			ObjectMeta: meta(1),
			Status:     accessv1alpha1.ProviderConfigStatus{CommonStatus: accessv1alpha1.CommonStatus{Conditions: conds, ObservedGeneration: 1}},
		}
	}
	cpc := func(conds []metav1.Condition) *accessv1alpha1.ClusterProviderConfig {
		return &accessv1alpha1.ClusterProviderConfig{
			TypeMeta:   metav1.TypeMeta{APIVersion: "access.contactsync.dev/v1alpha1", Kind: "ClusterProviderConfig"},
			ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1},
			Status:     accessv1alpha1.ProviderConfigStatus{CommonStatus: accessv1alpha1.CommonStatus{Conditions: conds, ObservedGeneration: 1}},
		}
	}
	// A ClusterProviderConfig being deleted while in use: the deletion bumped the generation to 2,
	// Ready stays as verified at 1, and the usage reconciler marked the wait.
	inUse := cpc(withOutcome(reconciler.Ready(accessv1alpha1.ReasonCredentialsVerified, "ok"), 1, 1))
	inUse.Generation, inUse.DeletionTimestamp, inUse.Finalizers = 2, ptr(metav1.Unix(1, 0)), []string{accessv1alpha1.FinalizerInUse}
	markInUse(&inUse.Status.CommonStatus, 2, "deletion waits until the 1 object(s) using this ClusterProviderConfig are gone")
	ok := reconciler.Ready(accessv1alpha1.ReasonAvailable, "matches")
	return map[string]healthCase{
		// kstatus cannot tell an object nobody reconciled yet from a finished one (its own,
		// documented limitation); the Lua check can, and the controller writes status at once.
		"NewObject": {"no status yet", ca(1, 0, nil), "Progressing", status.CurrentStatus},
		"Ready":     {"desired state verified", ca(2, 2, withOutcome(ok, 2, 2)), "Healthy", status.CurrentStatus},
		"SpecNotObserved": {"a spec edit not yet reconciled", ca(3, 2, withOutcome(ok, 2, 2)),
			"Progressing", status.InProgressStatus},
		"Converging": {"waiting for the ProviderConfig", ca(1, 1, withOutcome(reconciler.Progressing(accessv1alpha1.ReasonProviderConfigNotReady, "waiting", false), 1, 1)),
			"Progressing", status.InProgressStatus},
		"Retrying": {"an API error being retried", ca(1, 1, withOutcome(reconciler.Retrying(accessv1alpha1.ReasonAPIError, "HTTP 503"), 1, 1)),
			"Progressing", status.InProgressStatus},
		"Stalled": {"an unknown manager", ca(1, 1, withOutcome(reconciler.Stalled(accessv1alpha1.ReasonUnknownManager, "no portal user has the e-mail x@y.se", true), 1, 1)),
			"Degraded", status.FailedStatus},
		"ObserveOnly": {"a dry run with a pending plan has done its job", ca(1, 1, withOutcome(reconciler.Observed("2 change(s) pending"), 1, 1)),
			"Healthy", status.CurrentStatus},
		"GrantPending": {"an invitation waiting for the invitee", dg(withOutcome(reconciler.Ready(accessv1alpha1.ReasonInvitePending, "waiting"), 1, 1)),
			"Healthy", status.CurrentStatus},
		"GrantRevoked": {"revoked in the dashboard", dg(withOutcome(reconciler.Stalled(accessv1alpha1.ReasonGrantRevoked, "revoked", true), 1, 1)),
			"Degraded", status.FailedStatus},
		"ProviderConfigRejected": {"wrong credentials", pc(withOutcome(reconciler.Stalled(accessv1alpha1.ReasonCredentialsRejected, "401", true), 1, 1)),
			"Degraded", status.FailedStatus},
		"ProviderConfigReady": {"credentials verified", pc(withOutcome(reconciler.Ready(accessv1alpha1.ReasonCredentialsVerified, "ok"), 1, 1)),
			"Healthy", status.CurrentStatus},
		"ClusterProviderConfigReady": {"credentials verified", cpc(withOutcome(reconciler.Ready(accessv1alpha1.ReasonCredentialsVerified, "ok"), 1, 1)),
			"Healthy", status.CurrentStatus},
		"ClusterProviderConfigSecretNotLabeled": {"its Secret lacks the opt-in label", cpc(withOutcome(reconciler.Stalled(accessv1alpha1.ReasonSecretNotLabeled, "not opted in", false), 1, 1)),
			"Degraded", status.FailedStatus},
		"ClusterProviderConfigInUse": {"a deletion waiting for the objects that use it", inUse, "Progressing", status.TerminatingStatus},
		"NamespaceNotAllowed": {"a namespace the ClusterProviderConfig does not allow", ca(1, 1, withOutcome(reconciler.Stalled(accessv1alpha1.ReasonNamespaceNotAllowed, "not allowed", false), 1, 1)),
			"Degraded", status.FailedStatus},
	}
}

func toMap(t *testing.T, obj runtime.Object) map[string]any {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		tb := L.NewTable()
		for k, e := range x {
			tb.RawSetString(k, toLua(L, e))
		}
		return tb
	case []any:
		tb := L.NewTable()
		for _, e := range x {
			tb.Append(toLua(L, e))
		}
		return tb
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	}
	return lua.LNil
}

// runHealth runs an Argo CD health script the way Argo CD does: obj is a global, the script
// returns a table with status and message.
func runHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("the health script failed: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health script returned %s, not a table", L.Get(-1).Type())
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

func TestArgoCDHealth(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(raw)
	for name, tc := range healthCases() {
		t.Run(name, func(t *testing.T) {
			got, msg := runHealth(t, script, toMap(t, tc.obj))
			if got != tc.argo {
				t.Errorf("%s: Argo CD health = %s (%q), want %s", tc.reason, got, msg, tc.argo)
			}
		})
	}
}

func TestKstatusReadsEveryKind(t *testing.T) {
	for name, tc := range healthCases() {
		t.Run(name, func(t *testing.T) {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: m})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.kstatus {
				t.Errorf("%s: kstatus = %s (%s), want %s", tc.reason, res.Status, res.Message, tc.kstatus)
			}
		})
	}
}

// The argocd-cm patch carries the script once per kind; every copy must equal health.lua.
func TestArgoCDConfigMapCarriesTheScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ProviderConfig", "ClusterProviderConfig", "ContactAccess", "DelegatedGrant"} {
		key := "resource.customizations.health.access.contactsync.dev_" + kind
		if diff := cmp.Diff(strings.TrimSpace(string(script)), strings.TrimSpace(cm.Data[key])); diff != "" {
			t.Errorf("%s differs from health.lua (-want +got):\n%s", key, diff)
		}
	}
}

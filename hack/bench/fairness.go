package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// The fairness scenario (issue 19): two more HostUp accounts in their own namespace, each with
// the server rate limit of the run. First K objects of the healthy account converge alone; then
// the broken account starts answering 429 with Retry-After: 3600 to every call, K objects of it
// are created, and right after them K new objects of the healthy account. The healthy objects'
// time to Ready with the broken account beside them is compared with their time alone.
//
// Every object already matches its fake (one read each), so the healthy account's time alone
// is about K / rate.

const fairNS = "bench-fairness"

type fairnessReport struct {
	Objects       int     `json:"objects"`       // K per group
	AloneSeconds  float64 `json:"aloneSeconds"`  // healthy account alone
	BesideSeconds float64 `json:"besideSeconds"` // healthy account, broken account beside it
	Ratio         float64 `json:"ratio"`         // BesideSeconds / AloneSeconds
	// BrokenCalls arrived at the broken account's fake after it turned callers away; the
	// objects of it that reported RateLimited.
	BrokenCalls       int  `json:"brokenCalls"`
	BrokenRateLimited int  `json:"brokenRateLimited"`
	Converged         bool `json:"converged"`
}

// fairness runs the scenario; it gives up on the second group after limit.
func (b *bench) fairness(ctx context.Context, k int) (*fairnessReport, error) {
	rep := &fairnessReport{Objects: k}
	healthy, broken := b.newHostUpFake(), b.newHostUpFake()
	var healthyIDs, brokenIDs []int64
	for i := range 2 * k {
		// Object i of either healthy group is the i%k-th of its group: seed its rights so.
		healthyIDs = append(healthyIDs, b.seedMatching(healthy, i, i%k))
	}
	for i := range k {
		brokenIDs = append(brokenIDs, b.seedMatching(broken, i, i))
	}
	var urls []string
	for _, f := range []*hostupfake.Server{healthy, broken} {
		u, closeFn, err := serve(f)
		if err != nil {
			return rep, err
		}
		urls = append(urls, u)
		b.closeFakes = append(b.closeFakes, closeFn)
	}
	rl := &accessv1alpha1.RateLimit{RequestsPerSecond: int32(b.cfg.ServerRPS), Burst: int32(b.cfg.ClientBurst)}
	// A long poll: objects that converged do not take the healthy account's budget.
	poll := &metav1.Duration{Duration: 10 * time.Minute}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fairNS}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fairNS, Name: "hostup-credentials", Labels: optIn},
			StringData: map[string]string{"apiKey": hostupKey}},
	}
	for i, name := range []string{"healthy", "broken"} {
		objs = append(objs, &accessv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: fairNS, Name: name},
			Spec: accessv1alpha1.ProviderConfigSpec{
				HostUp: &accessv1alpha1.HostUpProvider{BaseURL: urls[i] + "/api",
					APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: "hostup-credentials", Key: "apiKey"}},
				RateLimit: rl, SyncInterval: poll,
			},
		})
	}
	for _, o := range objs {
		if err := b.kube.Create(ctx, o); err != nil {
			return rep, fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := b.waitReadyPCs(ctx, fairNS, "healthy", "broken"); err != nil {
		return rep, err
	}

	progress("fairness: %d objects of the healthy account alone", k)
	alone, err := b.fairGroup(ctx, "alone", "healthy", healthyIDs[:k], 5*time.Minute)
	if err != nil {
		return rep, err
	}
	rep.AloneSeconds = alone.Seconds()

	broken.Program("*", 1<<30, hostupfake.Fault{Status: 429, RetryAfter: "3600"})
	before := totalCalls(broken)
	progress("fairness: the broken account answers 429 Retry-After: 3600; %d objects of it, then %d new objects of the healthy account", k, k)
	if err := b.createGroup(ctx, "broken", "broken", brokenIDs); err != nil {
		return rep, err
	}
	// Give up at 5× the time alone: a scheduler that lets the broken account hold the workers
	// would keep the healthy objects waiting for an hour.
	beside, err := b.fairGroup(ctx, "beside", "healthy", healthyIDs[k:], 5*alone+30*time.Second)
	rep.BesideSeconds = beside.Seconds()
	rep.BrokenCalls = totalCalls(broken) - before
	rep.BrokenRateLimited = b.countReason(ctx, "broken", accessv1alpha1.ReasonRateLimited)
	if rep.AloneSeconds > 0 {
		rep.Ratio = rep.BesideSeconds / rep.AloneSeconds
	}
	rep.Converged = err == nil
	progress("fairness: alone %.1fs, beside the broken account %.1fs (%.2f×); %d calls reached the broken account",
		rep.AloneSeconds, rep.BesideSeconds, rep.Ratio, rep.BrokenCalls)
	return rep, err
}

func (b *bench) newHostUpFake() *hostupfake.Server {
	f := hostupfake.New(hostupfake.WithAPIKey(hostupKey), hostupfake.WithRateLimit(float64(b.cfg.ServerRPS), b.cfg.ServerRPS))
	f.SetFaults(hostupfake.Faults{Latency: b.cfg.Latency})
	for i, id := range hostupServices {
		_ = f.AddService(id, fmt.Sprintf("VPS %d", i+1), "vps")
	}
	_ = f.AddDomain("21266", "example.com")
	return f
}

// seedMatching adds contact n whose rights already match fairObject's object i.
func (b *bench) seedMatching(f *hostupfake.Server, n, i int) int64 {
	id := f.AddContact(hostupfake.Contact{FirstName: "Fair", LastName: fmt.Sprint(n), Email: fmt.Sprintf("f%d@bench.example", n)})
	_ = f.SetContactPermissions(id, hostupfake.Permissions{Services: []string{hostupServices[i%3]}, Domains: []string{"21266"}, CanViewInvoices: true})
	return id
}

func fairObject(group, pc string, i int, id int64) *accessv1alpha1.ContactAccess {
	id0 := id
	return &accessv1alpha1.ContactAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: fairNS, Name: fmt.Sprintf("%s-%04d", group, i), Labels: map[string]string{"bench/group": group}},
		Spec: accessv1alpha1.ContactAccessSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: pc},
			HostUp: &accessv1alpha1.HostUpContactAccess{
				Contact: accessv1alpha1.HostUpContact{ID: &id0},
				Permissions: accessv1alpha1.HostUpPermissions{
					Services: []accessv1alpha1.ResourceRef{{ID: hostupServices[i%3]}},
					Domains:  []accessv1alpha1.ResourceRef{{ID: "21266"}},
					// Only this right, as seeded.
					CanViewInvoices: true,
				},
			},
		},
	}
}

func (b *bench) createGroup(ctx context.Context, group, pc string, ids []int64) error {
	for i, id := range ids {
		if err := b.kube.Create(ctx, fairObject(group, pc, i, id)); err != nil {
			return fmt.Errorf("cannot create %s-%d: %w", group, i, err)
		}
	}
	return nil
}

// fairGroup creates a group and returns the time from its first create until all are Ready.
func (b *bench) fairGroup(ctx context.Context, group, pc string, ids []int64, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := b.createGroup(ctx, group, pc, ids); err != nil {
		return 0, err
	}
	for {
		if n := b.countReason(ctx, group, ""); n == len(ids) {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("fairness: group %s not Ready after %s", group, limit.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return time.Since(start), errTimeout
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// countReason counts the group's objects that are Ready (reason "") or whose Synced condition
// has the given reason.
func (b *bench) countReason(ctx context.Context, group, reason string) int {
	var l accessv1alpha1.ContactAccessList
	if err := b.kube.List(ctx, &l, client.InNamespace(fairNS), client.MatchingLabels{"bench/group": group}); err != nil {
		return 0
	}
	n := 0
	for _, o := range l.Items {
		if reason == "" {
			c := meta.FindStatusCondition(o.Status.Conditions, accessv1alpha1.TypeReady)
			if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation {
				n++
			}
			continue
		}
		if c := meta.FindStatusCondition(o.Status.Conditions, accessv1alpha1.TypeSynced); c != nil && c.Reason == reason {
			n++
		}
	}
	return n
}

// waitReadyPCs waits until the named ProviderConfigs of ns are Ready.
func (b *bench) waitReadyPCs(ctx context.Context, ns string, names ...string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ready := 0
		for _, name := range names {
			pc := &accessv1alpha1.ProviderConfig{}
			if err := b.kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pc); err == nil {
				if c := meta.FindStatusCondition(pc.Status.Conditions, accessv1alpha1.TypeReady); c != nil && c.Status == metav1.ConditionTrue {
					ready++
				}
			}
		}
		if ready == len(names) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ProviderConfigs %v did not become Ready within a minute", names)
		}
		select {
		case <-ctx.Done():
			return errTimeout
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func totalCalls(f *hostupfake.Server) int {
	n := 0
	for _, v := range f.Counts() {
		n += v
	}
	return n
}

package main

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

// The workload. Object i (0 ≤ i < N + samples) is a HostUp ContactAccess when i is even and an
// ONLYOFFICE one when i is odd. Within each provider a fraction -match of the objects, spread
// evenly, already matches the fake's state; the others differ and need read + write + verify read.
// Objects N..N+samples-1 are the latency samples and always differ.
//
// HostUp: contact hostupContact[i] with spec {services [one VPS], domains [example.com],
// canViewInvoices, canOpenTickets}. Matching: the fake holds exactly that. Differing: the fake
// holds another VPS and canPlaceOrders.
//
// ONLYOFFICE: CRM contact ooContactBase+i, private, managers two of four users named by e-mail.
// Matching: the fake holds that ACL. Differing: alternately shared with everyone, or private
// with the two other managers.

// ooContactBase is the id of ONLYOFFICE contact 0.
const ooContactBase = 100000

var hostupServices = []string{"14101", "14102", "14103"}

// workload remembers what was seeded.
type workload struct {
	hostupContact map[int]int64 // object index -> HostUp contact id
	matchH, diffH int           // among the N benchmark objects
	matchO, diffO int
	emails        map[string]bool // distinct manager e-mails the ONLYOFFICE objects name
	diffOBySet    map[string]int  // differing ONLYOFFICE objects by desired manager set
}

func (b *bench) matches(i int) bool {
	// Spread evenly: the k-th object of a provider matches when floor((k+1)·f) > floor(k·f).
	k, f := float64(i/2), b.cfg.MatchFraction
	return i < b.cfg.N && int((k+1)*f) > int(k*f)
}

func isHostUp(i int) bool { return i%2 == 0 }

// seedFakes fills the catalogue, the users and one contact per object.
func (b *bench) seedFakes() error {
	for i, id := range hostupServices {
		if err := b.hu.AddService(id, fmt.Sprintf("VPS %d", i+1), "vps"); err != nil {
			return err
		}
	}
	if err := b.hu.AddService("18732", "Webbhotell", "hosting"); err != nil {
		return err
	}
	if err := b.hu.AddDomain("21266", "example.com"); err != nil {
		return err
	}
	if err := b.hu.AddDNSZone("3034", "example.com"); err != nil {
		return err
	}
	b.oo.AddUser(onlyofficefake.User{Email: ooAdmin, UserName: "svc", FirstName: "Service", LastName: "Account", Password: ooAdminPass, IsAdmin: true})
	for _, u := range ooManagers {
		u.Password = ooAdminPass
		b.oo.AddUser(u)
	}

	w := &workload{hostupContact: map[int]int64{}, emails: map[string]bool{}, diffOBySet: map[string]int{}}
	total := b.cfg.N + b.cfg.Samples
	for i := range total {
		match := b.matches(i)
		if isHostUp(i) {
			id := b.hu.AddContact(hostupfake.Contact{FirstName: "Bench", LastName: fmt.Sprint(i), Email: fmt.Sprintf("c%d@bench.example", i)})
			w.hostupContact[i] = id
			want := hostupfake.Permissions{Services: []string{hostupServices[i%3]}, Domains: []string{"21266"}, CanViewInvoices: true, CanOpenTickets: true}
			if !match {
				want = hostupfake.Permissions{Services: []string{hostupServices[(i+1)%3]}, CanPlaceOrders: true}
			}
			if err := b.hu.SetContactPermissions(id, want); err != nil {
				return err
			}
			if i < b.cfg.N {
				if match {
					w.matchH++
				} else {
					w.diffH++
				}
			}
			continue
		}
		mine, others := ooPair(i)
		c := onlyofficefake.Contact{ID: int64(ooContactBase + i), FirstName: "Bench", LastName: fmt.Sprint(i)}
		switch {
		case match:
			c.ACL = []string{mine[0].ID, mine[1].ID}
		case (i/2)%2 == 0:
			c.ShareType = 1
		default:
			c.ACL = []string{others[0].ID, others[1].ID}
		}
		b.oo.AddContact(c)
		if i < b.cfg.N {
			w.emails[mine[0].Email], w.emails[mine[1].Email] = true, true
			if match {
				w.matchO++
			} else {
				w.diffO++
				w.diffOBySet[mine[0].ID+","+mine[1].ID]++
			}
		}
	}
	b.work = w
	return nil
}

// ooPair returns the two managers object i wants and the two it does not.
func ooPair(i int) (mine, others [2]onlyofficefake.User) {
	if (i/2)%2 == 0 {
		return [2]onlyofficefake.User{ooManagers[0], ooManagers[1]}, [2]onlyofficefake.User{ooManagers[2], ooManagers[3]}
	}
	return [2]onlyofficefake.User{ooManagers[2], ooManagers[3]}, [2]onlyofficefake.User{ooManagers[0], ooManagers[1]}
}

// contactAccess builds object i.
func (b *bench) contactAccess(i int) *accessv1alpha1.ContactAccess {
	ca := &accessv1alpha1.ContactAccess{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("ca-%05d", i)}}
	if isHostUp(i) {
		id := b.work.hostupContact[i]
		ca.Spec.ProviderConfigRef.Name = pcHostUp
		ca.Spec.HostUp = &accessv1alpha1.HostUpContactAccess{
			Contact: accessv1alpha1.HostUpContact{ID: &id},
			Permissions: accessv1alpha1.HostUpPermissions{
				Services:        []accessv1alpha1.ResourceRef{{ID: hostupServices[i%3]}},
				Domains:         []accessv1alpha1.ResourceRef{{ID: "21266"}},
				CanViewInvoices: true, CanOpenTickets: true,
			},
		}
		return ca
	}
	mine, _ := ooPair(i)
	ca.Spec.ProviderConfigRef.Name = pcOnlyOffic
	ca.Spec.OnlyOffice = &accessv1alpha1.OnlyOfficeContactAccess{
		ContactID: int64(ooContactBase + i),
		Managers:  []accessv1alpha1.ManagerRef{{Email: mine[0].Email}, {Email: mine[1].Email}},
	}
	return ca
}

// delegatedGrant builds DelegatedGrant j: a new invitation.
func delegatedGrant(j int) *accessv1alpha1.DelegatedGrant {
	return &accessv1alpha1.DelegatedGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("dg-%05d", j)},
		Spec: accessv1alpha1.DelegatedGrantSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: pcHostUp},
			Email:             fmt.Sprintf("partner%d@bench.example", j),
			Label:             fmt.Sprintf("bench %d", j),
		},
	}
}

// createObjects creates the N ContactAccess and M DelegatedGrant objects with a few parallel
// clients, interleaved so both controllers and both accounts get work from the start.
func (b *bench) createObjects(ctx context.Context) error {
	objs := make([]client.Object, 0, b.cfg.N+b.cfg.M)
	step := 1
	if b.cfg.M > 0 {
		step = max(1, b.cfg.N/b.cfg.M)
	}
	j := 0
	for i := range b.cfg.N {
		objs = append(objs, b.contactAccess(i))
		if i%step == step-1 && j < b.cfg.M {
			objs = append(objs, delegatedGrant(j))
			j++
		}
	}
	for ; j < b.cfg.M; j++ {
		objs = append(objs, delegatedGrant(j))
	}
	const workers = 8
	work := make(chan client.Object)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for o := range work {
				if err := b.kube.Create(ctx, o); err != nil {
					errs <- fmt.Errorf("cannot create %s: %w", o.GetName(), err)
					return
				}
			}
		})
	}
	var err error
feed:
	for _, o := range objs {
		select {
		case work <- o:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

//go:build killtest

package controllers

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// Run with `make killtest`: the manager binary is built, started against envtest and the
// HostUp fake, and killed with SIGKILL at random points, 20 times, while it creates contacts
// and invitations and applies updates. CONTACTSYNC_KILLS sets the number of kills (CI runs 6).
var _ = Describe("SIGKILL loop", func() {
	kills := 20
	if n, err := strconv.Atoi(os.Getenv("CONTACTSYNC_KILLS")); err == nil && n > 0 {
		kills = n
	}
	It(fmt.Sprintf("never duplicates a contact or an invitation when the manager process is killed %d times", kills), func() {
		stopManager()
		DeferCleanup(startManager)

		dir := GinkgoT().TempDir()
		bin := filepath.Join(dir, "manager")
		build := exec.Command("go", "build", "-o", bin, "../cmd")
		build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
		Expect(build.Run()).To(Succeed())
		user, err := testEnv.AddUser(envtest.User{Name: "killtest", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kc, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		kubeconfig := filepath.Join(dir, "kubeconfig")
		Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())

		ns := newNamespace()
		hu, url := startHostUp(hostupfake.WithSeed(3))
		hu.SetFaults(hostupfake.Faults{Latency: 30 * time.Millisecond, Jitter: 100 * time.Millisecond})
		createSecret(ns, "hostup-key", map[string]string{"apiKey": testAPIKey})
		pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hostup"}, Spec: accessv1alpha1.ProviderConfigSpec{
			HostUp:       &accessv1alpha1.HostUpProvider{BaseURL: url, APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: "hostup-key", Key: "apiKey"}},
			SyncInterval: &metav1.Duration{Duration: declaredPoll},
		}}
		Expect(k8sClient.Create(suiteCtx, pc)).To(Succeed())
		createSecret(ns, "pw", map[string]string{"password": "Kill-Passw0rd"})

		var proc *exec.Cmd
		launch := func() {
			proc = exec.Command(bin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--max-concurrent-reconciles=4",
				"--allow-insecure-http", "--hostup-allowed-hosts=127.0.0.1")
			proc.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
			proc.Stdout, proc.Stderr = GinkgoWriter, GinkgoWriter
			Expect(proc.Start()).To(Succeed())
		}
		kill := func() {
			_ = proc.Process.Signal(syscall.SIGKILL)
			_, _ = proc.Process.Wait()
		}
		launch()
		DeferCleanup(func() { kill() })

		pairs := min(10, kills) // one contact and one grant created before each of the first kills
		var objs []client.Object
		for i := range pairs {
			objs = append(objs, contactToCreate(ns, "k-"+itoa(int64(i)), "K", itoa(int64(i)), fmt.Sprintf("kill%d@example.com", i)), delegatedGrant(ns, "kdg-"+itoa(int64(i)), fmt.Sprintf("kill-dg%d@example.com", i)))
		}
		rng := rand.New(rand.NewPCG(5, 5))
		for i := range kills {
			if i < pairs {
				Expect(k8sClient.Create(suiteCtx, objs[2*i])).To(Succeed())
				Expect(k8sClient.Create(suiteCtx, objs[2*i+1])).To(Succeed())
			} else if i%2 == 0 {
				ca := objs[2*(i%pairs)].(*accessv1alpha1.ContactAccess)
				updateSpec(ca, func(ca *accessv1alpha1.ContactAccess) {
					ca.Spec.HostUp.Permissions.CanViewTickets = !ca.Spec.HostUp.Permissions.CanViewTickets
				})
			}
			time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
			kill()
			launch()
		}
		Eventually(readyOrStalled(objs, accessv1alpha1.ReasonCreateOutcomeUnknown)).WithTimeout(3 * time.Minute).Should(BeEmpty())
		unknown := resolveUnknownCreates(objs, hu)
		Eventually(readyOrStalled(objs)).WithTimeout(3 * time.Minute).Should(BeEmpty())
		for i := range pairs {
			n := 0
			for _, c := range hu.Contacts() {
				if c.Email == fmt.Sprintf("kill%d@example.com", i) {
					n++
				}
			}
			Expect(n).To(Equal(1), "one contact for kill%d", i)
			Expect(grantsFor(hu, fmt.Sprintf("kill-dg%d@example.com", i))).To(HaveLen(1), "one invitation for kill-dg%d", i)
		}
		fmt.Fprintf(GinkgoWriter, "SIGKILL loop: %d kills; %d create(s) left an unknown outcome that a person resolved from the dashboard; no duplicates\n", kills, unknown)
		AddReportEntry("SIGKILL loop", fmt.Sprintf("%d kills, %d unknown create outcomes resolved by hand, no duplicates", kills, unknown))
	})
})

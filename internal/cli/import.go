package cli

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/plan"
)

// Imported objects change nothing when applied: they observe (status.plan says what Enforce
// would change) and leave the provider as it is when deleted.
const (
	importedManagement = accessv1alpha1.ManagementObserve
	importedDeletion   = accessv1alpha1.DeletionOrphan
)

func newImportCommand(o *Options, f *flags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Write ready-to-commit YAML of contacts and grants that already exist",
		Long: `import reads what exists in the provider and writes it as ContactAccess or DelegatedGrant
objects with managementPolicy: Observe and deletionPolicy: Orphan, so that applying them changes
nothing. Read each object's status.plan (or run 'kubectl contactsync plan'), then set
managementPolicy: Enforce (and deletionPolicy: Revoke if contactsync should revoke on delete).`,
		Example: `  kubectl contactsync -n team-a import hostup-contact 8722 10456 -p hostup > hostup-contacts.yaml
  kubectl contactsync -n team-a import onlyoffice-contact 42 -p crm > crm-contacts.yaml
  kubectl contactsync -n team-a import grants -p hostup > grants.yaml`,
	}
	cmd.AddCommand(newImportHostUpContact(o, f), newImportOnlyOfficeContact(o, f), newImportGrants(o, f))
	return cmd
}

func newImportHostUpContact(o *Options, f *flags) *cobra.Command {
	return importByID(o, f, &cobra.Command{
		Use:   "hostup-contact ID...",
		Short: "Import HostUp contact persons (by numeric id) with the permissions they have",
		Long: `hostup-contact writes one ContactAccess per contact id, with spec.hostup.contact.id (that is
how an existing contact is adopted: the controller never creates it) and the permissions the
contact has now. Services, domains and DNS zones are named by name with their id in a comment,
or by id where two resources of the account share a name.`,
		Example: `  kubectl contactsync -n team-a import hostup-contact 8722 -p hostup
  kubectl contactsync -n team-a import hostup-contact 8722 10456 -o json`,
	}, "a HostUp contact id", (*session).importHostUpContacts)
}

func newImportOnlyOfficeContact(o *Options, f *flags) *cobra.Command {
	return importByID(o, f, &cobra.Command{
		Use:   "onlyoffice-contact ID...",
		Short: "Import who may see ONLYOFFICE CRM contacts (by contact id)",
		Long: `onlyoffice-contact writes one ContactAccess per CRM contact id with spec.onlyoffice.shared and,
for a private contact, its managers by e-mail (by id when the portal shows no e-mail).`,
		Example: `  kubectl contactsync -n team-a import onlyoffice-contact 42 43 -p crm`,
	}, "a CRM contact id", (*session).importOnlyOfficeContacts)
}

// importByID completes an import subcommand that takes numeric ids as arguments.
func importByID(o *Options, f *flags, cmd *cobra.Command, what string, run func(*session, context.Context, []int64) ([]doc, error)) *cobra.Command {
	var output string
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(output, "yaml", "json"); err != nil {
			return err
		}
		ids := make([]int64, 0, len(args))
		for _, a := range args {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil || id < 1 {
				return &exitError{ExitError, fmt.Errorf("%q is not %s (a positive number)", a, what)}
			}
			ids = append(ids, id)
		}
		s, err := newSession(o, f)
		if err != nil {
			return err
		}
		docs, err := run(s, cmd.Context(), ids)
		if err != nil {
			return err
		}
		return writeDocs(o.Out, output, docs)
	}
	outputFlag(cmd, &output, "yaml", "yaml", "json")
	return cmd
}

func newImportGrants(o *Options, f *flags) *cobra.Command {
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Import the account's delegated-access grants as DelegatedGrants with spec.grantID",
		Long: `grants writes one DelegatedGrant per pending or active grant of the HostUp account that no
DelegatedGrant of the namespace declares (the ProviderConfig's status.undeclaredGrants), or
per every pending or active grant with --all. Each adopts its grant with spec.grantID: the
controller checks that the grant exists and was sent to spec.email, and never invites.`,
		Example: `  kubectl contactsync -n team-a import grants -p hostup > grants.yaml
  kubectl contactsync -n team-a import grants --all -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			s, err := newSession(o, f)
			if err != nil {
				return err
			}
			docs, err := s.importGrants(cmd.Context(), all)
			if err != nil {
				return err
			}
			return writeDocs(o.Out, output, docs)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "Import every pending or active grant, also those a DelegatedGrant already declares.")
	outputFlag(cmd, &output, "yaml", "yaml", "json")
	return cmd
}

// doc is one imported object with the comments its YAML carries.
type doc struct {
	obj client.Object
	// head is the document's leading comment.
	head []string
	// comments are line comments by YAML path ("spec.hostup.permissions.services.0").
	comments map[string]string
}

func (s *session) warn(format string, args ...any) {
	fmt.Fprintf(s.o.Err, "warning: "+format+"\n", args...)
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: accessv1alpha1.GroupVersion.String(), Kind: kind}
}

func (s *session) importHostUpContacts(ctx context.Context, ids []int64) ([]doc, error) {
	pc, conn, err := s.connection(ctx, connection.HostUp)
	if err != nil {
		return nil, err
	}
	var docs []doc
	for _, id := range ids {
		p, err := conn.HostUp.GetPermissions(ctx, id)
		if err != nil {
			if hostup.IsNotFound(err) {
				return nil, fmt.Errorf("HostUp has no contact %d", id)
			}
			return nil, fmt.Errorf("cannot read the permissions of HostUp contact %d: %w", id, err)
		}
		d := doc{comments: map[string]string{}, head: []string{
			fmt.Sprintf("Imported by kubectl contactsync from HostUp contact %d (%s).", id, pc.Key()),
			"managementPolicy Observe and deletionPolicy Orphan: applying this changes nothing in HostUp.",
			"Read status.plan, then set managementPolicy: Enforce (docs/cli.md).",
		}}
		perms := accessv1alpha1.HostUpPermissions{}
		for _, r := range plan.RightsTable {
			*r.Spec(&perms) = *r.Wire(p)
		}
		for _, fld := range []struct {
			name  string
			items []hostup.Resource
			refs  *[]accessv1alpha1.ResourceRef
		}{
			{"services", p.Services, &perms.Services},
			{"domains", p.Domains, &perms.Domains},
			{"dnsZones", p.DNSZones, &perms.DNSZones},
		} {
			names := map[string]int{}
			for _, it := range fld.items {
				if it.Name != "" {
					names[strings.ToLower(it.Name)]++
				}
			}
			for _, it := range fld.items {
				if !it.HasAccess {
					continue
				}
				path := fmt.Sprintf("spec.hostup.permissions.%s.%d", fld.name, len(*fld.refs))
				switch {
				case it.ID == "":
					// The older response shape names a granted item by name only: there is no id to
					// declare, and a name resolves only against items with id and name.
					s.warn("contact %d: %s %q is reported by name only (HostUp's older response shape); it is left out: add its numeric id by hand", id, fld.name, it.Name)
					continue
				case it.Name == "" || it.Bare:
					*fld.refs = append(*fld.refs, accessv1alpha1.ResourceRef{ID: it.ID})
				case names[strings.ToLower(it.Name)] > 1:
					*fld.refs = append(*fld.refs, accessv1alpha1.ResourceRef{ID: it.ID})
					d.comments[path] = fmt.Sprintf("%s (by id: %d %s share this name)", it.Name, names[strings.ToLower(it.Name)], fld.name)
				default:
					*fld.refs = append(*fld.refs, accessv1alpha1.ResourceRef{Name: it.Name})
					d.comments[path] = describeItem(it)
				}
			}
		}
		cid := id
		d.obj = &accessv1alpha1.ContactAccess{
			TypeMeta:   typeMeta("ContactAccess"),
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hostup-contact-%d", id), Namespace: s.ns},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: refOf(pc),
				HostUp:            &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{ID: &cid}, Permissions: perms},
				ManagementPolicy:  importedManagement,
				DeletionPolicy:    importedDeletion,
			},
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func describeItem(it hostup.Resource) string {
	if it.Category != "" {
		return fmt.Sprintf("id %s (%s)", it.ID, it.Category)
	}
	return "id " + it.ID
}

func (s *session) importOnlyOfficeContacts(ctx context.Context, ids []int64) ([]doc, error) {
	pc, conn, err := s.connection(ctx, connection.OnlyOffice)
	if err != nil {
		return nil, err
	}
	var docs []doc
	for _, id := range ids {
		c, err := conn.OnlyOffice.GetContact(ctx, id)
		if err != nil {
			if onlyoffice.IsNotFound(err) {
				return nil, fmt.Errorf("ONLYOFFICE has no CRM contact %d that the user of %s can read", id, pc.Key())
			}
			return nil, fmt.Errorf("cannot read CRM contact %d: %w", id, err)
		}
		d := doc{comments: map[string]string{}, head: []string{
			fmt.Sprintf("Imported by kubectl contactsync from ONLYOFFICE CRM contact %d %q (%s).", id, c.DisplayName, pc.Key()),
			"managementPolicy Observe and deletionPolicy Orphan: applying this changes nothing in ONLYOFFICE.",
			"Read status.plan, then set managementPolicy: Enforce (docs/cli.md).",
		}}
		spec := &accessv1alpha1.OnlyOfficeContactAccess{ContactID: id, Shared: c.ShareType != plan.ShareNone}
		if c.ShareType == plan.ShareRead {
			d.comments["spec.onlyoffice.shared"] = "ONLYOFFICE shares it read-only; contactsync shares read-write: Enforce would change that"
			s.warn("CRM contact %d is shared read-only; contactsync declares shared contacts read-write, so its plan shows that change", id)
		}
		if c.ShareType == plan.ShareNone {
			managers := c.AccessList
			if managers == nil {
				if managers, err = conn.OnlyOffice.GetContactAccess(ctx, id); err != nil {
					return nil, fmt.Errorf("cannot read the managers of CRM contact %d: %w", id, err)
				}
			}
			for _, m := range managers {
				path := fmt.Sprintf("spec.onlyoffice.managers.%d", len(spec.Managers))
				u, err := conn.OnlyOffice.UserByID(ctx, m.ID)
				switch {
				case onlyoffice.IsNotFound(err) || m.ID == onlyoffice.LostUserID:
					s.warn("CRM contact %d: manager %s (%s) is not a user of the portal; it is left out, so Enforce would remove it", id, m.ID, m.DisplayName)
					continue
				case err != nil:
					return nil, fmt.Errorf("cannot look up manager %s of CRM contact %d: %w", m.ID, id, err)
				case !u.Active() || u.IsVisitor:
					s.warn("CRM contact %d: manager %s is terminated, not activated or a visitor; it is left out, so Enforce would remove it", id, userLabel(u))
					continue
				case u.Email != "":
					spec.Managers = append(spec.Managers, accessv1alpha1.ManagerRef{Email: strings.ToLower(u.Email)})
					d.comments[path] = u.DisplayName
				default:
					spec.Managers = append(spec.Managers, accessv1alpha1.ManagerRef{ID: u.ID})
					d.comments[path] = u.DisplayName + " (the portal shows no e-mail)"
				}
			}
		}
		d.obj = &accessv1alpha1.ContactAccess{
			TypeMeta:   typeMeta("ContactAccess"),
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("onlyoffice-contact-%d", id), Namespace: s.ns},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: refOf(pc),
				OnlyOffice:        spec,
				ManagementPolicy:  importedManagement,
				DeletionPolicy:    importedDeletion,
			},
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func userLabel(u *onlyoffice.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.ID
}

func (s *session) importGrants(ctx context.Context, all bool) ([]doc, error) {
	pc, conn, err := s.connection(ctx, connection.HostUp)
	if err != nil {
		return nil, err
	}
	grants, _, err := conn.HostUp.ListGrants(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list the delegated grants of %s: %w", pc.Key(), err)
	}
	declared := map[string]string{}
	if !all {
		list := &accessv1alpha1.DelegatedGrantList{}
		err := fmt.Errorf("not listed")
		if pc.Kind == accessv1alpha1.KindClusterProviderConfig {
			// A ClusterProviderConfig's grants may be declared in any namespace it serves.
			if err = s.kube.List(ctx, list); err != nil {
				s.warn("cannot list DelegatedGrants of every namespace (%v): only namespace %q is checked for grants already declared", err, s.ns)
			}
		}
		if err != nil {
			if err := s.kube.List(ctx, list, client.InNamespace(s.ns)); err != nil {
				return nil, fmt.Errorf("cannot list DelegatedGrants in namespace %q: %w", s.ns, err)
			}
		}
		for _, dg := range list.Items {
			if ref := dg.Spec.ProviderConfigRef; ref.Name != pc.Name || ref.IsCluster() != (pc.Kind == accessv1alpha1.KindClusterProviderConfig) {
				continue
			}
			for _, id := range []string{dg.Spec.GrantID, dg.Status.GrantID, dg.Annotations[accessv1alpha1.AnnotationCreatedID]} {
				if id != "" {
					declared[id] = dg.Namespace + "/" + dg.Name
				}
			}
		}
	}
	sort.Slice(grants, func(i, j int) bool { return grants[i].CreatedAt.Before(grants[j].CreatedAt) })
	used := map[string]bool{}
	var docs []doc
	for _, g := range grants {
		state := plan.GrantState(plan.GrantTimes{Status: g.Status, InviteExpiresAt: g.InviteExpiresAt, InviteAcceptedAt: g.InviteAcceptedAt, RevokedAt: g.RevokedAt}, s.o.now())
		if state != accessv1alpha1.GrantPending && state != accessv1alpha1.GrantActive {
			continue
		}
		if by := declared[g.ID]; by != "" {
			fmt.Fprintf(s.o.Err, "grant %s (%s) is declared by DelegatedGrant %s; skipped (--all imports it too)\n", g.ID, g.InviteEmail, by)
			continue
		}
		email := g.InviteEmail
		if email == "" {
			email = g.GranteeEmail
		}
		if email == "" {
			s.warn("grant %s shows no e-mail; it is left out", g.ID)
			continue
		}
		name := objectName("grant-" + email)
		if used[name] {
			name = objectName(name + "-" + g.ID)
		}
		used[name] = true
		head := []string{
			fmt.Sprintf("Imported by kubectl contactsync from HostUp grant %s (%s, %s).", g.ID, strings.ToLower(string(state)), pc.Key()),
			"spec.grantID adopts the grant: the controller checks it and never invites.",
			"managementPolicy Observe and deletionPolicy Orphan: applying this changes nothing in HostUp.",
		}
		if g.GranteeEmail != "" && !strings.EqualFold(g.GranteeEmail, email) {
			head = append(head, fmt.Sprintf("Accepted by %s.", g.GranteeEmail))
		}
		docs = append(docs, doc{head: head, comments: map[string]string{}, obj: &accessv1alpha1.DelegatedGrant{
			TypeMeta:   typeMeta("DelegatedGrant"),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.ns},
			Spec: accessv1alpha1.DelegatedGrantSpec{
				ProviderConfigRef: refOf(pc),
				Email:             email, Label: g.Label, GrantID: g.ID,
				ManagementPolicy: importedManagement,
				DeletionPolicy:   accessv1alpha1.GrantDeletionOrphan,
			},
		}})
	}
	if len(docs) == 0 {
		fmt.Fprintf(s.o.Err, "no pending or active grant of %s to import\n", pc.Key())
	}
	return docs, nil
}

var notNameChars = regexp.MustCompile(`[^a-z0-9.-]+`)

// objectName turns s into a valid object name (DNS subdomain, at most 63 characters so that it
// also fits a label value).
func objectName(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "@", "-at-"))
	s = notNameChars.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-.")
}

var _ runtime.Object = (*accessv1alpha1.ContactAccess)(nil)

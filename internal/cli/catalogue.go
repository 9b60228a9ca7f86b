package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// CatalogueEntry is one row of `catalogue`: a HostUp service, domain or DNS zone, or an
// ONLYOFFICE portal user.
type CatalogueEntry struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`
	Email    string `json:"email,omitempty"`
	// Status of a user: active, terminated, not-activated or visitor.
	Status string `json:"status,omitempty"`
	// Granted: the contact given with --contact has access (HostUp).
	Granted *bool `json:"granted,omitempty"`
}

func newCatalogueCommand(o *Options, f *flags) *cobra.Command {
	var output string
	var contact int64
	cmd := &cobra.Command{
		Use:     "catalogue",
		Aliases: []string{"catalog"},
		Short:   "List an account's services, domains and DNS zones, or a portal's users",
		Long: `catalogue lists what a spec can name, with ids and names.

HostUp: the services, domains and DNS zones of the account. HostUp documents no listing with
the numeric ids that permissions use; its permissions answer lists the account's resources
with a hasAccess flag (inferred from the API reference), so the catalogue is read through one
contact person's permissions: give any contact of the account with --contact.

ONLYOFFICE: the portal's users (active and terminated) with e-mail, id and status; a visitor
or a terminated user cannot be a manager.`,
		Example: `  kubectl contactsync -n team-a catalogue -p hostup --contact 8722
  kubectl contactsync -n team-a catalogue -p crm -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			s, err := newSession(o, f)
			if err != nil {
				return err
			}
			rows, err := s.catalogue(cmd.Context(), contact)
			if err != nil {
				return err
			}
			return writeCatalogue(o.Out, output, rows)
		},
	}
	cmd.Flags().Int64Var(&contact, "contact", 0, "HostUp: a contact person whose permissions answer is read as the account's catalogue.")
	outputFlag(cmd, &output, "table", "table", "yaml", "json")
	return cmd
}

func (s *session) catalogue(ctx context.Context, contact int64) ([]CatalogueEntry, error) {
	var want connection.Provider
	if contact > 0 {
		want = connection.HostUp
	}
	pc, err := s.config(ctx, s.ns, want)
	if err != nil {
		return nil, describe("provider config", err)
	}
	if pc.Provider() == connection.OnlyOffice {
		return s.users(ctx, pc)
	}
	return s.resources(ctx, pc, contact)
}

func (s *session) resources(ctx context.Context, pc *connection.Config, contact int64) ([]CatalogueEntry, error) {
	if contact < 1 {
		return nil, &exitError{ExitError, errors.New("HostUp: give --contact ID, any contact person of the account: its permissions answer lists the account's services, domains and DNS zones (HostUp documents no other listing with the ids permissions use)")}
	}
	conn, err := s.connect(ctx, pc)
	if err != nil {
		return nil, err
	}
	p, err := conn.HostUp.GetPermissions(ctx, contact)
	if err != nil {
		if hostup.IsNotFound(err) {
			return nil, fmt.Errorf("HostUp has no contact %d", contact)
		}
		return nil, fmt.Errorf("cannot read the permissions of HostUp contact %d: %w", contact, err)
	}
	var out []CatalogueEntry
	for _, f := range []struct {
		typ   string
		items []hostup.Resource
	}{{"service", p.Services}, {"domain", p.Domains}, {"dnsZone", p.DNSZones}} {
		bare := false
		for _, it := range f.items {
			granted := it.HasAccess
			bare = bare || it.Bare
			out = append(out, CatalogueEntry{Type: f.typ, ID: it.ID, Name: it.Name, Category: it.Category, Granted: &granted})
		}
		if bare || (len(f.items) == 0 && f.typ != "service") {
			s.warn("HostUp answered %ss in its older shape (granted items only, or none): this list is not the account's whole catalogue", f.typ)
		}
	}
	return out, nil
}

func (s *session) users(ctx context.Context, pc *connection.Config) ([]CatalogueEntry, error) {
	conn, err := s.connect(ctx, pc)
	if err != nil {
		return nil, err
	}
	var out []CatalogueEntry
	for _, st := range []int{onlyoffice.UserStatusActive, onlyoffice.UserStatusTerminated} {
		users, err := conn.OnlyOffice.ListUsers(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("cannot list the portal's users: %w", err)
		}
		for _, u := range users {
			status := "active"
			switch {
			case !u.Active():
				status = "terminated"
			case u.IsVisitor:
				status = "visitor"
			case u.ActivationStatus != 1: // 0 not activated, 2 pending (onlyoffice.User)
				status = "not-activated"
			}
			out = append(out, CatalogueEntry{Type: "user", ID: u.ID, Name: u.DisplayName, Email: u.Email, Status: status})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, nil
}

func writeCatalogue(w io.Writer, format string, rows []CatalogueEntry) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(map[string]any{"items": rows}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(map[string]any{"items": rows})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rows) > 0 && rows[0].Type == "user" {
		fmt.Fprintln(tw, "EMAIL\tID\tNAME\tSTATUS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", orDash(r.Email), r.ID, r.Name, r.Status)
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "TYPE\tID\tNAME\tCATEGORY\tGRANTED")
	for _, r := range rows {
		g := "-"
		if r.Granted != nil {
			g = fmt.Sprint(*r.Granted)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Type, orDash(r.ID), orDash(r.Name), orDash(r.Category), g)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

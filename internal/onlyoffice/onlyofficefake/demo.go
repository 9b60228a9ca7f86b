package onlyofficefake

import "time"

// Demo portal credentials and ids (NewDemo).
const (
	DemoAdminEmail    = "admin@demo.example.com"
	DemoAdminPassword = "demo-admin-Passw0rd"
	DemoAdminID       = "6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b"

	DemoManagerPassword = "demo-manager-Passw0rd"
	DemoAliceID         = "a11ce000-0000-4000-8000-000000000001"
	DemoBobID           = "b0b00000-0000-4000-8000-000000000002"
	DemoCarolID         = "ca201000-0000-4000-8000-000000000003"
	DemoDaveID          = "da7e0000-0000-4000-8000-000000000004"
	DemoEveID           = "e7e00000-0000-4000-8000-000000000005"
	DemoTerminatedID    = "7e2b0000-0000-4000-8000-000000000006"
	DemoVisitorID       = "71517000-0000-4000-8000-000000000007"
	DemoTwoFactorID     = "2fa00000-0000-4000-8000-000000000008"

	DemoTwoFactorEmail  = "secure@demo.example.com"
	DemoVisitorEmail    = "guest@partner.example.org"
	DemoTerminatedEmail = "frank@demo.example.com"

	// A GUID stored in an ACL that belongs to no user: reads back as LostUserID.
	DemoUnknownGUID = "deadbeef-0000-4000-8000-00000000dead"
)

// Demo contact ids (NewDemo).
const (
	DemoContactAda      int64 = 101 // person, private, managers Alice and Bob
	DemoContactGrace    int64 = 102 // person, shared read/write, no ACL
	DemoContactAlan     int64 = 103 // person, private, no managers (admin-only)
	DemoContactAcme     int64 = 104 // company, shared read/write with ACL Carol (invisible)
	DemoContactInitech  int64 = 105 // company, read-only shared (2)
	DemoContactLinus    int64 = 106 // person, private, manager Dave and an unknown GUID
	DemoContactMargaret int64 = 107 // person, private, manager the terminated user
	DemoContactGlobex   int64 = 108 // company, private, managers Eve and Alice
)

// NewDemo returns a realistic small portal: an admin service account, five managers, a
// terminated user, a visitor, a 2FA user and eight persons/companies in every sharing state.
// Managers' passwords are DemoManagerPassword.
func NewDemo(opts ...Option) *Server {
	s := New(opts...)
	created := time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)
	s.AddUser(User{ID: DemoAdminID, UserName: "administrator", Email: DemoAdminEmail, FirstName: "Service", LastName: "Account",
		Title: "CRM automation", Password: DemoAdminPassword, IsAdmin: true})
	s.AddUser(User{ID: DemoAliceID, UserName: "alice", Email: "alice@demo.example.com", FirstName: "Alice", LastName: "Andersson", Title: "Account manager", Password: DemoManagerPassword})
	s.AddUser(User{ID: DemoBobID, UserName: "bob", Email: "bob@demo.example.com", FirstName: "Bob", LastName: "Berg", Title: "Sales", Password: DemoManagerPassword})
	s.AddUser(User{ID: DemoCarolID, UserName: "carol", Email: "carol@demo.example.com", FirstName: "Carol", LastName: "Claesson", Title: "Sales", Password: DemoManagerPassword})
	s.AddUser(User{ID: DemoDaveID, UserName: "dave", Email: "dave@demo.example.com", FirstName: "Dave", LastName: "Dahl", Title: "Support", Password: DemoManagerPassword})
	s.AddUser(User{ID: DemoEveID, UserName: "eve", Email: "eve@demo.example.com", FirstName: "Eve", LastName: "Ek", Title: "CRM lead", Password: DemoManagerPassword, CRMAdmin: true})
	s.AddUser(User{ID: DemoTerminatedID, UserName: "frank", Email: DemoTerminatedEmail, FirstName: "Frank", LastName: "Fors", Password: DemoManagerPassword, Status: 2})
	s.AddUser(User{ID: DemoVisitorID, UserName: "guest", Email: DemoVisitorEmail, FirstName: "Gustav", LastName: "Guest", Password: DemoManagerPassword, IsVisitor: true})
	s.AddUser(User{ID: DemoTwoFactorID, UserName: "secure", Email: DemoTwoFactorEmail, FirstName: "Sara", LastName: "Secure", Password: DemoManagerPassword, TwoFactor: "tfa"})

	s.AddContact(Contact{ID: DemoContactAda, FirstName: "Ada", LastName: "Lovelace", ShareType: 0, ACL: []string{DemoAliceID, DemoBobID}, Created: created})
	s.AddContact(Contact{ID: DemoContactGrace, FirstName: "Grace", LastName: "Hopper", ShareType: 1, Created: created})
	s.AddContact(Contact{ID: DemoContactAlan, FirstName: "Alan", LastName: "Turing", ShareType: 0, Created: created})
	s.AddContact(Contact{ID: DemoContactAcme, IsCompany: true, CompanyName: "Acme AB", ShareType: 1, ACL: []string{DemoCarolID}, Created: created})
	s.AddContact(Contact{ID: DemoContactInitech, IsCompany: true, CompanyName: "Initech", ShareType: 2, Created: created})
	s.AddContact(Contact{ID: DemoContactLinus, FirstName: "Linus", LastName: "Torvalds", ShareType: 0, ACL: []string{DemoDaveID, DemoUnknownGUID}, Created: created})
	s.AddContact(Contact{ID: DemoContactMargaret, FirstName: "Margaret", LastName: "Hamilton", ShareType: 0, ACL: []string{DemoTerminatedID}, Created: created})
	s.AddContact(Contact{ID: DemoContactGlobex, IsCompany: true, CompanyName: "Globex Corporation", ShareType: 0, ACL: []string{DemoEveID, DemoAliceID}, Created: created})
	return s
}

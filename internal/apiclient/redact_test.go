package apiclient

import "testing"

// A body that echoes a secret whole, cut in two, or with text spliced into it keeps no piece of
// it of fragmentLen bytes or more.
func TestRedactorRemovesPiecesOfASecret(t *testing.T) {
	r := &Redactor{}
	r.Add("Zz-ABCDEFGHIJ-9y")
	cases := []struct{ body, want string }{
		{`{"message":"key Zz-ABCDEFGHIJ-9y is wrong"}`, `{"message":"key [REDACTED] is wrong"}`},
		{`{"message":"key zz-abc0000defghij-9y is wrong"}`, `{"message":"key zz-abc0000[REDACTED] is wrong"}`},
		{`{"message":"cut: ZZ-ABCDE | FGHIJ-9Y"}`, `{"message":"cut: [REDACTED] | [REDACTED]"}`},
		{`{"message":"short: ZZ-ABCD | EFGHIJ"}`, `{"message":"short: ZZ-ABCD | EFGHIJ"}`},
		{`{"message":"nothing secret here, just words"}`, `{"message":"nothing secret here, just words"}`},
	}
	for _, tc := range cases {
		if got := r.String(tc.body); got != tc.want {
			t.Errorf("Redact(%s)\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}

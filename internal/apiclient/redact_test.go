package apiclient

import (
	"fmt"
	"testing"
)

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

// Secrets are added while other calls redact (a create learns a new password mid-flight); run
// with -race.
func TestRedactorAddWhileRedacting(t *testing.T) {
	r := &Redactor{}
	r.Add("first-secret-0001")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			r.Add(fmt.Sprintf("another-secret-%04d", i))
		}
	}()
	for range 200 {
		_ = r.String("a body with first-secret-0001 and another-secret-0007 in it")
	}
	<-done
	if got := r.String("another-secret-0199"); got != Redacted {
		t.Errorf("the last secret added is not redacted: %q", got)
	}
}

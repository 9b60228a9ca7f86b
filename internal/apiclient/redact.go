package apiclient

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret in text a server sent back.
const Redacted = "[REDACTED]"

// minSecret is the shortest value treated as a secret: shorter strings ("a", "12") would
// blank out ordinary text; real keys, passwords and tokens are far longer.
const minSecret = 4

// Redactor removes the secrets a client has sent or received (API key, password, session
// token, contact passwords, invite tokens) from response bodies. The Transport applies it to
// every body as soon as it is read, before any decoding, truncation or whitespace change, so
// no part of an echoed secret survives into an error, a condition, an event or a log line.
// Matching ignores case and also covers the secret's JSON-escaped form.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	re      *regexp.Regexp
}

// Add registers secrets (empty and very short values are ignored).
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		for _, form := range forms(s) {
			if len(form) >= minSecret && !slices.Contains(r.secrets, form) {
				r.secrets = append(r.secrets, form)
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	alts := make([]string, len(r.secrets))
	for i, s := range r.secrets {
		alts[i] = regexp.QuoteMeta(s)
	}
	r.re = regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
}

// forms are the ways a secret can appear in a JSON body: as is, and JSON-escaped.
func forms(s string) []string {
	if s == "" {
		return nil
	}
	out := []string{s}
	if b, err := json.Marshal(s); err == nil {
		if esc := string(b[1 : len(b)-1]); esc != s {
			out = append(out, esc)
		}
	}
	if esc := strings.ReplaceAll(s, "/", `\/`); esc != s {
		out = append(out, esc)
	}
	return out
}

// Bytes returns b with every secret replaced (b itself when there is nothing to replace).
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	r.mu.RLock()
	re := r.re
	r.mu.RUnlock()
	if re == nil {
		return b
	}
	return re.ReplaceAllLiteral(b, []byte(Redacted))
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string { return string(r.Bytes([]byte(s))) }

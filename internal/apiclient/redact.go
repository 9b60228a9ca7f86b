package apiclient

import (
	"encoding/json"
	"maps"
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

// fragmentLen is the shortest part of a secret that is redacted on its own: a body that echoes a
// secret cut in two, or with other text spliced into it, must not leak the pieces either.
const fragmentLen = 8

// Redactor removes the secrets a client has sent or received (API key, password, session
// token, contact passwords, invite tokens) from response bodies. The Transport applies it to
// every body as soon as it is read, before any decoding, truncation or whitespace change, so
// no part of an echoed secret survives into an error, a condition, an event or a log line.
// Matching ignores case and also covers the secret's JSON-escaped form, and any piece of
// fragmentLen bytes or more of a secret (an echo cut in two, or with text spliced into it).
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	re      *regexp.Regexp
	// grams holds every fragmentLen-byte piece of every secret form, ASCII-lowercased.
	grams map[string]struct{}
}

// Add registers secrets (empty and very short values are ignored).
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	// Copied, never changed in place: Bytes reads the map it got without the lock.
	grams := maps.Clone(r.grams)
	if grams == nil {
		grams = map[string]struct{}{}
	}
	for _, s := range secrets {
		for _, form := range forms(s) {
			if len(form) >= minSecret && !slices.Contains(r.secrets, form) {
				r.secrets = append(r.secrets, form)
				changed = true
				low := asciiLower([]byte(form))
				for i := 0; i+fragmentLen <= len(low); i++ {
					grams[string(low[i:i+fragmentLen])] = struct{}{}
				}
			}
		}
	}
	if !changed {
		return
	}
	r.grams = grams
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
	re, grams := r.re, r.grams
	r.mu.RUnlock()
	if re == nil {
		return b
	}
	return redactFragments(re.ReplaceAllLiteral(b, []byte(Redacted)), grams)
}

// redactFragments replaces every run of b covered by fragmentLen-byte pieces of a secret
// (compared ASCII-case-insensitively) with Redacted.
func redactFragments(b []byte, grams map[string]struct{}) []byte {
	if len(grams) == 0 || len(b) < fragmentLen {
		return b
	}
	low := asciiLower(b)
	var out []byte
	last, end := 0, -1 // end: the end of the current run being redacted
	start := 0
	for i := 0; i+fragmentLen <= len(low); i++ {
		if _, hit := grams[string(low[i:i+fragmentLen])]; !hit {
			continue
		}
		if i > end {
			if end >= 0 {
				out = append(append(out, b[last:start]...), Redacted...)
				last = end
			}
			start = i
		}
		end = i + fragmentLen
	}
	if end < 0 {
		return b
	}
	out = append(append(out, b[last:start]...), Redacted...)
	return append(out, b[end:]...)
}

// asciiLower lowercases ASCII letters only, so that indices stay those of the input.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string { return string(r.Bytes([]byte(s))) }

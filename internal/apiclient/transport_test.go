package apiclient

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		reason string
		in     string
		want   time.Duration
	}{
		"Empty":     {"no header, no wait", "", 0},
		"Seconds":   {"delta-seconds", "7", 7 * time.Second},
		"Fraction":  {"fractions are honoured", "0.5", 500 * time.Millisecond},
		"Huge":      {"an absurd value is capped, never overflows to a negative", "1e300", MaxRetryAfter},
		"Inf":       {"infinity is capped", "Inf", MaxRetryAfter},
		"NaN":       {"NaN is unreadable", "NaN", 0},
		"Negative":  {"a negative value is unreadable", "-3", 0},
		"Date":      {"an HTTP date counts from now", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		"PastDate":  {"a past date means no wait", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		"Garbage":   {"an unreadable value means no wait", "soon", 0},
		"FarFuture": {"a far date is capped", now.Add(72 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("%s: ParseRetryAfter(%q) = %v, want %v", tc.reason, tc.in, got, tc.want)
			}
		})
	}
}

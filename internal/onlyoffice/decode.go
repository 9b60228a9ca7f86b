package onlyoffice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// The decoders below read the portal's JSON. encoding/json matches object keys to struct fields
// case-insensitively, so the camelCase of the wire and the PascalCase of the doc samples both
// decode (tested in decode_test.go).

// envelope is ApiStandartResponce.
type envelope struct {
	Count      int             `json:"count"`
	Status     int             `json:"status"`
	StatusCode int             `json:"statusCode"`
	Response   json.RawMessage `json:"response"`
	Error      *wireError      `json:"error"`
}

// wireError is ErrorWrapper. type and stack are only sent by DEBUG builds.
type wireError struct {
	Message string `json:"message"`
	HResult int    `json:"hresult"`
}

type wireEmployee struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type wireUser struct {
	ID               string `json:"id"`
	UserName         string `json:"userName"`
	FirstName        string `json:"firstName"`
	LastName         string `json:"lastName"`
	Email            string `json:"email"`
	DisplayName      string `json:"displayName"`
	Status           int    `json:"status"`
	ActivationStatus int    `json:"activationStatus"`
	IsAdmin          bool   `json:"isAdmin"`
	IsOwner          bool   `json:"isOwner"`
	IsVisitor        bool   `json:"isVisitor"`
}

type wireContact struct {
	ID          int64          `json:"id"`
	DisplayName string         `json:"displayName"`
	IsCompany   bool           `json:"isCompany"`
	IsPrivate   bool           `json:"isPrivate"`
	IsShared    bool           `json:"isShared"`
	ShareType   *int           `json:"shareType"`
	AccessList  []wireEmployee `json:"accessList"`
	CanEdit     bool           `json:"canEdit"`
}

type wireAuth struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
	SMS     bool   `json:"sms"`
	TFA     bool   `json:"tfa"`
}

var errNotJSON = errors.New("body is not JSON")

// decodeEnvelope parses the standard envelope. It fails for anything that is not a JSON object.
func decodeEnvelope(body []byte) (*envelope, error) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return nil, errNotJSON
	}
	var env envelope
	if err := json.Unmarshal(t, &env); err != nil {
		return nil, fmt.Errorf("malformed envelope: %w", err)
	}
	return &env, nil
}

// isNull reports a missing or JSON-null payload.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func decodeObject(raw json.RawMessage, v any, what string) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%s is not a JSON object", what)
	}
	if err := json.Unmarshal(t, v); err != nil {
		return fmt.Errorf("malformed %s: %w", what, err)
	}
	return nil
}

// decodeContact parses a contact wrapper (person or company).
func decodeContact(raw json.RawMessage) (*Contact, error) {
	var w wireContact
	if err := decodeObject(raw, &w, "contact"); err != nil {
		return nil, err
	}
	if w.ID <= 0 {
		return nil, errors.New("contact has no valid id")
	}
	c := &Contact{
		ID:          w.ID,
		DisplayName: w.DisplayName,
		IsCompany:   w.IsCompany,
		IsShared:    w.IsShared,
		IsPrivate:   w.IsPrivate,
		CanEdit:     w.CanEdit,
	}
	switch {
	case w.ShareType != nil:
		c.ShareType = *w.ShareType
	case w.IsShared && !w.IsPrivate:
		// Not seen on the wire; if a serializer ever drops the field, isShared is all there is
		// and ReadWrite (what the access endpoint stores) is the best guess.
		c.ShareType = ShareReadWrite
	default:
		c.ShareType = ShareNone
	}
	if c.ShareType < ShareNone || c.ShareType > ShareRead {
		return nil, fmt.Errorf("contact %d has unknown shareType %d", c.ID, c.ShareType)
	}
	if w.AccessList != nil {
		c.AccessList = make([]Manager, 0, len(w.AccessList))
		for _, m := range w.AccessList {
			c.AccessList = append(c.AccessList, Manager{ID: strings.ToLower(m.ID), DisplayName: m.DisplayName})
		}
	}
	return c, nil
}

// decodeManagers parses the answer of GET contact/{id}/access: a list of EmployeeWraper. The
// result is never nil.
func decodeManagers(raw json.RawMessage) ([]Manager, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return nil, errors.New("access list is not a JSON array")
	}
	var ws []wireEmployee
	if err := json.Unmarshal(t, &ws); err != nil {
		return nil, fmt.Errorf("malformed access list: %w", err)
	}
	ms := make([]Manager, 0, len(ws))
	for _, w := range ws {
		ms = append(ms, Manager{ID: strings.ToLower(w.ID), DisplayName: w.DisplayName})
	}
	return ms, nil
}

// decodeUser parses EmployeeWraperFull.
func decodeUser(raw json.RawMessage) (*User, error) {
	var w wireUser
	if err := decodeObject(raw, &w, "user"); err != nil {
		return nil, err
	}
	if !isGUID(w.ID) {
		return nil, errors.New("user has no valid id")
	}
	return &User{
		ID:               strings.ToLower(w.ID),
		UserName:         w.UserName,
		FirstName:        w.FirstName,
		LastName:         w.LastName,
		Email:            w.Email,
		DisplayName:      w.DisplayName,
		Status:           w.Status,
		ActivationStatus: w.ActivationStatus,
		IsAdmin:          w.IsAdmin,
		IsOwner:          w.IsOwner,
		IsVisitor:        w.IsVisitor,
	}, nil
}

// decodeUsers parses a list of EmployeeWraperFull; a JSON null is an empty list.
func decodeUsers(raw json.RawMessage) ([]User, error) {
	if isNull(raw) {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	if t[0] != '[' {
		return nil, errors.New("user list is not a JSON array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(t, &items); err != nil {
		return nil, fmt.Errorf("malformed user list: %w", err)
	}
	out := make([]User, 0, len(items))
	for _, it := range items {
		u, err := decodeUser(it)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

// decodeAuth parses the login answer.
func decodeAuth(raw json.RawMessage) (*wireAuth, error) {
	var w wireAuth
	if err := decodeObject(raw, &w, "authentication result"); err != nil {
		return nil, err
	}
	return &w, nil
}

// parseAPITime reads an ApiDateTime: yyyy-MM-ddTHH:mm:ss.fffffff followed by Z or an offset.
// A value without zone is taken as UTC.
func parseAPITime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

// decodeError turns a failed answer into an *Error: the envelope's error when the body is one,
// the title (or text) of an HTML page, or the text of a plain-text body. The HTTP status is
// always kept; the body only adds the message.
func decodeError(op string, status int, header http.Header, body []byte) *Error {
	e := &Error{Op: op, Kind: KindAPI, HTTPStatus: status}
	if env, err := decodeEnvelope(body); err == nil {
		if env.Error != nil {
			e.Message = cleanMessage(env.Error.Message)
			e.HResult = env.Error.HResult
		}
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
		return e
	}
	t := bytes.TrimSpace(body)
	ct := strings.ToLower(header.Get("Content-Type"))
	switch {
	case len(t) == 0:
		e.Message = http.StatusText(status)
	case t[0] == '<' || strings.Contains(ct, "html"):
		title := ""
		if m := titleRE.FindSubmatch(t); m != nil {
			title = cleanMessage(html.UnescapeString(tagRE.ReplaceAllString(string(m[1]), " ")))
		}
		if title == "" {
			title = http.StatusText(status)
		}
		e.Message = "HTML page: " + title
	default:
		line, _, _ := strings.Cut(string(t), "\n")
		e.Message = cleanMessage(line)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// describeBody is a short, safe description of an unexpected success body.
func describeBody(header http.Header, body []byte) string {
	t := bytes.TrimSpace(body)
	switch {
	case len(t) == 0:
		return "empty body"
	case t[0] == '<' || strings.Contains(strings.ToLower(header.Get("Content-Type")), "html"):
		return "HTML page instead of JSON"
	case t[0] == '{' || t[0] == '[':
		return "malformed JSON"
	default:
		return "non-JSON body"
	}
}

package stsapi

import (
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/coffer-registry/coffer/awsproto"
)

// Patterns of the STS model, with the text AWS quotes when a value does not match.
var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	serialPattern      = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
	tokenCodePattern   = regexp.MustCompile(`^[0-9]*$`)
	tagKeyPattern      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValuePattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	policyCharsPattern = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
)

const (
	sessionNamePatternText = `[\w+=,.@-]*`
	externalIDPatternText  = `[\w+=,.@:\/-]*`
	serialPatternText      = `[\w+=/:,.@-]*`
	tokenCodePatternText   = `[\d]*`
	tagKeyPatternText      = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePatternText    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	policyCharsPatternText = `[\u0009\u000A\u000D\u0020-\u00FF]+`
)

// checks collects the model-constraint failures of one request; err reports them together as
// the query protocol's ValidationError, worded as AWS's request validator words them.
type checks struct {
	violations []awsproto.Violation
}

func (c *checks) fail(path, value, constraint string) {
	c.violations = append(c.violations, awsproto.Violation{Path: path, Value: &value, Constraint: constraint})
}

// length checks min <= characters <= max; it reports whether the value passed.
func (c *checks) length(path, value string, min, max int) bool {
	n := utf8.RuneCountInString(value)
	switch {
	case n < min:
		c.fail(path, value, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		c.fail(path, value, fmt.Sprintf("Member must have length less than or equal to %d", max))
	default:
		return true
	}
	return false
}

func (c *checks) pattern(path, value string, re *regexp.Regexp, text string) {
	if !re.MatchString(value) {
		c.fail(path, value, "Member must satisfy regular expression pattern: "+text)
	}
}

// text checks an optional string member: length first, then pattern.
func (c *checks) text(path, value string, min, max int, re *regexp.Regexp, reText string) {
	if c.length(path, value, min, max) && re != nil {
		c.pattern(path, value, re, reText)
	}
}

func (c *checks) between(path string, n, min, max int) {
	switch {
	case n < min:
		c.fail(path, strconv.Itoa(n), fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case n > max:
		c.fail(path, strconv.Itoa(n), fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

// count checks the number of members of a list.
func (c *checks) count(path string, n, max int) {
	if n > max {
		c.violations = append(c.violations, awsproto.Violation{Path: path,
			Value: ptr(fmt.Sprintf("[%d members]", n)), Constraint: fmt.Sprintf("Member must have length less than or equal to %d", max)})
	}
}

// mfa checks SerialNumber and TokenCode when given.
func (c *checks) mfa(serial, code string) {
	if serial != "" {
		c.text("serialNumber", serial, 9, 256, serialPattern, serialPatternText)
	}
	if code != "" {
		c.text("tokenCode", code, 6, 6, tokenCodePattern, tokenCodePatternText)
	}
}

func (c *checks) err() error {
	if len(c.violations) == 0 {
		return nil
	}
	return awsproto.ValidationFailed(awsproto.ProtocolQuery, c.violations)
}

func ptr[T any](v T) *T { return &v }

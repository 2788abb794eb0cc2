package iam

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quotas IAM enforces by default.
const (
	MaxAccessKeysPerUser       = 2
	MaxManagedPoliciesPerUser  = 10
	MaxManagedPoliciesPerGroup = 10
	MaxManagedPoliciesPerRole  = 10
	MaxGroupsPerUser           = 10
	MaxPolicyVersions          = 5
	MaxTagsPerEntity           = 50
	MaxUserInlinePolicySize    = 2048
	MaxGroupInlinePolicySize   = 5120
	MaxRoleInlinePolicySize    = 10240
	MaxManagedPolicySize       = 6144
	MaxTrustPolicySize         = 2048
	MaxSessionPolicySize       = 2048
	MaxPolicyDocumentLength    = 131072
	MinRoleSessionDuration     = 3600
	MaxRoleSessionDuration     = 43200
	MinSessionDuration         = 900
	DefaultSessionDuration     = 3600
	MaxVirtualMFANameLength    = 226
)

// Patterns of the IAM API model, with the text AWS quotes in its validation errors.
const (
	namePatternText        = `[\w+=,.@-]+`
	pathPatternText        = `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
	pathPrefixPatternText  = `\u002F[\u0021-\u007F]*`
	policyPathPatternText  = `((/[A-Za-z0-9\.,\+@=_-]+)*)/`
	tagKeyPatternText      = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePatternText    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	descriptionPatternText = `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`
	sessionNamePatternText = `[\w+=,.@-]*`
	policyDocPatternText   = `[\u0009\u000A\u000D\u0020-\u00FF]+`
	versionIDPatternText   = `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`
)

var (
	namePattern       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	policyPathPattern = regexp.MustCompile(`^((/[A-Za-z0-9.,+@=_-]+)*)/$`)
	versionIDPattern  = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)
)

// Validation collects constraint failures and reports them the way AWS's request validator does:
// "N validation error(s) detected: Value 'x' at 'field' failed to satisfy constraint: ...; ...".
type Validation struct {
	problems []string
}

func (v *Validation) add(value, field, constraint string) {
	v.problems = append(v.problems,
		fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must %s", value, field, constraint))
}

// Err returns nil when every check passed, or one ValidationError naming all failures.
func (v *Validation) Err() error {
	switch n := len(v.problems); n {
	case 0:
		return nil
	case 1:
		return newError(CodeValidationError, "1 validation error detected: %s", v.problems[0])
	default:
		return newError(CodeValidationError, "%d validation errors detected: %s", n, strings.Join(v.problems, "; "))
	}
}

// Length checks min <= rune count <= max (max <= 0 means unbounded).
func (v *Validation) Length(field, value string, min, max int) bool {
	n := utf8.RuneCountInString(value)
	if n < min {
		v.add(value, field, fmt.Sprintf("have length greater than or equal to %d", min))
		return false
	}
	if max > 0 && n > max {
		v.add(value, field, fmt.Sprintf("have length less than or equal to %d", max))
		return false
	}
	return true
}

func (v *Validation) pattern(field, value, text string, ok bool) bool {
	if !ok {
		v.add(value, field, "satisfy regular expression pattern: "+text)
	}
	return ok
}

// Name checks an IAM entity or policy name: 1..max characters of [\w+=,.@-].
func (v *Validation) Name(field, value string, max int) {
	if v.Length(field, value, 1, max) {
		v.pattern(field, value, namePatternText, namePattern.MatchString(value))
	}
}

// Path checks an entity path: "/" or "/.../" of printable ASCII, at most 512 characters.
func (v *Validation) Path(field, value string) {
	if v.Length(field, value, 1, 512) {
		v.pattern(field, value, pathPatternText, isEntityPath(value))
	}
}

// PolicyPath checks a managed-policy path, which allows fewer characters than entity paths.
func (v *Validation) PolicyPath(field, value string) {
	if v.Length(field, value, 1, 512) {
		v.pattern(field, value, policyPathPatternText, policyPathPattern.MatchString(value))
	}
}

// PathPrefix checks a list filter's path prefix.
func (v *Validation) PathPrefix(field, value string) {
	if value == "" {
		return
	}
	if v.Length(field, value, 1, 512) {
		ok := value[0] == '/'
		for i := 1; ok && i < len(value); i++ {
			ok = value[i] >= 0x21 && value[i] <= 0x7F
		}
		v.pattern(field, value, pathPrefixPatternText, ok)
	}
}

// Description checks a role or policy description (at most 1000 characters of a limited set).
func (v *Validation) Description(field, value string) {
	if v.Length(field, value, 0, 1000) {
		ok := true
		for _, r := range value {
			if !(r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0x7E) || (r >= 0xA1 && r <= 0xFF)) {
				ok = false
				break
			}
		}
		v.pattern(field, value, descriptionPatternText, ok)
	}
}

// SessionName checks an STS role session name: 2..64 characters of [\w+=,.@-].
func (v *Validation) SessionName(field, value string) {
	if v.Length(field, value, 2, 64) {
		v.pattern(field, value, sessionNamePatternText, namePattern.MatchString(value))
	}
}

// VersionID checks a policy version id such as "v3".
func (v *Validation) VersionID(field, value string) {
	v.pattern(field, value, versionIDPatternText, versionIDPattern.MatchString(value))
}

// PolicyDocument checks the API-level shape of a document: length and character set.
func (v *Validation) PolicyDocument(field, value string) {
	if v.Length(field, value, 1, MaxPolicyDocumentLength) {
		v.pattern(field, value, policyDocPatternText, policyCharsetOK(value))
	}
}

// MaxSessionDuration checks a role's maximum session duration in seconds.
func (v *Validation) MaxSessionDuration(field string, seconds int) {
	if seconds < MinRoleSessionDuration {
		v.add(fmt.Sprint(seconds), field, fmt.Sprintf("have value greater than or equal to %d", MinRoleSessionDuration))
	} else if seconds > MaxRoleSessionDuration {
		v.add(fmt.Sprint(seconds), field, fmt.Sprintf("have value less than or equal to %d", MaxRoleSessionDuration))
	}
}

// Tags checks keys and values of a tag list and its length (at most 50).
func (v *Validation) Tags(field string, tags []Tag) {
	if len(tags) > MaxTagsPerEntity {
		v.add(fmt.Sprint(tags), field, fmt.Sprintf("have length less than or equal to %d", MaxTagsPerEntity))
		return
	}
	for i, t := range tags {
		v.TagKey(fmt.Sprintf("%s.%d.member.key", field, i+1), t.Key)
		value := fmt.Sprintf("%s.%d.member.value", field, i+1)
		if v.Length(value, t.Value, 0, 256) {
			v.pattern(value, t.Value, tagValuePatternText, tagCharsOK(t.Value))
		}
	}
}

// Enum checks that value is one of allowed.
func (v *Validation) Enum(field, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(value, field, "satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// TagKey checks one tag key.
func (v *Validation) TagKey(field, key string) {
	if v.Length(field, key, 1, 128) {
		v.pattern(field, key, tagKeyPatternText, tagCharsOK(key))
	}
}

func isEntityPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return false
	}
	for i := 1; i < len(p)-1; i++ {
		if p[i] < 0x21 || p[i] > 0x7E {
			return false
		}
	}
	return true
}

func tagCharsOK(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp) || unicode.IsNumber(r) {
			continue
		}
		if !strings.ContainsRune("_.:/=+-@", r) {
			return false
		}
	}
	return true
}

func policyCharsetOK(s string) bool {
	for _, r := range s {
		if !(r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xFF)) {
			return false
		}
	}
	return true
}

// PolicySize is the length IAM counts against size quotas: characters other than whitespace.
func PolicySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// CheckTagKeysUnique rejects tag lists whose keys repeat, ignoring case as IAM does.
func CheckTagKeysUnique(tags []Tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
	}
	return nil
}

// DefaultPath turns an omitted path into "/".
func DefaultPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

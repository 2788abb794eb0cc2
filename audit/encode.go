package audit

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEvent appends e as one JSON object: the same document encoding/json makes of it
// (field names, omitempty, RFC 3339 times), written without reflection because every
// request of the registry pays for it.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, e.EventVersion)
	b = append(b, `,"userIdentity":`...)
	if e.identityJSON != nil {
		b = append(b, e.identityJSON...)
	} else {
		b = appendIdentity(b, &e.UserIdentity)
	}
	b = append(b, `,"eventTime":`...)
	b = appendTime(b, e.EventTime)
	b = appendField(b, "eventSource", e.EventSource)
	b = appendField(b, "eventName", e.EventName)
	b = appendField(b, "awsRegion", e.AWSRegion)
	b = appendField(b, "sourceIPAddress", e.SourceIPAddress)
	b = appendField(b, "userAgent", e.UserAgent)
	b = appendOmitEmpty(b, "errorCode", e.ErrorCode)
	b = appendOmitEmpty(b, "errorMessage", e.ErrorMessage)
	b = append(b, `,"requestParameters":`...)
	b = appendParameters(b, e.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendAny(b, e.ResponseElements)
	b = append(b, `,"additionalEventData":`...)
	b = appendAdditional(b, &e.AdditionalEventData)
	b = appendField(b, "requestID", e.RequestID)
	b = appendField(b, "eventID", e.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, e.ReadOnly)
	if len(e.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i := range e.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			r := &e.Resources[i]
			b = append(b, `{"ARN":`...)
			b = appendString(b, r.ARN)
			b = appendField(b, "accountId", r.AccountID)
			b = appendOmitEmpty(b, "type", r.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, "eventType", e.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, e.ManagementEvent)
	b = appendField(b, "recipientAccountId", e.RecipientAccountID)
	b = appendField(b, "eventCategory", e.EventCategory)
	if e.TLSDetails != nil {
		b = append(b, `,"tlsDetails":{`...)
		if e.TLSDetails.ClientProvidedHostHeader != "" {
			b = append(b, `"clientProvidedHostHeader":`...)
			b = appendString(b, e.TLSDetails.ClientProvidedHostHeader)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendIdentity(b []byte, id *UserIdentity) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, id.Type)
	b = appendOmitEmpty(b, "principalId", id.PrincipalID)
	b = appendOmitEmpty(b, "arn", id.ARN)
	b = appendOmitEmpty(b, "accountId", id.AccountID)
	b = appendOmitEmpty(b, "accessKeyId", id.AccessKeyID)
	b = appendOmitEmpty(b, "userName", id.UserName)
	if sc := id.SessionContext; sc != nil {
		b = append(b, `,"sessionContext":{`...)
		if si := sc.SessionIssuer; si != nil {
			b = append(b, `"sessionIssuer":{"type":`...)
			b = appendString(b, si.Type)
			b = appendField(b, "principalId", si.PrincipalID)
			b = appendField(b, "arn", si.ARN)
			b = appendField(b, "accountId", si.AccountID)
			b = appendField(b, "userName", si.UserName)
			b = append(b, "},"...)
		}
		b = append(b, `"attributes":{"creationDate":`...)
		b = appendTime(b, sc.Attributes.CreationDate)
		b = appendField(b, "mfaAuthenticated", sc.Attributes.MFAAuthenticated)
		b = append(b, '}')
		b = appendOmitEmpty(b, "sourceIdentity", sc.SourceIdentity)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendAdditional(b []byte, a *AdditionalData) []byte {
	b = append(b, `{"decision":`...)
	b = appendString(b, a.Decision)
	b = appendOmitEmpty(b, "action", a.Action)
	b = appendField(b, "protocol", a.Protocol)
	b = append(b, `,"httpStatus":`...)
	b = strconv.AppendInt(b, int64(a.HTTPStatus), 10)
	b = appendOmitEmpty(b, "authMethod", a.AuthMethod)
	b = appendOmitEmpty(b, "repository", a.Repository)
	b = append(b, `,"durationMs":`...)
	b = strconv.AppendInt(b, a.DurationMS, 10)
	return append(b, '}')
}

// appendParameters writes the map with its keys sorted, as encoding/json does.
func appendParameters(b []byte, m map[string]any) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendAny(b, m[k])
	}
	return append(b, '}')
}

// appendAny writes strings itself and hands anything else to encoding/json.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendOmitEmpty(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, and <, >, & escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

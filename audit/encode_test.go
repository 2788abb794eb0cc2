package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The hand-written encoder writes what encoding/json writes, byte for byte.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.StringMatching(`[a-z<>&"\\\n\t\x00\x1f\x7f]{0,12}`),
		rapid.SampledFrom([]string{"", "\u2028x\u2029", "\xff\xfe bad utf8", "é漢字🙂"}))
	rapid.Check(t, func(t *rapid.T) {
		e := &Event{
			EventVersion:       str.Draw(t, "version"),
			EventTime:          time.Unix(rapid.Int64Range(0, 1<<33).Draw(t, "time"), rapid.Int64Range(0, 999999999).Draw(t, "nanos")).UTC(),
			EventSource:        str.Draw(t, "source"),
			EventName:          str.Draw(t, "name"),
			AWSRegion:          str.Draw(t, "region"),
			SourceIPAddress:    str.Draw(t, "ip"),
			UserAgent:          str.Draw(t, "ua"),
			ErrorCode:          str.Draw(t, "code"),
			ErrorMessage:       str.Draw(t, "message"),
			RequestID:          str.Draw(t, "rid"),
			EventID:            str.Draw(t, "eid"),
			ReadOnly:           rapid.Bool().Draw(t, "ro"),
			EventType:          str.Draw(t, "type"),
			ManagementEvent:    rapid.Bool().Draw(t, "mgmt"),
			RecipientAccountID: str.Draw(t, "recipient"),
			EventCategory:      str.Draw(t, "category"),
			UserIdentity: UserIdentity{Type: str.Draw(t, "itype"), PrincipalID: str.Draw(t, "pid"), ARN: str.Draw(t, "arn"),
				AccountID: str.Draw(t, "acct"), AccessKeyID: str.Draw(t, "akid"), UserName: str.Draw(t, "user")},
			AdditionalEventData: AdditionalData{Decision: str.Draw(t, "decision"), Action: str.Draw(t, "action"),
				Protocol: str.Draw(t, "protocol"), HTTPStatus: rapid.IntRange(0, 599).Draw(t, "status"),
				AuthMethod: str.Draw(t, "method"), Repository: str.Draw(t, "repo"), DurationMS: rapid.Int64().Draw(t, "ms")},
		}
		if rapid.Bool().Draw(t, "session") {
			e.UserIdentity.SessionContext = &SessionContext{SourceIdentity: str.Draw(t, "srcid"),
				Attributes: SessionAttribute{CreationDate: time.Unix(rapid.Int64Range(0, 1<<33).Draw(t, "created"), 0).UTC(),
					MFAAuthenticated: str.Draw(t, "mfa")}}
			if rapid.Bool().Draw(t, "issuer") {
				e.UserIdentity.SessionContext.SessionIssuer = &SessionIssuer{Type: "Role", PrincipalID: str.Draw(t, "rid2"),
					ARN: str.Draw(t, "rarn"), AccountID: str.Draw(t, "racct"), UserName: str.Draw(t, "rname")}
			}
		}
		if rapid.Bool().Draw(t, "params") {
			e.RequestParameters = map[string]any{}
			for i := range rapid.IntRange(0, 12).Draw(t, "nparams") {
				k := str.Draw(t, "key")
				switch i % 4 {
				case 0:
					e.RequestParameters[k] = str.Draw(t, "value")
				case 1:
					e.RequestParameters[k] = rapid.Bool().Draw(t, "b")
				case 2:
					e.RequestParameters[k] = map[string]any{"nested": []any{str.Draw(t, "n"), json.Number("12")}}
				default:
					e.RequestParameters[k] = nil
				}
			}
		}
		for range rapid.IntRange(0, 2).Draw(t, "nres") {
			e.Resources = append(e.Resources, Resource{ARN: str.Draw(t, "rarn"), AccountID: str.Draw(t, "racct"), Type: str.Draw(t, "rtype")})
		}
		if rapid.Bool().Draw(t, "tls") {
			e.TLSDetails = &TLSDetails{ClientProvidedHostHeader: str.Draw(t, "host")}
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEvent(nil, e); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

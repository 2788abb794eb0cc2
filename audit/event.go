// Package audit keeps the audit trail: one CloudTrail-shaped JSON event per AWS API and
// registry request, allowed or denied, appended durably under DATA/audit/ and read back with filters.
package audit

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/iam"
)

// EventVersion is the CloudTrail record version the events follow.
const EventVersion = "1.09"

// Decisions recorded in AdditionalEventData.Decision.
const (
	Allow = "Allow"
	Deny  = "Deny"
)

// Event is one request in CloudTrail's record format. Fields Coffer adds live in
// AdditionalEventData, as CloudTrail does for service-specific facts.
type Event struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           time.Time      `json:"eventTime"`
	EventSource         string         `json:"eventSource"` // ecr.amazonaws.com, iam.amazonaws.com, ...
	EventName           string         `json:"eventName"`   // the operation, e.g. BatchGetImage
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    any            `json:"responseElements"` // always null: answers may hold secrets
	AdditionalEventData AdditionalData `json:"additionalEventData"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"` // AwsApiCall
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	EventCategory       string         `json:"eventCategory"` // Management
	TLSDetails          *TLSDetails    `json:"tlsDetails,omitempty"`

	// identityJSON is UserIdentity as appendIdentity writes it, when the registry
	// middleware had it from its per-caller cache (nil: encode UserIdentity).
	identityJSON []byte
}

// UserIdentity is who made the request, as CloudTrail describes it.
type UserIdentity struct {
	Type           string          `json:"type"` // Root, IAMUser, AssumedRole, Anonymous
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"` // an id, never a secret
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext describes temporary credentials.
type SessionContext struct {
	SessionIssuer  *SessionIssuer   `json:"sessionIssuer,omitempty"`
	Attributes     SessionAttribute `json:"attributes"`
	SourceIdentity string           `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is the role a session belongs to.
type SessionIssuer struct {
	Type        string `json:"type"` // Role
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttribute is when the session began and whether MFA was used.
type SessionAttribute struct {
	CreationDate     time.Time `json:"creationDate"`
	MFAAuthenticated string    `json:"mfaAuthenticated"` // "true" / "false", as CloudTrail writes it
}

// Resource is a resource the request acted on.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type,omitempty"` // AWS::ECR::Repository
}

// TLSDetails says the request came over TLS.
type TLSDetails struct {
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

// AdditionalData holds what Coffer records beyond CloudTrail's common fields.
type AdditionalData struct {
	Decision   string `json:"decision"`             // Allow or Deny
	Action     string `json:"action,omitempty"`     // the IAM action decided, e.g. ecr:BatchGetImage
	Protocol   string `json:"protocol"`             // registry, json, query
	HTTPStatus int    `json:"httpStatus"`           // status sent
	AuthMethod string `json:"authMethod,omitempty"` // SigV4, RegistryToken, Anonymous
	Repository string `json:"repository,omitempty"` // NAME of the repository, for filtering
	DurationMS int64  `json:"durationMs"`
}

// identityOf describes a caller (nil or anonymous: Anonymous).
func identityOf(c *auth.Caller) (UserIdentity, string) {
	if c == nil || c.Principal == nil {
		return UserIdentity{Type: "Anonymous", PrincipalID: "anonymous"}, "Anonymous"
	}
	p := c.Principal
	id := UserIdentity{PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.AccountID, AccessKeyID: p.AccessKeyID}
	switch p.Type {
	case iam.PrincipalRoot:
		id.Type = "Root"
	case iam.PrincipalUser:
		id.Type, id.UserName = "IAMUser", p.UserName
	case iam.PrincipalAssumedRole:
		id.Type = "AssumedRole"
	default:
		id.Type = p.Type
	}
	if p.Temporary {
		sc := &SessionContext{SourceIdentity: p.SourceIdentity,
			Attributes: SessionAttribute{CreationDate: p.TokenIssueTime.UTC(), MFAAuthenticated: boolString(p.MFAPresent())}}
		if p.RoleARN != "" {
			sc.SessionIssuer = &SessionIssuer{Type: "Role", PrincipalID: p.RoleID, ARN: p.RoleARN,
				AccountID: p.AccountID, UserName: p.RoleName}
		}
		id.SessionContext = sc
	}
	method := "SigV4"
	if c.Method == auth.RegistryToken {
		method = "RegistryToken"
	}
	return id, method
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// readOnlyOperation follows CloudTrail's convention: reads are Get, List, Describe, BatchGet,
// BatchCheck and the like.
func readOnlyOperation(op string) bool {
	for _, p := range []string{"Get", "List", "Describe", "BatchGet", "BatchCheck", "Simulate", "Generate"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// maxCachedIdentities bounds the encoded-identity cache; it starts over when full.
const maxCachedIdentities = 1 << 12

// identityCache holds the encoded userIdentity of each signed caller of the registry. A
// caller (one per credential and IAM generation) always describes the same identity
// (identityOf reads nothing else), so its encoding is made once instead of per event. Reads
// take no lock (every registry event reads it, from every core).
type identityCache struct {
	byCaller sync.Map // *auth.Caller → []byte
	n        atomic.Int64
}

// encoded returns id, the identity of c, encoded; nil for an unsigned caller, whose
// identity is short and whose Caller is made per request.
func (ic *identityCache) encoded(c *auth.Caller, id *UserIdentity) []byte {
	if c == nil || c.Principal == nil {
		return nil
	}
	if b, ok := ic.byCaller.Load(c); ok {
		return b.([]byte)
	}
	b := appendIdentity(nil, id)
	if ic.n.Add(1) > maxCachedIdentities {
		ic.byCaller.Clear()
		ic.n.Store(1)
	}
	ic.byCaller.Store(c, b)
	return b
}

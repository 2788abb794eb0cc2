package iam

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"
)

// EntityKind names the three IAM identities that hold policies.
type EntityKind string

const (
	KindUser  EntityKind = "user"
	KindGroup EntityKind = "group"
	KindRole  EntityKind = "role"
)

// EntityRef points at a user, group or role by account and name.
type EntityRef struct {
	Account string
	Kind    EntityKind
	Name    string
}

// PolicyKind tells the policy validator which grammar and limits a document must meet.
// The values equal those of policy.Kind for the same kinds, so policy.Kind(k) converts.
type PolicyKind uint8

const (
	PolicyManaged PolicyKind = iota + 1
	PolicyInlineUser
	PolicyInlineGroup
	PolicyInlineRole
	PolicyTrust
	PolicyBoundary
	PolicySession
)

func (k PolicyKind) String() string {
	names := [...]string{"managed", "inline-user", "inline-group", "inline-role", "trust", "boundary", "session"}
	if k < PolicyManaged || int(k) > len(names) {
		return "unknown"
	}
	return names[k-1]
}

// InlineKind is the policy kind of inline policies embedded in an entity of kind e.
func (e EntityKind) InlineKind() PolicyKind {
	switch e {
	case KindGroup:
		return PolicyInlineGroup
	case KindRole:
		return PolicyInlineRole
	default:
		return PolicyInlineUser
	}
}

// Tag is a key-value pair on a user, role, policy or MFA device.
type Tag struct {
	Key   string
	Value string
}

// Organization is the single organization Coffer runs, with its management account.
type Organization struct {
	ID                     string
	ARN                    string
	FeatureSet             string // "ALL"
	ManagementAccountID    string
	ManagementAccountARN   string
	ManagementAccountEmail string
	RootID                 string
	RootARN                string
}

// Account is an AWS-style account, the management account or a member.
type Account struct {
	ID             string
	ARN            string // Organizations ARN of the account
	Name           string
	Email          string
	OrganizationID string
	Management     bool
	Status         string // "ACTIVE"
	JoinedMethod   string // "CREATED" for members, "INVITED" never happens here
	JoinedAt       time.Time
}

// User is an IAM user.
type User struct {
	AccountID           string
	ID                  string
	Name                string
	Path                string
	ARN                 string
	CreatedAt           time.Time
	PermissionsBoundary string // ARN of the boundary policy, or ""
	Tags                []Tag
}

// Group is an IAM group.
type Group struct {
	AccountID string
	ID        string
	Name      string
	Path      string
	ARN       string
	CreatedAt time.Time
}

// Role is an IAM role.
type Role struct {
	AccountID           string
	ID                  string
	Name                string
	Path                string
	ARN                 string
	CreatedAt           time.Time
	AssumeRolePolicy    string // trust policy document as the caller sent it
	Description         string
	MaxSessionDuration  int // seconds, 3600..43200
	PermissionsBoundary string
	Tags                []Tag
}

// ManagedPolicy is a customer-managed or AWS managed policy.
type ManagedPolicy struct {
	AccountID          string // "aws" for AWS managed policies
	ID                 string
	Name               string
	Path               string
	ARN                string
	Description        string
	DefaultVersionID   string
	AttachmentCount    int
	BoundaryUsageCount int
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Tags               []Tag
}

// AWSManaged reports whether AWS owns the policy.
func (p *ManagedPolicy) AWSManaged() bool { return p.AccountID == AWSManagedAccount }

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	VersionID string
	Document  string
	IsDefault bool
	CreatedAt time.Time
}

// InlinePolicy is a policy embedded in a user, group or role.
type InlinePolicy struct {
	Owner    EntityRef
	Name     string
	Document string
}

// AttachedPolicy names a managed policy attached to an entity.
type AttachedPolicy struct {
	Name string
	ARN  string
}

// Access key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// AccessKey describes a long-term access key; the secret is never part of it.
type AccessKey struct {
	AccountID string
	ID        string
	UserName  string // "" for the root user's keys
	Status    string
	CreatedAt time.Time
	LastUsed  AccessKeyUse
}

// AccessKeyUse records where an access key was last used (zero At: never).
type AccessKeyUse struct {
	At      time.Time
	Service string
	Region  string
}

// NewAccessKey is an access key as returned once, at creation, with its secret.
type NewAccessKey struct {
	AccessKey
	Secret string
}

// MFADevice is a virtual MFA device; UserName is empty until it is enabled for a user.
type MFADevice struct {
	AccountID    string
	SerialNumber string
	Name         string
	Path         string
	UserName     string
	EnabledAt    time.Time
	CreatedAt    time.Time
	Tags         []Tag
}

// NewVirtualMFADevice carries the seed, shown once, when a device is created.
type NewVirtualMFADevice struct {
	MFADevice
	Base32Seed string
	OTPAuthURI string
}

// PrincipalType values, as aws:PrincipalType reports them.
const (
	PrincipalRoot        = "Account"
	PrincipalUser        = "User"
	PrincipalAssumedRole = "AssumedRole"
)

// Principal is who signed a request: a root user, an IAM user, or a session of either or of a role.
// It is immutable once returned; callers may cache it with the generation it came with.
type Principal struct {
	Type string // PrincipalRoot, PrincipalUser or PrincipalAssumedRole
	// AccessKeyID is the credential the principal signed with (session policies hang on it).
	AccessKeyID string
	AccountID   string
	OrgID       string
	ARN         string // user ARN, root ARN, or assumed-role session ARN
	// UserID is aws:userid: the account id for root, AIDA... for users, AROA...:session for role sessions.
	UserID   string
	UserName string // IAM users only
	// Role sessions.
	RoleName    string
	RoleARN     string
	RoleID      string
	SessionName string
	// Tags are the user's tags, or the role's tags overridden by session tags.
	Tags              []Tag
	TransitiveTagKeys []string
	// MFA and session facts for aws:MultiFactorAuthPresent, aws:MultiFactorAuthAge, aws:TokenIssueTime.
	Temporary      bool
	MFAAuthTime    time.Time // zero: no MFA used
	TokenIssueTime time.Time
	SourceIdentity string
}

// MFAPresent reports whether the credentials were issued after an MFA check.
func (p *Principal) MFAPresent() bool { return !p.MFAAuthTime.IsZero() }

// PrincipalARN is aws:PrincipalArn: the role ARN for role sessions, the principal's ARN otherwise.
func (p *Principal) PrincipalARN() string {
	if p.Type == PrincipalAssumedRole {
		return p.RoleARN
	}
	return p.ARN
}

// Credential is what request authentication needs for one access key id.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	Active          bool      // false for an Inactive long-term key
	Expiration      time.Time // zero for long-term keys
	tokenHash       [sha256.Size]byte
	Principal       *Principal
	Generation      uint64
}

// NewTemporaryCredential builds a Credential for session credentials from its token hash.
func NewTemporaryCredential(id, secret string, tokenHash [sha256.Size]byte, expiration time.Time, p *Principal) *Credential {
	return &Credential{AccessKeyID: id, SecretAccessKey: secret, Active: true, Expiration: expiration, tokenHash: tokenHash, Principal: p}
}

// Temporary reports whether these are STS session credentials (which need a session token).
func (c *Credential) Temporary() bool { return !c.Expiration.IsZero() }

// Expired reports whether temporary credentials have run out at now.
func (c *Credential) Expired(now time.Time) bool {
	return c.Temporary() && !now.Before(c.Expiration)
}

// TokenMatches compares a presented session token with the stored hash in constant time.
func (c *Credential) TokenMatches(token string) bool {
	if !c.Temporary() {
		return token == ""
	}
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], c.tokenHash[:]) == 1
}

// TokenHash is the SHA-256 of the session token (zero for long-term keys), for verifiers that
// compare hashes themselves.
func (c *Credential) TokenHash() [sha256.Size]byte { return c.tokenHash }

// HashToken is how session tokens are kept: their SHA-256.
func HashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// PolicySource says where an applicable policy document came from.
type PolicySource string

const (
	SourceInline  PolicySource = "inline"
	SourceManaged PolicySource = "managed"
	SourceSession PolicySource = "session"
)

// PolicyDocument is one document that applies to a principal, labelled for caching and messages.
type PolicyDocument struct {
	Source   PolicySource
	Name     string // inline policy name, managed policy name, or "" for an inline session policy
	ARN      string // managed policy ARN
	Version  string // managed policy default version
	OwnerARN string // the user, group or role the policy is attached to or embedded in
	Document string
}

// Key identifies the document's content for a compile cache: ARN@version, owner#name, or the text itself.
func (d *PolicyDocument) Key() string {
	switch d.Source {
	case SourceManaged:
		return d.ARN + "@" + d.Version
	case SourceInline:
		return d.OwnerARN + "#" + d.Name
	default:
		return "session:" + d.Document
	}
}

// PolicySet is every identity-side document that applies to a principal.
// It is immutable; Generation tells when it was read.
type PolicySet struct {
	Identity []PolicyDocument // inline + attached of the user and its groups, or of the role
	Boundary *PolicyDocument  // permissions boundary, nil if none
	Session  []PolicyDocument // inline session policy and session managed policies; empty if none
	// HasSessionPolicy is true when the session was created with any session policy.
	HasSessionPolicy bool
	Generation       uint64
}

// AuthorizationDetails is one account's full identity picture, as GetAccountAuthorizationDetails lists it.
type AuthorizationDetails struct {
	Users    []UserDetail
	Groups   []GroupDetail
	Roles    []RoleDetail
	Policies []PolicyDetail
}

// UserDetail is a user with everything attached to it.
type UserDetail struct {
	User
	Groups           []string
	InlinePolicies   []InlinePolicy
	AttachedPolicies []AttachedPolicy
}

// GroupDetail is a group with its policies.
type GroupDetail struct {
	Group
	InlinePolicies   []InlinePolicy
	AttachedPolicies []AttachedPolicy
}

// RoleDetail is a role with its policies.
type RoleDetail struct {
	Role
	InlinePolicies   []InlinePolicy
	AttachedPolicies []AttachedPolicy
}

// PolicyDetail is a managed policy with all its versions.
type PolicyDetail struct {
	ManagedPolicy
	Versions []PolicyVersion
}

// Session is a set of temporary credentials. SecretAccessKey and SessionToken are filled only
// when the session is created; afterwards the token exists only as a hash.
type Session struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	CreatedAt       time.Time
	Principal       Principal
	PolicyDocument  string   // inline session policy, "" if none
	PolicyARNs      []string // managed session policies
}

// AssumeRoleInput asks for a role session. Trust evaluation is the caller's job.
type AssumeRoleInput struct {
	RoleARN           string
	SessionName       string
	DurationSeconds   int // 0: one hour
	Policy            string
	PolicyARNs        []string
	Tags              []Tag
	TransitiveTagKeys []string
	SourceIdentity    string
	MFAAuthTime       time.Time // when the caller proved MFA, zero if not
	// Caller is the principal assuming the role; a role session as caller is role chaining
	// (duration at most one hour, transitive tags carried over).
	Caller *Principal
}

// SessionTokenInput asks for GetSessionToken credentials for a user or root.
type SessionTokenInput struct {
	Account         string
	UserName        string // "" for the root user
	DurationSeconds int    // 0: 12 hours
	MFAAuthTime     time.Time
}

package stsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// Identities is what STS needs from the identity store (*iamsql.Service).
type Identities interface {
	GetRoleByARN(ctx context.Context, arn string) (*iam.Role, error)
	AssumeRole(ctx context.Context, in iam.AssumeRoleInput) (*iam.Session, error)
	GetSessionToken(ctx context.Context, in iam.SessionTokenInput) (*iam.Session, error)
	ListMFADevices(ctx context.Context, account, userName string) ([]iam.MFADevice, error)
	VerifyMFACode(ctx context.Context, account, serial, code string) (*iam.MFADevice, time.Time, error)
}

// Deps are the parts the STS operations stand on.
type Deps struct {
	Identities Identities
	Authorizer authz.Authorizer
}

// Register adds GetCallerIdentity, AssumeRole and GetSessionToken to e.
func Register(e *awsproto.Endpoint, d Deps) {
	s := &service{Deps: d}
	awsproto.Handle(e, awsproto.STS, "GetCallerIdentity", s.getCallerIdentity)
	awsproto.Handle(e, awsproto.STS, "AssumeRole", s.assumeRole)
	awsproto.Handle(e, awsproto.STS, "GetSessionToken", s.getSessionToken)
}

type service struct {
	Deps
}

// Bounds of the STS model that the identity store does not check itself.
const (
	maxRoleDuration         = 43200
	maxSessionTokenDuration = 129600
	maxSessionPolicyARNs    = 10
	maxSessionTags          = 50
	maxTransitiveTagKeys    = 50
)

func callerFrom(ctx context.Context) (*iam.Principal, error) {
	c := auth.CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return nil, awsproto.MissingAuthenticationToken()
	}
	return c.Principal, nil
}

// getCallerIdentity needs no permission: AWS answers it for every authenticated caller, even
// one whose policies deny everything.
func (s *service) getCallerIdentity(ctx context.Context, _ *getCallerIdentityInput) (*getCallerIdentityOutput, error) {
	p, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	return &getCallerIdentityOutput{UserId: p.UserID, Account: p.AccountID, Arn: p.ARN}, nil
}

// assumeRole checks the request, the caller's MFA code if any, then asks the authorizer for
// sts:AssumeRole on the role with its trust policy as the resource policy (plus sts:TagSession
// when session tags are passed and sts:SetSourceIdentity when a source identity is), and
// issues the session.
func (s *service) assumeRole(ctx context.Context, in *assumeRoleInput) (*assumeRoleOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	tags := make([]iam.Tag, len(in.Tags))
	for i, t := range in.Tags {
		tags[i] = iam.Tag{Key: t.Key, Value: t.Value}
	}
	arns := make([]string, len(in.PolicyArns))
	for i, d := range in.PolicyArns {
		arns[i] = d.Arn
	}
	if err := checkAssumeRoleInput(in, tags); err != nil {
		return nil, err
	}
	if caller.Type == iam.PrincipalRoot {
		return nil, accessDenied("Roles may not be assumed by root accounts.")
	}
	if res, ok := iam.ParseIAMARN(in.RoleArn); !ok || res.Type != "role" {
		return nil, &awsproto.Error{Code: "ValidationError", Status: 400, Message: in.RoleArn + " is invalid"}
	}
	notAuthorized := accessDenied("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.RoleArn)
	role, err := s.Identities.GetRoleByARN(ctx, in.RoleArn)
	if iam.ErrorCode(err) == iam.CodeNoSuchEntity {
		// AWS does not tell callers whether a role they may not assume exists.
		return nil, notAuthorized
	}
	if err != nil {
		return nil, toWire(err)
	}
	trust, err := policy.Parse([]byte(role.AssumeRolePolicy), policy.KindTrust)
	if err != nil {
		return nil, notAuthorized // a stored trust policy that no longer compiles trusts nobody
	}
	trust.Name = role.ARN
	mfaTime, err := s.checkMFA(ctx, caller, in.SerialNumber, in.TokenCode)
	if err != nil {
		return nil, err
	}
	check := authz.Check{Action: "sts:AssumeRole", Resource: role.ARN, ResourceAccount: role.AccountID,
		ResourcePolicy: trust, Keys: assumeRoleKeys(in, tags, mfaTime)}
	if err := s.Authorizer.Authorize(ctx, check); err != nil {
		return nil, toWire(err)
	}
	if len(tags) > 0 || len(in.TransitiveTagKeys) > 0 {
		check.Action = "sts:TagSession"
		if err := s.Authorizer.Authorize(ctx, check); err != nil {
			return nil, toWire(err)
		}
	}
	if in.SourceIdentity != "" {
		check.Action = "sts:SetSourceIdentity"
		if err := s.Authorizer.Authorize(ctx, check); err != nil {
			return nil, toWire(err)
		}
	}
	packed, err := packedPolicySize(in.Policy, arns, tags, in.TransitiveTagKeys)
	if err != nil {
		return nil, err
	}
	sess, err := s.Identities.AssumeRole(ctx, iam.AssumeRoleInput{
		RoleARN: role.ARN, SessionName: in.RoleSessionName, DurationSeconds: deref(in.DurationSeconds),
		Policy: in.Policy, PolicyARNs: arns, Tags: tags, TransitiveTagKeys: in.TransitiveTagKeys,
		SourceIdentity: in.SourceIdentity, MFAAuthTime: mfaTime, Caller: caller,
	})
	if err != nil {
		return nil, toWire(err)
	}
	out := &assumeRoleOutput{
		Credentials:     credentialsOf(sess),
		AssumedRoleUser: assumedRoleUser{AssumedRoleId: sess.Principal.UserID, Arn: sess.Principal.ARN},
		SourceIdentity:  sess.Principal.SourceIdentity,
	}
	if in.Policy != "" || len(arns) > 0 || len(tags) > 0 {
		out.PackedPolicySize = &packed
	}
	return out, nil
}

// checkAssumeRoleInput applies the STS model's constraints to an AssumeRole request.
func checkAssumeRoleInput(in *assumeRoleInput, tags []iam.Tag) error {
	var c checks
	c.length("roleArn", in.RoleArn, 20, 2048)
	c.text("roleSessionName", in.RoleSessionName, 2, 64, sessionNamePattern, sessionNamePatternText)
	if in.DurationSeconds != nil {
		c.between("durationSeconds", *in.DurationSeconds, iam.MinSessionDuration, maxRoleDuration)
	}
	c.count("policyArns", len(in.PolicyArns), maxSessionPolicyARNs)
	for i, d := range in.PolicyArns {
		c.length(fmt.Sprintf("policyArns.%d.member.arn", i+1), d.Arn, 20, 2048)
	}
	if in.Policy != "" {
		c.text("policy", in.Policy, 1, iam.MaxSessionPolicySize, policyCharsPattern, policyCharsPatternText)
	}
	c.count("tags", len(tags), maxSessionTags)
	for i, t := range tags {
		c.text(fmt.Sprintf("tags.%d.member.key", i+1), t.Key, 1, 128, tagKeyPattern, tagKeyPatternText)
		c.text(fmt.Sprintf("tags.%d.member.value", i+1), t.Value, 0, 256, tagValuePattern, tagValuePatternText)
	}
	c.count("transitiveTagKeys", len(in.TransitiveTagKeys), maxTransitiveTagKeys)
	for i, k := range in.TransitiveTagKeys {
		c.text(fmt.Sprintf("transitiveTagKeys.%d.member", i+1), k, 1, 128, tagKeyPattern, tagKeyPatternText)
	}
	if in.ExternalId != "" {
		c.text("externalId", in.ExternalId, 2, 1224, externalIDPattern, externalIDPatternText)
	}
	if in.SourceIdentity != "" {
		c.text("sourceIdentity", in.SourceIdentity, 2, 64, sessionNamePattern, sessionNamePatternText)
	}
	c.mfa(in.SerialNumber, in.TokenCode)
	if err := c.err(); err != nil {
		return err
	}
	return toWire(iam.CheckTagKeysUnique(tags))
}

// assumeRoleKeys are the request's own condition keys: sts:RoleSessionName, sts:ExternalId,
// sts:SourceIdentity, the session tags (aws:RequestTag/K, aws:TagKeys, sts:TransitiveTagKeys)
// and, when the caller proved MFA in this request, the MFA keys.
func assumeRoleKeys(in *assumeRoleInput, tags []iam.Tag, mfaTime time.Time) []authz.Key {
	keys := []authz.Key{{Name: "sts:RoleSessionName", Type: policy.TypeString, Values: []string{in.RoleSessionName}}}
	if in.ExternalId != "" {
		keys = append(keys, authz.Key{Name: "sts:ExternalId", Type: policy.TypeString, Values: []string{in.ExternalId}})
	}
	if in.SourceIdentity != "" {
		keys = append(keys, authz.Key{Name: "sts:SourceIdentity", Type: policy.TypeString, Values: []string{in.SourceIdentity}})
	}
	if len(tags) > 0 {
		names := make([]string, len(tags))
		for i, t := range tags {
			names[i] = t.Key
			keys = append(keys, authz.Key{Name: "aws:RequestTag/" + t.Key, Type: policy.TypeString, Values: []string{t.Value}})
		}
		keys = append(keys, authz.Key{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: names})
	}
	if len(in.TransitiveTagKeys) > 0 {
		keys = append(keys, authz.Key{Name: "sts:TransitiveTagKeys", Type: policy.TypeStringList,
			Values: append([]string(nil), in.TransitiveTagKeys...)})
	}
	if !mfaTime.IsZero() {
		keys = append(keys,
			authz.Key{Name: "aws:MultiFactorAuthPresent", Type: policy.TypeBool, Values: []string{"true"}},
			authz.Key{Name: "aws:MultiFactorAuthAge", Type: policy.TypeNumeric, Values: []string{"0"}})
	}
	return keys
}

// getSessionToken needs no permission (it is how a user proves MFA), but only the long-term
// credentials of an IAM user or a root user may call it.
func (s *service) getSessionToken(ctx context.Context, in *getSessionTokenInput) (*getSessionTokenOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	var c checks
	if in.DurationSeconds != nil {
		c.between("durationSeconds", *in.DurationSeconds, iam.MinSessionDuration, maxSessionTokenDuration)
	}
	c.mfa(in.SerialNumber, in.TokenCode)
	if err := c.err(); err != nil {
		return nil, err
	}
	if caller.Temporary || caller.Type == iam.PrincipalAssumedRole {
		return nil, accessDenied("Cannot call GetSessionToken with session credentials")
	}
	mfaTime, err := s.checkMFA(ctx, caller, in.SerialNumber, in.TokenCode)
	if err != nil {
		return nil, err
	}
	sess, err := s.Identities.GetSessionToken(ctx, iam.SessionTokenInput{
		Account: caller.AccountID, UserName: caller.UserName, DurationSeconds: deref(in.DurationSeconds), MFAAuthTime: mfaTime,
	})
	if err != nil {
		return nil, toWire(err)
	}
	return &getSessionTokenOutput{Credentials: credentialsOf(sess)}, nil
}

// checkMFA verifies SerialNumber and TokenCode when the request carries them, and returns when
// the check passed (zero when the request has no MFA). The device must be enabled for the
// caller; a code is accepted once.
func (s *service) checkMFA(ctx context.Context, caller *iam.Principal, serial, code string) (time.Time, error) {
	if serial == "" && code == "" {
		return time.Time{}, nil
	}
	if serial == "" || code == "" {
		return time.Time{}, accessDenied(mfaIncomplete)
	}
	switch caller.Type {
	case iam.PrincipalUser:
		// Look first, so that a code is never spent on a device that is someone else's.
		devices, err := s.Identities.ListMFADevices(ctx, caller.AccountID, caller.UserName)
		if err != nil {
			return time.Time{}, toWire(err)
		}
		owned := false
		for _, d := range devices {
			owned = owned || d.SerialNumber == serial
		}
		if !owned {
			return time.Time{}, accessDenied(mfaUnknown)
		}
	case iam.PrincipalRoot:
	default:
		return time.Time{}, accessDenied(mfaUnknown)
	}
	dev, at, err := s.Identities.VerifyMFACode(ctx, caller.AccountID, serial, code)
	switch iam.ErrorCode(err) {
	case "":
		if err != nil {
			return time.Time{}, err
		}
	case iam.CodeInvalidAuthenticationCode:
		return time.Time{}, accessDenied(mfaInvalidCode)
	case iam.CodeNoSuchEntity:
		return time.Time{}, accessDenied(mfaUnknown)
	default:
		return time.Time{}, toWire(err)
	}
	if dev.UserName != caller.UserName {
		return time.Time{}, accessDenied(mfaUnknown)
	}
	return at, nil
}

func credentialsOf(s *iam.Session) credentials {
	return credentials{AccessKeyId: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey,
		SessionToken: s.SessionToken, Expiration: s.Expiration.UTC()}
}

func deref(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

package stsapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-registry/coffer/iam"
)

// TestGetSessionTokenWithMFA: a call guarded by aws:MultiFactorAuthPresent succeeds with the
// session from GetSessionToken with an MFA code and fails with the user's long-term key.
func TestGetSessionTokenWithMFA(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	guarded := allowDoc("organizations:DescribeOrganization", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"300"}}`)
	carol := c.user(c.mgmt, "carol", guarded)
	serial, seed := c.mfaDevice(c.mgmt, "carol")

	_, err := c.orgs(carol).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	wantError(t, err, "AccessDeniedException", "organizations:DescribeOrganization")

	_, err = c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(wrongCode(seed))})
	wantError(t, err, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
	_, err = c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial)})
	wantError(t, err, "AccessDenied", "must provide both MFA serial number and one time pass code")

	out, err := c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial),
		TokenCode: aws.String(nextCode(seed)), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(*out.Credentials.Expiration); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expires in %v", d)
	}
	session := sessionCreds(out.Credentials)
	if _, err := c.orgs(session).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	who, err := c.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *who.Arn != iam.UserARN(c.mgmt, "/", "carol") {
		t.Fatalf("session of a user is the user: %s", *who.Arn)
	}
	// The same code is never accepted twice.
	_, err = c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(nextCode(seed))})
	wantError(t, err, "AccessDenied", "invalid MFA one time pass code")
	// Session credentials cannot ask for more session credentials.
	_, err = c.sts(session).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantError(t, err, "AccessDenied", "Cannot call GetSessionToken with session credentials")

	// A session without MFA has aws:MultiFactorAuthPresent false: still refused.
	plain, err := c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(*plain.Credentials.Expiration); d < 11*time.Hour || d > 13*time.Hour {
		t.Fatalf("default GetSessionToken duration: expires in %v", d)
	}
	_, err = c.orgs(sessionCreds(plain.Credentials)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	wantError(t, err, "AccessDeniedException", "organizations:DescribeOrganization")

	// Another user's device is not the caller's.
	dave := c.user(c.mgmt, "dave", "")
	_, err = c.sts(dave).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String("123456")})
	wantError(t, err, "AccessDenied", "unable to validate MFA code")

	_, err = c.sts(carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})
	wantError(t, err, "ValidationError", "Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600")
	_, err = c.sts(c.root).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(7200)})
	wantError(t, err, "ValidationError", "durationSeconds")
	if _, err := c.sts(c.root).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600)}); err != nil {
		t.Fatal(err)
	}
}

// TestAssumeRoleWithMFA: a trust policy that demands MFA admits a caller that passes a code.
func TestAssumeRoleWithMFA(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	erin := c.user(c.mgmt, "erin", "")
	serial, seed := c.mfaDevice(c.mgmt, "erin")
	roleARN := c.role(c.mgmt, "breakglass", trustDoc(iam.UserARN(c.mgmt, "/", "erin"),
		`,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`),
		allowDoc("organizations:DescribeOrganization", "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)).ARN

	_, err := c.sts(erin).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("nomfa")})
	wantError(t, err, "AccessDenied", "because no role trust policy allows the sts:AssumeRole action")

	out, err := c.sts(erin).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("mfa"),
		SerialNumber: aws.String(serial), TokenCode: aws.String(nextCode(seed))})
	if err != nil {
		t.Fatal(err)
	}
	// The role session carries the MFA: a call guarded by it succeeds.
	if _, err := c.orgs(sessionCreds(out.Credentials)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredSession: credentials of a session that has ended answer ExpiredToken.
func TestExpiredSession(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	frank := c.user(c.mgmt, "frank", "")
	out, err := c.sts(frank).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	session := sessionCreds(out.Credentials)
	if _, err := c.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if err := c.store.ExpireSession(ctx, session.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	_, err = c.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	code, msg := apiError(t, err)
	if code != "ExpiredToken" && code != "ExpiredTokenException" {
		t.Fatalf("want ExpiredToken, got %s: %s", code, msg)
	}
	if !strings.Contains(msg, "expired") {
		t.Fatalf("message %q", msg)
	}
}

// wrongCode is a code the device does not show in any step near now.
func wrongCode(seed []byte) string {
	now := time.Now()
	for d := 0; ; d++ {
		code := strings.Repeat(string(rune('0'+d)), 6)
		ok := true
		for step := -2; step <= 2; step++ {
			ok = ok && iam.TOTPCode(seed, now.Add(time.Duration(step)*iam.TOTPStep)) != code
		}
		if ok {
			return code
		}
	}
}

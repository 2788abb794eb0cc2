package iamapi_test

import (
	"context"
	"encoding/base32"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-registry/coffer/iam"
)

// mfaOnly allows user administration only to callers who proved MFA, AWS's usual shape.
const mfaOnly = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Self","Effect":"Allow","Action":["iam:GetUser","iam:ListMFADevices"],"Resource":"arn:aws:iam::*:user/${aws:username}"},
 {"Sid":"AdminWithMFA","Effect":"Allow","Action":["iam:CreateUser","iam:DeleteUser"],"Resource":"*",
  "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"600"}}}]}`

// MFA-protected IAM calls: denied with long-term keys and with a session made without MFA,
// allowed with a session from GetSessionToken with a TOTP code computed here.
func TestMFAProtectedCalls(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	k := must[*sdk.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String("alice")}))
	id, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
	must[*sdk.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("mfa"), PolicyDocument: aws.String(mfaOnly)}))

	alice := w.client(id, secret)
	must[*sdk.GetUserOutput](t)(alice.GetUser(ctx, &sdk.GetUserInput{}))
	_, err := alice.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob")})
	wantCode(t, err, "AccessDenied")

	stsc := sts.NewFromConfig(w.config(id, secret, ""))
	plain := must[*sts.GetSessionTokenOutput](t)(stsc.GetSessionToken(ctx, &sts.GetSessionTokenInput{}))
	noMFA := sdk.NewFromConfig(w.config(*plain.Credentials.AccessKeyId, *plain.Credentials.SecretAccessKey, *plain.Credentials.SessionToken))
	_, err = noMFA.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob")})
	wantCode(t, err, "AccessDenied")

	// Alice's virtual device, enabled with two consecutive codes.
	d := must[*sdk.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &sdk.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice")}))
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(d.VirtualMFADevice.Base32StringSeed))
	if err != nil {
		t.Fatal(err)
	}
	step := iam.TOTPStepAt(w.now())
	must[*sdk.EnableMFADeviceOutput](t)(c.EnableMFADevice(ctx, &sdk.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: d.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(iam.HOTP(seed, step-1, 6)), AuthenticationCode2: aws.String(iam.HOTP(seed, step, 6))}))
	devs := must[*sdk.ListMFADevicesOutput](t)(alice.ListMFADevices(ctx, &sdk.ListMFADevicesInput{}))
	if len(devs.MFADevices) != 1 {
		t.Fatalf("alice sees %d devices", len(devs.MFADevices))
	}

	// The next step's code (a code is never accepted twice) proves MFA to STS.
	w.offset.Add(int64(iam.TOTPStep))
	code := iam.TOTPCode(seed, w.now())
	withMFA := must[*sts.GetSessionTokenOutput](t)(stsc.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: d.VirtualMFADevice.SerialNumber, TokenCode: aws.String(code)}))
	mfa := sdk.NewFromConfig(w.config(*withMFA.Credentials.AccessKeyId, *withMFA.Credentials.SecretAccessKey, *withMFA.Credentials.SessionToken))
	must[*sdk.CreateUserOutput](t)(mfa.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob")}))

	// Eleven minutes later the MFA is too old for the policy (and the clocks are still within SigV4's skew).
	w.offset.Add(int64(11 * time.Minute))
	_, err = mfa.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("bob")})
	wantCode(t, err, "AccessDenied")
}

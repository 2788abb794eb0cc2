package iamsql

import (
	"context"
	"encoding/base32"
	"testing"

	"github.com/coffer-registry/coffer/iam"
)

func base32Decode(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// enable turns on an MFA device for a user with two consecutive codes of the fixture's clock.
func enable(t *testing.T, f *fixture, userName string, dev *iam.NewVirtualMFADevice) {
	t.Helper()
	seed, err := base32Decode(dev.Base32Seed)
	if err != nil {
		t.Fatal(err)
	}
	step := iam.TOTPStepAt(f.clock.Now())
	if err := f.EnableMFADevice(context.Background(), f.acct, userName, dev.SerialNumber,
		iam.HOTP(seed, step-1, 6), iam.HOTP(seed, step, 6)); err != nil {
		t.Fatal(err)
	}
}

func tag(k, v string) iam.Tag { return iam.Tag{Key: k, Value: v} }

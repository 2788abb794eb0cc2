package iam

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP parameters of AWS virtual MFA devices (RFC 6238 defaults).
const (
	TOTPStep   = 30 * time.Second
	TOTPDigits = 6
	// TOTPWindow is how many steps before or after now a code may come from.
	TOTPWindow = 1
	seedLength = 40 // bytes; AWS seeds are 64 base32 characters
)

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSeed returns a random seed for a virtual MFA device.
func NewTOTPSeed() []byte {
	seed := make([]byte, seedLength)
	if _, err := rand.Read(seed); err != nil {
		panic("iam: crypto/rand failed: " + err.Error())
	}
	return seed
}

// Base32Seed encodes a seed the way authenticator apps expect it.
func Base32Seed(seed []byte) string { return base32NoPad.EncodeToString(seed) }

// OTPAuthURI is the otpauth:// URI an authenticator app can import (what AWS puts in its QR code).
func OTPAuthURI(seed []byte, accountLabel, issuer string) string {
	v := url.Values{}
	v.Set("secret", Base32Seed(seed))
	v.Set("issuer", issuer)
	return "otpauth://totp/" + url.PathEscape(issuer+":"+accountLabel) + "?" + v.Encode()
}

// TOTPStepAt is the RFC 6238 time counter for t.
func TOTPStepAt(t time.Time) int64 { return t.Unix() / int64(TOTPStep/time.Second) }

// HOTP computes the RFC 4226 code for counter with the given number of digits, HMAC-SHA1.
func HOTP(seed []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, seed)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TOTPCode is the 6-digit code of seed at time t.
func TOTPCode(seed []byte, t time.Time) string { return HOTP(seed, TOTPStepAt(t), TOTPDigits) }

// MatchTOTP finds the step within ±TOTPWindow of now whose code is code, and which is later than
// lastUsedStep (so a code is never accepted twice). ok is false if there is none.
func MatchTOTP(seed []byte, code string, now time.Time, lastUsedStep int64) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	current := TOTPStepAt(now)
	for s := current - TOTPWindow; s <= current+TOTPWindow; s++ {
		if s <= lastUsedStep {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(HOTP(seed, s, TOTPDigits)), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// enableWindow is how far from now the two codes given to EnableMFADevice may lie; a person
// types two codes one after the other, so the pair is allowed to be a little older than one code.
const enableWindow = 4

// MatchConsecutiveTOTP finds the step s near now at which code1 is the code of s and code2 of s+1.
// It returns s+1, the step to remember as last used.
func MatchConsecutiveTOTP(seed []byte, code1, code2 string, now time.Time) (lastStep int64, ok bool) {
	if len(code1) != TOTPDigits || len(code2) != TOTPDigits {
		return 0, false
	}
	current := TOTPStepAt(now)
	for s := current - enableWindow; s <= current+TOTPWindow; s++ {
		if HOTP(seed, s, TOTPDigits) == code1 && HOTP(seed, s+1, TOTPDigits) == code2 {
			return s + 1, true
		}
	}
	return 0, false
}

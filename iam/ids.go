package iam

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
)

// Unique-id prefixes AWS uses for each kind of identifier.
const (
	PrefixUser          = "AIDA"
	PrefixGroup         = "AGPA"
	PrefixRole          = "AROA"
	PrefixPolicy        = "ANPA"
	PrefixAccessKey     = "AKIA"
	PrefixTemporaryKey  = "ASIA"
	idRandomLength      = 16
	secretLength        = 40
	accountIDLength     = 12
	organizationIDChars = 10
	rootIDChars         = 4
)

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	digits     = "0123456789"
	secretSet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters uniformly from alphabet with crypto/rand.
func randomString(alphabet string, n int) string {
	var b strings.Builder
	b.Grow(n)
	max := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("iam: crypto/rand failed: " + err.Error())
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// NewID returns prefix followed by 16 upper-case letters and digits (AIDA..., AKIA...).
func NewID(prefix string) string { return prefix + randomString(upperAlnum, idRandomLength) }

// NewSecretAccessKey returns a 40-character secret in AWS's alphabet.
func NewSecretAccessKey() string { return randomString(secretSet, secretLength) }

// NewAccountID returns a 12-digit account id that does not start with 0.
func NewAccountID() string {
	return randomString("123456789", 1) + randomString(digits, accountIDLength-1)
}

// NewOrganizationID returns "o-" and 10 lower-case letters and digits.
func NewOrganizationID() string { return "o-" + randomString(lowerAlnum, organizationIDChars) }

// NewRootID returns an organization root id, "r-" and 4 lower-case letters and digits.
func NewRootID() string { return "r-" + randomString(lowerAlnum, rootIDChars) }

// NewSessionToken returns an opaque session token (random, base64, about 300 characters).
func NewSessionToken() string {
	b := make([]byte, 224)
	if _, err := rand.Read(b); err != nil {
		panic("iam: crypto/rand failed: " + err.Error())
	}
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

// IsAccountID reports whether s is 12 decimal digits.
func IsAccountID(s string) bool {
	if len(s) != accountIDLength {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsUniqueID reports whether s is prefix followed by 16 upper-case letters and digits.
func IsUniqueID(s, prefix string) bool {
	if len(s) != len(prefix)+idRandomLength || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[len(prefix):] {
		if !strings.ContainsRune(upperAlnum, c) {
			return false
		}
	}
	return true
}

// IsOrganizationID reports whether s has the form o-xxxxxxxxxx.
func IsOrganizationID(s string) bool {
	if len(s) != 2+organizationIDChars || !strings.HasPrefix(s, "o-") {
		return false
	}
	for _, c := range s[2:] {
		if !strings.ContainsRune(lowerAlnum, c) {
			return false
		}
	}
	return true
}

// IsTemporaryAccessKeyID reports whether id names STS temporary credentials.
func IsTemporaryAccessKeyID(id string) bool { return strings.HasPrefix(id, PrefixTemporaryKey) }

// Package sigv4 verifies AWS Signature Version 4 requests (Authorization
// header and presigned query forms) and says who signed them.
package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// MaxSkew is how far a request's signing time may be from the server's
	// clock, either way.
	MaxSkew = 15 * time.Minute
	// MaxPresignExpiry is the largest X-Amz-Expires accepted: seven days.
	MaxPresignExpiry = 604800

	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	terminator      = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// Credentials finds the secret behind an access key id. The IAM layer
// implements it.
//
// Lookup returns ErrUnknownAccessKey or ErrInactiveAccessKey (possibly
// wrapped) when the key cannot sign; the verifier turns both into
// InvalidClientTokenId. Any other error is passed through unchanged, as a
// server-side failure.
type Credentials interface {
	Lookup(ctx context.Context, accessKeyID string) (Secret, error)
}

// Lookup outcomes that mean "this key cannot sign requests".
var (
	ErrUnknownAccessKey  = errors.New("sigv4: unknown access key")
	ErrInactiveAccessKey = errors.New("sigv4: access key is inactive")
)

// ErrBodyTooLarge is returned by VerifyRequest when the body exceeds the limit.
var ErrBodyTooLarge = errors.New("sigv4: request body too large")

// Secret is what the verifier needs to know about an access key.
type Secret struct {
	SecretAccessKey string
	// SessionToken is the token temporary (ASIA...) credentials must send as
	// X-Amz-Security-Token; empty for long-term keys, which must send none.
	SessionToken string
	// CheckSessionToken, when set, replaces the comparison with SessionToken:
	// it is given the token the request carried ("" when none) and says
	// whether it belongs to this key. Stores that keep only a hash of the
	// token use it; it must compare in constant time.
	CheckSessionToken func(token string) bool
	// Expires is when temporary credentials stop working; zero for never.
	Expires time.Time
	// Principal is opaque to this package and handed back in Result.
	Principal any
}

func (s *Secret) tokenMatches(token string) bool {
	if s.CheckSessionToken != nil {
		return s.CheckSessionToken(token)
	}
	return equalConstantTime(token, s.SessionToken)
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID string
	Principal   any // Secret.Principal of the key that signed
	Service     string
	Region      string
	SignedAt    time.Time
	Presigned   bool      // signed in the query string rather than the Authorization header
	ExpiresAt   time.Time // presigned only: when the URL stops being valid
	// Temporary reports that the request carried a session token.
	Temporary bool
	// UnsignedPayload reports X-Amz-Content-Sha256: UNSIGNED-PAYLOAD: the body
	// is not covered by the signature.
	UnsignedPayload bool
}

// RequireService fails with SignatureDoesNotMatch unless the credential
// scope names service (e.g. "ecr" for ECR's API); the router calls it once
// it knows which API the request is for.
func (r *Result) RequireService(service string) error {
	if r.Service != service {
		return mismatch("Credential should be scoped to correct service: '" + service + "'. ")
	}
	return nil
}

// Options tune a Verifier.
type Options struct {
	// Regions lists the regions a credential scope may name. Empty accepts any
	// non-empty region.
	Regions []string
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	creds   Credentials
	regions []string
	now     func() time.Time
	keys    keyCache
}

// NewVerifier returns a verifier that looks keys up in creds.
func NewVerifier(creds Credentials, opts Options) *Verifier {
	v := &Verifier{creds: creds, regions: slices.Clone(opts.Regions), now: opts.Now}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// VerifyRequest reads up to maxBody bytes of the body, puts them back in
// r.Body for the handler and verifies the request. A larger body gives
// ErrBodyTooLarge.
func (v *Verifier) VerifyRequest(r *http.Request, maxBody int64) (*Result, []byte, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("sigv4: reading body: %w", err)
		}
		if int64(len(body)) > maxBody {
			return nil, nil, ErrBodyTooLarge
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	res, err := v.Verify(r, body)
	return res, body, err
}

// signed gathers what the two forms (header, query) have in common.
type signed struct {
	algorithm     string
	credential    string
	signedHeaders string
	signature     string
	amzDate       string // the date as signed, ISO-8601 basic
	token         string
	presigned     bool
	expires       int
}

// Verify checks the signature of r, whose body has already been read into
// body. It returns a *Error for authentication failures and another error
// only when the credential lookup itself fails.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Result, error) {
	now := v.now().UTC()
	query, qerr := parseQuery(r.URL.RawQuery)
	if qerr != nil {
		return nil, incomplete("Invalid query string: " + qerr.Error())
	}
	var s signed
	var err *Error
	var signedAt time.Time
	header := r.Header["Authorization"]
	_, queryForm := queryValue(query, "X-Amz-Algorithm")
	switch {
	case len(header) > 0 && queryForm:
		e := mismatch("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
		e.status = http.StatusBadRequest
		return nil, e
	case queryForm:
		s, signedAt, err = fromQuery(query)
	case len(header) > 0:
		s, signedAt, err = fromHeader(r, header[0])
	default:
		return nil, missingToken()
	}
	if err != nil {
		return nil, err
	}
	if s.algorithm != Algorithm {
		return nil, incomplete("Unsupported AWS 'algorithm': '" + s.algorithm + "' (only " + Algorithm + " for now). ")
	}
	scope, err := parseCredential(s.credential)
	if err != nil {
		return nil, err
	}
	res := &Result{
		AccessKeyID: scope.AccessKeyID,
		Service:     scope.Service,
		Region:      scope.Region,
		SignedAt:    signedAt,
		Presigned:   s.presigned,
	}
	if err := v.checkTime(&s, signedAt, now, res); err != nil {
		return nil, err
	}
	if !hasHost(s.signedHeaders) {
		return nil, mismatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if err := v.checkScope(scope, signedAt, s.amzDate); err != nil {
		return nil, err
	}

	secret, lerr := v.creds.Lookup(r.Context(), scope.AccessKeyID)
	switch {
	case errors.Is(lerr, ErrUnknownAccessKey), errors.Is(lerr, ErrInactiveAccessKey):
		return nil, invalidToken()
	case lerr != nil:
		return nil, fmt.Errorf("sigv4: looking up access key: %w", lerr)
	}
	if !secret.tokenMatches(s.token) {
		return nil, invalidToken()
	}
	if !secret.Expires.IsZero() && !now.Before(secret.Expires) {
		return nil, expiredToken()
	}
	res.Principal = secret.Principal
	res.Temporary = s.token != ""

	p, err := payloadHash(r, query, body, s.presigned)
	if err != nil {
		return nil, err
	}
	res.UnsignedPayload = p.unsigned

	if err := v.checkSignature(r, query, &s, scope, secret.SecretAccessKey, &p); err != nil {
		return nil, err
	}
	return res, nil
}

func fromHeader(r *http.Request, value string) (signed, time.Time, *Error) {
	a, missing, err := parseAuthorization(value)
	if err != nil {
		return signed{}, time.Time{}, err
	}
	amzDate := firstHeader(r.Header, "x-amz-date")
	httpDate := firstHeader(r.Header, "date")
	if amzDate == "" && httpDate == "" {
		missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	if missing != "" {
		return signed{}, time.Time{}, incomplete(missing + "Authorization=" + value)
	}
	s := signed{
		algorithm:     a.Algorithm,
		credential:    a.Credential,
		signedHeaders: a.SignedHeaders,
		signature:     a.Signature,
		token:         firstHeader(r.Header, "x-amz-security-token"),
	}
	var t time.Time
	if amzDate != "" {
		var perr error
		if t, perr = time.Parse(amzDateLayout, amzDate); perr != nil {
			return signed{}, time.Time{}, badDate(amzDate)
		}
		s.amzDate = amzDate
	} else {
		var perr error
		if t, perr = http.ParseTime(httpDate); perr != nil {
			if t, perr = time.Parse(amzDateLayout, httpDate); perr != nil {
				return signed{}, time.Time{}, badDate(httpDate)
			}
		}
		t = t.UTC()
		s.amzDate = t.Format(amzDateLayout)
	}
	return s, t, nil
}

var queryRequired = [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"}

func fromQuery(query []queryPair) (signed, time.Time, *Error) {
	var values [len(queryRequired)]string
	var missing strings.Builder
	for i, key := range queryRequired {
		values[i], _ = queryValue(query, key)
		if values[i] == "" {
			missing.WriteString("AWS query-string parameters must include '" + key + "'. ")
		}
	}
	if missing.Len() > 0 {
		return signed{}, time.Time{}, incomplete(missing.String() + "Re-examine the query-string parameters.")
	}
	s := signed{
		algorithm:     values[0],
		credential:    values[1],
		signature:     values[2],
		signedHeaders: values[3],
		amzDate:       values[4],
		presigned:     true,
	}
	s.token, _ = queryValue(query, "X-Amz-Security-Token")
	t, perr := time.Parse(amzDateLayout, s.amzDate)
	if perr != nil {
		return signed{}, time.Time{}, badDate(s.amzDate)
	}
	if raw, ok := queryValue(query, "X-Amz-Expires"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxPresignExpiry {
			return signed{}, time.Time{}, incomplete(fmt.Sprintf(
				"X-Amz-Expires must be a whole number of seconds from 1 to %d, got '%s'.", MaxPresignExpiry, raw))
		}
		s.expires = n
	}
	return s, t, nil
}

func badDate(got string) *Error {
	return incomplete("Date must be in ISO-8601 'basic format'. Got '" + got + "'. See http://en.wikipedia.org/wiki/ISO_8601")
}

// checkTime applies the 15-minute skew; a presigned URL with X-Amz-Expires
// is instead valid from (signing time - skew) until signing time + expiry.
func (v *Verifier) checkTime(s *signed, signedAt, now time.Time, res *Result) *Error {
	if signedAt.After(now.Add(MaxSkew)) {
		return skewed(signedAt, now, MaxSkew)
	}
	if s.presigned && s.expires > 0 {
		res.ExpiresAt = signedAt.Add(time.Duration(s.expires) * time.Second)
		if now.After(res.ExpiresAt) {
			return requestExpired()
		}
		return nil
	}
	if signedAt.Before(now.Add(-MaxSkew)) {
		return skewed(signedAt, now, MaxSkew)
	}
	if s.presigned {
		res.ExpiresAt = signedAt.Add(MaxSkew)
	}
	return nil
}

func hasHost(signedHeaders string) bool {
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if name == "host" {
			return true
		}
	}
	return false
}

// checkScope compares the credential scope with the request: known region,
// the aws4_request terminator and the same day as the signing time. Like
// AWS, it reports every problem found in one message.
func (v *Verifier) checkScope(scope Scope, signedAt time.Time, amzDate string) *Error {
	var msg strings.Builder
	if scope.Region == "" || (len(v.regions) > 0 && !slices.Contains(v.regions, scope.Region)) {
		msg.WriteString("Credential should be scoped to a valid region, not '" + scope.Region + "'. ")
	}
	if scope.Service == "" {
		msg.WriteString("Credential should be scoped to a valid service, not ''. ")
	}
	if scope.Terminator != terminator {
		msg.WriteString("Credential should be scoped with a valid terminator: '" + terminator + "', not '" + scope.Terminator + "'. ")
	}
	var day [len(scopeDateLayout)]byte
	if scope.Date != string(signedAt.AppendFormat(day[:0], scopeDateLayout)) {
		msg.WriteString("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			scope.Date + "' != '" + signedAt.Format(scopeDateLayout) + "', from '" + amzDate + "'.")
	}
	if msg.Len() > 0 {
		return mismatch(strings.TrimRight(msg.String(), " "))
	}
	return nil
}

// payload is the payload hash as it enters the canonical request.
type payload struct {
	hex      [2 * sha256.Size]byte
	unsigned bool
}

func (p *payload) appendTo(b []byte) []byte {
	if p.unsigned {
		return append(b, unsignedPayload...)
	}
	return append(b, p.hex[:]...)
}

// payloadHash returns the hash the client signed: X-Amz-Content-Sha256 when
// sent (and then it must match the body unless it is UNSIGNED-PAYLOAD), the
// body's SHA-256 otherwise.
func payloadHash(r *http.Request, query []queryPair, body []byte, presigned bool) (payload, *Error) {
	claimed := firstHeader(r.Header, "x-amz-content-sha256")
	if claimed == "" && presigned {
		claimed, _ = queryValue(query, "X-Amz-Content-Sha256")
	}
	var p payload
	switch {
	case claimed == unsignedPayload:
		p.unsigned = true
		return p, nil
	case strings.HasPrefix(claimed, "STREAMING-"):
		return p, incomplete("Streaming (aws-chunked) payload signing is not supported: '" + claimed + "'.")
	}
	sum := sha256.Sum256(body)
	hex.Encode(p.hex[:], sum[:])
	if claimed != "" && claimed != string(p.hex[:]) {
		return p, mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return p, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (v *Verifier) checkSignature(r *http.Request, query []queryPair, s *signed, scope Scope, secret string, p *payload) *Error {
	want, ok := decodeSignature(s.signature)
	if !ok {
		return signatureMismatch("")
	}

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := (*bp)[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL)
	b = append(b, '\n')
	skip := ""
	if s.presigned {
		skip = "X-Amz-Signature"
	}
	b = appendCanonicalQuery(b, query, skip)
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, s.signedHeaders)
	b = append(b, '\n')
	b = append(b, s.signedHeaders...)
	b = append(b, '\n')
	b = p.appendTo(b)
	canonicalLen := len(b)
	requestHash := sha256.Sum256(b)

	// String to sign, built after the canonical request in the same buffer,
	// behind room for the HMAC inner pad.
	b = append(b, make([]byte, sha256.BlockSize)...)
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, s.amzDate...)
	b = append(b, '\n')
	b = append(b, scope.Date...)
	b = append(b, '/')
	b = append(b, scope.Region...)
	b = append(b, '/')
	b = append(b, scope.Service...)
	b = append(b, '/')
	b = append(b, terminator...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, requestHash[:])
	*bp = b

	key := v.keys.get(secret, scope.Date, scope.Region, scope.Service)
	got := hmacSHA256(&key, b[canonicalLen:])
	if !hmac.Equal(got[:], want[:]) {
		return signatureMismatch(string(b[:canonicalLen]))
	}
	return nil
}

// hmacSHA256 is HMAC-SHA256 (RFC 2104) for a 32-byte key, computed without
// allocating. padded holds sha256.BlockSize scratch bytes followed by the
// message; the scratch bytes are overwritten with the inner pad.
func hmacSHA256(key *[sha256.Size]byte, padded []byte) [sha256.Size]byte {
	for i := range sha256.BlockSize {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		padded[i] = k ^ 0x36
	}
	inner := sha256.Sum256(padded)
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		outer[i] = k ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// decodeSignature decodes a 64-digit hex signature.
func decodeSignature(sig string) (out [sha256.Size]byte, ok bool) {
	if len(sig) != 2*sha256.Size {
		return out, false
	}
	for i := range out {
		hi, ok1 := fromHex(sig[2*i])
		lo, ok2 := fromHex(sig[2*i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// equalConstantTime compares two strings in time that depends only on
// their lengths.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff byte
	for i := 0; i < len(a); i++ {
		diff |= a[i] ^ b[i]
	}
	return diff == 0
}

// keyCache holds derived signing keys, which change only with the secret,
// the day, the region and the service.
type keyCache struct {
	mu   sync.RWMutex
	keys map[keyID][sha256.Size]byte
}

type keyID struct{ secret, date, region, service string }

// maxCachedKeys bounds the cache; it is emptied when full.
const maxCachedKeys = 4096

func (c *keyCache) get(secret, date, region, service string) [sha256.Size]byte {
	id := keyID{secret, date, region, service}
	c.mu.RLock()
	key, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return key
	}
	key = deriveKey(secret, date, region, service)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[keyID][sha256.Size]byte)
	}
	// Clone: the strings may point into a request's headers.
	c.keys[keyID{strings.Clone(secret), strings.Clone(date), strings.Clone(region), strings.Clone(service)}] = key
	c.mu.Unlock()
	return key
}

func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k[:], region)
	k = hmacSum(k[:], service)
	return hmacSum(k[:], terminator)
}

func hmacSum(key []byte, data string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	var out [sha256.Size]byte
	mac.Sum(out[:0])
	return out
}

package sigv4

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The canonical request, as SigV4 defines it:
//
//	METHOD \n
//	canonical URI   (the escaped path escaped once more: non-S3 services double-encode) \n
//	canonical query (every name and value URI-encoded, pairs sorted by name then value) \n
//	canonical headers ("name:value\n" per signed header, values trimmed, inner
//	                   space runs collapsed, repeated headers joined by ",") \n
//	signed headers  (the SignedHeaders list as the client sent it) \n
//	payload hash    (hex SHA-256 of the body, or UNSIGNED-PAYLOAD)

// queryPair is one query parameter, decoded and as sent.
type queryPair struct{ key, value, rawKey, rawValue string }

// parseQuery decodes a raw query string, keeping repeated keys and order.
// A '+' decodes to a space, as the AWS SDKs treat it.
func parseQuery(raw string) ([]queryPair, error) {
	if raw == "" {
		return nil, nil
	}
	pairs := make([]queryPair, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, queryPair{key: key, value: value, rawKey: k, rawValue: v})
	}
	return pairs, nil
}

func queryValue(pairs []queryPair, key string) (string, bool) {
	for _, p := range pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// appendCanonicalQuery writes the canonical query string, leaving out
// the parameter named skip (X-Amz-Signature for presigned requests).
func appendCanonicalQuery(b []byte, pairs []queryPair, skip string) []byte {
	if len(pairs) == 0 {
		return b
	}
	encoded := make([]queryPair, 0, len(pairs))
	for _, p := range pairs {
		if p.key == skip {
			continue
		}
		encoded = append(encoded, queryPair{key: canonicalComponent(p.rawKey, p.key), value: canonicalComponent(p.rawValue, p.value)})
	}
	// SigV4 sorts after encoding.
	slices.SortFunc(encoded, func(x, y queryPair) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
	for i, p := range encoded {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.key...)
		b = append(b, '=')
		b = append(b, p.value...)
	}
	return b
}

// canonicalComponent returns the canonical encoding of a query name or
// value: the raw form when the client already sent it canonically (the
// common case, which saves re-encoding), else the decoded form encoded.
func canonicalComponent(raw, decoded string) string {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if unreserved(c, false) {
			continue
		}
		if c != '%' || i+2 >= len(raw) || !upperHex(raw[i+1]) || !upperHex(raw[i+2]) ||
			unreserved(unhex(raw[i+1])<<4|unhex(raw[i+2]), false) {
			return escape(decoded, false)
		}
		i += 2
	}
	return raw
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// appendCanonicalURI writes the already-escaped request path escaped once
// more, which is what every AWS service but S3 signs.
func appendCanonicalURI(b []byte, u *url.URL) []byte {
	path := u.EscapedPath()
	if path == "" {
		return append(b, '/')
	}
	return appendEscaped(b, path, true)
}

// escape URI-encodes s the SigV4 way: everything but A-Z a-z 0-9 - _ . ~
// (and '/' when keepSlash) becomes %XX with upper-case hex.
func escape(s string, keepSlash bool) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i], keepSlash) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, keepSlash))
		}
	}
	return s
}

func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c, keepSlash) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func unreserved(c byte, keepSlash bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	case c == '/':
		return keepSlash
	}
	return false
}

// appendCanonicalHeaders writes "name:value\n" for each name in the
// ';'-separated signedHeaders list, in the order given.
func appendCanonicalHeaders(b []byte, r *http.Request, signedHeaders string) []byte {
	rest := signedHeaders
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case "host":
			b = appendHeaderValue(b, r.Host)
		default:
			values := headerValues(r.Header, name)
			if values == nil && name == "content-length" && r.ContentLength >= 0 {
				b = strconv.AppendInt(b, r.ContentLength, 10)
			}
			for i, v := range values {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendHeaderValue(b, v)
			}
		}
		b = append(b, '\n')
	}
	return b
}

// appendHeaderValue writes v with surrounding white space removed and each
// run of inner spaces collapsed to one.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// headerValues looks a lower-case header name up in h without allocating
// for the usual short names.
func headerValues(h http.Header, lower string) []string {
	var buf [64]byte
	if len(lower) > len(buf) {
		return h[textproto.CanonicalMIMEHeaderKey(lower)]
	}
	upper := true
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(lower)])]
}

func firstHeader(h http.Header, lower string) string {
	if v := headerValues(h, lower); len(v) > 0 {
		return v[0]
	}
	return ""
}

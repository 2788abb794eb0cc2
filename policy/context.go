package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ValueType is the type of a request-context value, as in SimulateCustomPolicy's ContextKeyType.
type ValueType uint8

const (
	TypeString ValueType = iota + 1
	TypeStringList
	TypeNumeric
	TypeNumericList
	TypeBool
	TypeBoolList
	TypeDate
	TypeDateList
	TypeIP
	TypeIPList
	TypeBinary
	TypeBinaryList
)

var valueTypeNames = map[string]ValueType{
	"string": TypeString, "stringlist": TypeStringList, "numeric": TypeNumeric,
	"numericlist": TypeNumericList, "boolean": TypeBool, "booleanlist": TypeBoolList,
	"date": TypeDate, "datelist": TypeDateList, "ip": TypeIP, "iplist": TypeIPList,
	"binary": TypeBinary, "binarylist": TypeBinaryList,
}

// ParseValueType reads a SimulateCustomPolicy ContextKeyType name ("string", "stringList", ...).
func ParseValueType(name string) (ValueType, error) {
	if t, ok := valueTypeNames[strings.ToLower(name)]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("policy: unknown context key type %q", name)
}

// ctxValue is one context value with every typed reading prepared up front, so
// conditions compare without parsing or allocating.
type ctxValue struct {
	s     string
	num   float64
	numOK bool
	t     time.Time
	tOK   bool
	ip    netip.Addr
	bin   []byte
	binOK bool
}

type ctxEntry struct {
	hash   uint64 // foldHash(name)
	lname  string // lower-cased name
	name   string
	typ    ValueType
	values []ctxValue
}

// Context is the request context: condition keys (case-insensitive) with typed values.
// Build it once per request; lookups do not allocate. The zero value is empty.
type Context struct {
	entries []ctxEntry
	index   map[string]int // lower-cased key -> entries index
}

// NewContext returns an empty context.
func NewContext() *Context { return &Context{} }

// Set adds or replaces key with values of type typ. A list type with no values is a key
// that is present with an empty set of values.
func (c *Context) Set(key string, typ ValueType, values ...string) error {
	e := ctxEntry{hash: foldHash(key), lname: strings.ToLower(key), name: key, typ: typ, values: make([]ctxValue, 0, len(values))}
	for _, raw := range values {
		v := ctxValue{s: raw}
		switch typ {
		case TypeIP, TypeIPList:
			a, err := netip.ParseAddr(raw)
			if err != nil {
				return fmt.Errorf("policy: context key %s: %q is not an IP address", key, raw)
			}
			v.ip = a
		case TypeBinary, TypeBinaryList:
			b, err := base64.StdEncoding.DecodeString(raw)
			if err != nil {
				return fmt.Errorf("policy: context key %s: %q is not base64", key, raw)
			}
			v.bin, v.binOK = b, true
		case TypeBool, TypeBoolList:
			if !strings.EqualFold(raw, "true") && !strings.EqualFold(raw, "false") {
				return fmt.Errorf("policy: context key %s: %q is not a boolean", key, raw)
			}
		case TypeNumeric, TypeNumericList:
			if _, err := strconv.ParseFloat(raw, 64); err != nil {
				return fmt.Errorf("policy: context key %s: %q is not numeric", key, raw)
			}
		case TypeDate, TypeDateList:
			if _, ok := parseDate(raw); !ok {
				return fmt.Errorf("policy: context key %s: %q is not a date", key, raw)
			}
		}
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			v.num, v.numOK = f, true
		}
		v.t, v.tOK = parseDate(raw)
		if !v.ip.IsValid() {
			if a, err := netip.ParseAddr(raw); err == nil {
				v.ip = a
			}
		}
		e.values = append(e.values, v)
	}
	lk := strings.ToLower(key)
	if c.index == nil {
		c.index = make(map[string]int)
	}
	if i, ok := c.index[lk]; ok {
		c.entries[i] = e
		return nil
	}
	c.index[lk] = len(c.entries)
	c.entries = append(c.entries, e)
	return nil
}

// MustSet is Set for values known to be well-formed; it panics on a malformed value.
func (c *Context) MustSet(key string, typ ValueType, values ...string) *Context {
	if err := c.Set(key, typ, values...); err != nil {
		panic(err)
	}
	return c
}

// Lookup returns the raw values of key (any case) and whether the key is present.
func (c *Context) Lookup(key string) ([]string, bool) {
	e := c.lookup(strings.ToLower(key), foldHash(key))
	if e == nil {
		return nil, false
	}
	out := make([]string, len(e.values))
	for i, v := range e.values {
		out[i] = v.s
	}
	return out, true
}

// lookup takes an already lower-cased key and its foldHash. Small contexts are scanned
// by hash, which is faster than hashing the key again for a map.
func (c *Context) lookup(lowerKey string, hash uint64) *ctxEntry {
	if c == nil || c.index == nil {
		return nil
	}
	if len(c.entries) <= 32 {
		for i := range c.entries {
			if e := &c.entries[i]; e.hash == hash && e.lname == lowerKey {
				return e
			}
		}
		return nil
	}
	if i, ok := c.index[lowerKey]; ok {
		return &c.entries[i]
	}
	return nil
}

// single is the value of a policy variable: only a key with exactly one value resolves.
func (c *Context) single(lowerKey string, hash uint64) (string, bool) {
	e := c.lookup(lowerKey, hash)
	if e == nil || len(e.values) != 1 || isListType(e.typ) {
		return "", false
	}
	return e.values[0].s, true
}

func isListType(t ValueType) bool {
	switch t {
	case TypeStringList, TypeNumericList, TypeBoolList, TypeDateList, TypeIPList, TypeBinaryList:
		return true
	}
	return false
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02T15",
	"2006-01-02",
	"2006-01",
}

// parseDate reads W3C ISO 8601 dates and epoch seconds, as AWS's Date operators do.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	if strings.ContainsAny(s, "tz") {
		s = strings.ToUpper(s)
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

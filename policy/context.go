package policy

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// ctxValue is one context value with its typed readings prepared when it is set, so
// conditions compare without parsing or allocating. A value is read as its declared type
// and, since condition operators may read any key as their own type (NumericLessThan on a
// principal tag), as a number, a date and an IP address where it can be one; the cheap
// checks in mayBe* skip the parsers for strings that cannot be.
type ctxValue struct {
	s    string
	num  float64 // the number, when has&hasNum
	sec  int64   // the date as Unix seconds and nanoseconds, when has&hasDate
	nsec int32
	has  uint8
	typ  ValueType  // the declared type; the readings depend on s and typ only
	ip   netip.Addr // the address, when valid
	bin  string     // the decoded bytes of a binary value, when has&hasBin
}

// Readings a ctxValue has.
const (
	hasNum uint8 = 1 << iota
	hasDate
	hasBin
)

func (v *ctxValue) setDate(t time.Time) {
	v.sec, v.nsec, v.has = t.Unix(), int32(t.Nanosecond()), v.has|hasDate
}

// compareDate orders the value's date against t; the value must have one.
func (v *ctxValue) compareDate(t time.Time) int {
	if c := cmp.Compare(v.sec, t.Unix()); c != 0 {
		return c
	}
	return cmp.Compare(v.nsec, int32(t.Nanosecond()))
}

type ctxEntry struct {
	hash   uint64 // foldHash of the key
	key    string // the key as set; lower-cased when it is not ASCII (folded)
	folded bool
	typ    ValueType
	first  int32 // the values are Context.values[first : first+n]
	n      int32
}

// is reports whether the entry is for key, given lower-cased as lowerKey and as written
// (in the policy) as key, with hash foldHash(key). A key written as it was set compares
// at once.
func (e *ctxEntry) is(lowerKey, key string, hash uint64) bool {
	if e.hash != hash {
		return false
	}
	if e.folded {
		return e.key == lowerKey
	}
	return e.key == key || asciiLowerEqual(e.key, lowerKey)
}

// hashSlot is one entry of a large context's index, sorted by hash.
type hashSlot struct {
	hash uint64
	i    int32
}

// indexFrom is the size above which lookups use the sorted index instead of a scan.
const indexFrom = 32

// Context is the request context: condition keys (case-insensitive) with typed values.
// Lookups do not allocate, and a context is safe for concurrent readers once built.
//
// Contexts that share keys (a caller's, for each of its requests) are cheap to build as
// layers: set the shared keys once in a base context, then per request take
// base.Layer() and set only the request's keys. Reset empties a context for reuse.
// The zero value is empty.
type Context struct {
	base    *Context // keys not set in this context are looked up in base
	entries []ctxEntry
	values  []ctxValue
	index   []hashSlot // by hash, kept once there are more than indexFrom entries
}

// NewContext returns an empty context.
func NewContext() *Context { return &Context{} }

// layerRoom is how many keys and values a layer holds before it allocates again: the
// request keys of a registry or API request.
const layerRoom = 12

// layer is a Context with room for its first keys, in one allocation.
type layer struct {
	Context
	entryRoom [layerRoom]ctxEntry
	valueRoom [layerRoom]ctxValue
}

// Layer returns an empty context on top of c: it holds every key of c, and a key set in
// the layer hides the same key of c. c must not change while its layers are in use; any
// number of layers, in any number of goroutines, may share it. A layer with up to 12
// single-valued keys costs one allocation.
func (c *Context) Layer() *Context {
	l := &layer{}
	l.Context = Context{base: c, entries: l.entryRoom[:0], values: l.valueRoom[:0]}
	return &l.Context
}

// Reset removes every key set in c (the keys of the context it is a layer on remain),
// keeping the storage for reuse: a value set again at the same place, with the same type,
// is not parsed again (a request context built in the same order as the last one mostly
// repeats its values).
func (c *Context) Reset() {
	c.entries, c.values, c.index = c.entries[:0], c.values[:0], c.index[:0]
}

// Set adds or replaces key with values of type typ. A list type with no values is a key
// that is present with an empty set of values.
func (c *Context) Set(key string, typ ValueType, values ...string) error {
	first := len(c.values)
	for _, raw := range values {
		if at := len(c.values); at < cap(c.values) {
			if old := &c.values[:at+1][at]; old.typ == typ && old.s == raw {
				c.values = c.values[:at+1] // left by the context's last use, before Reset
				continue
			}
		}
		v, err := newCtxValue(key, typ, raw)
		if err != nil {
			clear(c.values[first:])
			c.values = c.values[:first]
			return err
		}
		c.values = append(c.values, v)
	}
	hash, ascii, upper := scanKey(key)
	e := ctxEntry{hash: hash, key: key, typ: typ, first: int32(first), n: int32(len(values))}
	if !ascii {
		e.key, e.folded = strings.ToLower(key), true
	}
	lower := e.key
	if ascii && upper {
		lower = "" // compared by asciiEqualFold below
	}
	if i := c.own(lower, e.key, e.hash); i >= 0 {
		c.entries[i] = e // the old values stay behind, unreferenced, until Reset
		return nil
	}
	c.entries = append(c.entries, e)
	if len(c.entries) > indexFrom {
		if len(c.index) < len(c.entries)-1 {
			c.index = c.index[:0]
			for i := range c.entries[:len(c.entries)-1] {
				c.index = append(c.index, hashSlot{c.entries[i].hash, int32(i)})
			}
			slices.SortFunc(c.index, func(a, b hashSlot) int { return cmp.Compare(a.hash, b.hash) })
		}
		at := c.firstSlot(e.hash)
		c.index = slices.Insert(c.index, at, hashSlot{e.hash, int32(len(c.entries) - 1)})
	}
	return nil
}

// newCtxValue checks raw against the declared type and prepares its typed readings.
func newCtxValue(key string, typ ValueType, raw string) (ctxValue, error) {
	v := ctxValue{s: raw, typ: typ}
	switch typ {
	case TypeIP, TypeIPList:
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return v, fmt.Errorf("policy: context key %s: %q is not an IP address", key, raw)
		}
		v.ip = a
	case TypeBinary, TypeBinaryList:
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return v, fmt.Errorf("policy: context key %s: %q is not base64", key, raw)
		}
		v.bin, v.has = string(b), hasBin
	case TypeBool, TypeBoolList:
		if !strings.EqualFold(raw, "true") && !strings.EqualFold(raw, "false") {
			return v, fmt.Errorf("policy: context key %s: %q is not a boolean", key, raw)
		}
		return v, nil // "true" and "false" are no number, date or address
	case TypeNumeric, TypeNumericList:
		if n, ok := smallNumber(raw); ok {
			v.num, v.has = float64(n), hasNum
			break
		}
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return v, fmt.Errorf("policy: context key %s: %q is not numeric", key, raw)
		}
		v.num, v.has = f, hasNum
	case TypeDate, TypeDateList:
		t, ok := parseDate(raw)
		if !ok {
			return v, fmt.Errorf("policy: context key %s: %q is not a date", key, raw)
		}
		v.setDate(t)
	}
	if n, ok := smallNumber(raw); ok {
		// Digits read as a number and as epoch seconds, and never as an address.
		v.num, v.sec, v.nsec, v.has = float64(n), n, 0, v.has|hasNum|hasDate
		return v, nil
	}
	if v.has&hasNum == 0 && mayBeFloat(raw) {
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			v.num, v.has = f, v.has|hasNum
		}
	}
	if v.has&hasDate == 0 && mayBeDate(raw) {
		if t, ok := parseDate(raw); ok {
			v.setDate(t)
		}
	}
	if !v.ip.IsValid() && mayBeIP(raw) {
		if a, err := netip.ParseAddr(raw); err == nil {
			v.ip = a
		}
	}
	return v, nil
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
	vals, ok := c.lookup(strings.ToLower(key), key, foldHash(key))
	if !ok {
		return nil, false
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.s
	}
	return out, true
}

// own returns the index of this context's entry for a key, or -1. lowerKey is the key
// lower-cased, or "" when only key (an ASCII key in any case) is at hand.
func (c *Context) own(lowerKey, key string, hash uint64) int {
	match := func(e *ctxEntry) bool {
		if lowerKey != "" {
			return e.is(lowerKey, key, hash)
		}
		return e.hash == hash && !e.folded && asciiEqualFold(e.key, key)
	}
	if len(c.entries) <= indexFrom {
		for i := range c.entries {
			if c.entries[i].hash == hash && match(&c.entries[i]) {
				return i
			}
		}
		return -1
	}
	for at := c.firstSlot(hash); at < len(c.index) && c.index[at].hash == hash; at++ {
		if i := int(c.index[at].i); match(&c.entries[i]) {
			return i
		}
	}
	return -1
}

// firstSlot is the position of the first index slot with hash, or where it would go.
func (c *Context) firstSlot(hash uint64) int {
	at, _ := slices.BinarySearchFunc(c.index, hash, func(s hashSlot, h uint64) int { return cmp.Compare(s.hash, h) })
	return at
}

// find returns the entry for a key (lower-cased, as written, and its foldHash), in c or
// the contexts under it, and the context that holds it.
func (c *Context) find(lowerKey, key string, hash uint64) (*Context, *ctxEntry) {
	for ; c != nil; c = c.base {
		if len(c.entries) <= indexFrom {
			for i := range c.entries {
				if e := &c.entries[i]; e.hash == hash && e.is(lowerKey, key, hash) {
					return c, e
				}
			}
			continue
		}
		for at := c.firstSlot(hash); at < len(c.index) && c.index[at].hash == hash; at++ {
			if e := &c.entries[c.index[at].i]; e.is(lowerKey, key, hash) {
				return c, e
			}
		}
	}
	return nil, nil
}

// lookup takes a key lower-cased, as written, and its foldHash, and returns the key's
// values.
func (c *Context) lookup(lowerKey, key string, hash uint64) ([]ctxValue, bool) {
	in, e := c.find(lowerKey, key, hash)
	if e == nil {
		return nil, false
	}
	return in.values[e.first : e.first+e.n : e.first+e.n], true
}

// single is the value of a policy variable: only a key with exactly one value resolves.
func (c *Context) single(lowerKey, key string, hash uint64) (string, bool) {
	in, e := c.find(lowerKey, key, hash)
	if e == nil || e.n != 1 || isListType(e.typ) {
		return "", false
	}
	return in.values[e.first].s, true
}

// asciiEqualFold is strings.EqualFold for ASCII strings.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// asciiLowerEqual reports whether strings.ToLower(name) == lower for an ASCII name.
func asciiLowerEqual(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// scanKey hashes key with ASCII letters folded to lower case, eight bytes at a time,
// and reports whether key is ASCII and has upper-case letters.
func scanKey(key string) (hash uint64, ascii, upper bool) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		prime = 1099511628211
	)
	hash = 14695981039346656037
	var ups, nonASCII uint64
	s := key
	for ; len(s) >= 8; s = s[8:] {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		low := x &^ highs // each byte's low seven bits: adding below cannot carry across bytes
		up := (low + (0x80-'A')*ones) &^ (low + (0x80-'Z'-1)*ones) &^ x & highs
		ups |= up
		nonASCII |= x & highs
		hash = (hash ^ (x | up>>2)) * prime
	}
	for i := 0; i < len(s); i++ {
		c := uint64(s[i])
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			ups = 1
		}
		nonASCII |= c & 0x80
		hash = (hash ^ c) * prime
	}
	return hash, nonASCII == 0, ups != 0
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
// The layout the string's shape suggests is tried first: a successful parse does not
// allocate, and every layout that accepts a string reads the same instant from it.
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
	likely := time.RFC3339Nano
	switch len(s) {
	case len("2006-01"):
		likely = "2006-01"
	case len("2006-01-02"):
		likely = "2006-01-02"
	case len("2006-01-02T15"):
		likely = "2006-01-02T15"
	case len("2006-01-02T15:04"):
		likely = "2006-01-02T15:04"
	}
	if t, err := time.Parse(likely, s); err == nil {
		return t, true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// mayBeDate is false for strings parseDate cannot read: neither all digits nor
// starting with a four-digit year and '-'.
func mayBeDate(s string) bool {
	return isDigits(s) || (len(s) >= len("2006-01") && isDigits(s[:4]) && s[4] == '-')
}

// mayBeFloat is false for strings strconv.ParseFloat cannot read: it checks the
// characters and their order loosely (sign, then digits with one '.', an exponent, or a
// hexadecimal mantissa after 0x; or inf, infinity, nan).
func mayBeFloat(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	if c := s[0] | 0x20; c == 'i' || c == 'n' {
		return strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") || strings.EqualFold(s, "nan")
	}
	hex := len(s) > 1 && s[0] == '0' && s[1]|0x20 == 'x'
	if hex {
		s = s[2:]
	} else if s[0] != '.' && (s[0] < '0' || s[0] > '9') {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		lc := c | 0x20
		switch {
		case '0' <= c && c <= '9', c == '_':
		case c == '.':
			if dots++; dots > 1 {
				return false
			}
		case c == '+' || c == '-':
			if i == 0 || (s[i-1]|0x20 != 'e' && s[i-1]|0x20 != 'p') {
				return false
			}
		case hex && ('a' <= lc && lc <= 'f' || lc == 'p'):
		case !hex && lc == 'e':
		default:
			return false
		}
	}
	return true
}

// mayBeIP is false for strings netip.ParseAddr cannot read: an IPv4 address is digits
// and three dots; an IPv6 address is hexadecimal digits, colons and dots, then an
// optional zone after '%'.
func mayBeIP(s string) bool {
	sep := 0
	for sep < len(s) && s[sep] != '.' && s[sep] != ':' {
		sep++
	}
	if sep == len(s) {
		return false
	}
	if s[sep] == '.' {
		dots := 0
		for i := 0; i < len(s); i++ {
			if s[i] == '.' {
				dots++
			} else if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return dots == 3
	}
	if zone := strings.IndexByte(s, '%'); zone >= 0 {
		s = s[:zone]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lc := c | 0x20; !('0' <= c && c <= '9' || 'a' <= lc && lc <= 'f' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// smallNumber reads a string of at most 15 decimal digits, which strconv.ParseFloat and
// ParseInt read as exactly this number.
func smallNumber(s string) (int64, bool) {
	if s == "" || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

package policy

import (
	"encoding/base64"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	famString family = iota + 1
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

type compare uint8

const (
	cmpEq compare = iota
	cmpLike
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

type operator struct {
	fam     family
	cmp     compare
	fold    bool
	negated bool
}

var operators = map[string]operator{
	"StringEquals":              {fam: famString},
	"StringNotEquals":           {fam: famString, negated: true},
	"StringEqualsIgnoreCase":    {fam: famString, fold: true},
	"StringNotEqualsIgnoreCase": {fam: famString, fold: true, negated: true},
	"StringLike":                {fam: famString, cmp: cmpLike},
	"StringNotLike":             {fam: famString, cmp: cmpLike, negated: true},
	"NumericEquals":             {fam: famNumeric},
	"NumericNotEquals":          {fam: famNumeric, negated: true},
	"NumericLessThan":           {fam: famNumeric, cmp: cmpLT},
	"NumericLessThanEquals":     {fam: famNumeric, cmp: cmpLE},
	"NumericGreaterThan":        {fam: famNumeric, cmp: cmpGT},
	"NumericGreaterThanEquals":  {fam: famNumeric, cmp: cmpGE},
	"DateEquals":                {fam: famDate},
	"DateNotEquals":             {fam: famDate, negated: true},
	"DateLessThan":              {fam: famDate, cmp: cmpLT},
	"DateLessThanEquals":        {fam: famDate, cmp: cmpLE},
	"DateGreaterThan":           {fam: famDate, cmp: cmpGT},
	"DateGreaterThanEquals":     {fam: famDate, cmp: cmpGE},
	"Bool":                      {fam: famBool},
	"BinaryEquals":              {fam: famBinary},
	"IpAddress":                 {fam: famIP},
	"NotIpAddress":              {fam: famIP, negated: true},
	"ArnEquals":                 {fam: famARN},
	"ArnLike":                   {fam: famARN, cmp: cmpLike},
	"ArnNotEquals":              {fam: famARN, negated: true},
	"ArnNotLike":                {fam: famARN, cmp: cmpLike, negated: true},
	"Null":                      {fam: famNull},
}

type qualifier uint8

const (
	qualNone qualifier = iota
	qualForAll
	qualForAny
)

// condValue is one policy value as written (for re-serialization) and compiled.
type condValue struct {
	raw  string
	kind byte // 's' string, 'n' number, 'b' bool
	str  pattern
	arn  arnPattern
	num  float64
	t    time.Time
	ok   bool // the value parsed for its operator family
	ip   netip.Prefix
	bin  []byte
	null bool
}

// condition is one (operator, key, values) entry of a Condition block.
type condition struct {
	opName   string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	key      string // as written
	lkey     string // lower-cased for lookup
	hash     uint64 // foldHash(key)
	op       operator
	qual     qualifier
	ifExists bool
	single   bool // the values were written as a scalar, not a list
	values   []condValue
}

// parseOperator splits "ForAllValues:StringEqualsIfExists" into its parts.
func parseOperator(name string) (operator, qualifier, bool, bool) {
	q := qualNone
	base := name
	switch {
	case strings.HasPrefix(base, "ForAllValues:"):
		q, base = qualForAll, base[len("ForAllValues:"):]
	case strings.HasPrefix(base, "ForAnyValue:"):
		q, base = qualForAny, base[len("ForAnyValue:"):]
	}
	ifExists := false
	if strings.HasSuffix(base, "IfExists") && base != "IfExists" {
		ifExists, base = true, strings.TrimSuffix(base, "IfExists")
	}
	op, ok := operators[base]
	if !ok || (ifExists && op.fam == famNull) {
		return operator{}, 0, false, false
	}
	return op, q, ifExists, true
}

func compileCondValue(op operator, raw string, kind byte, vars bool) (condValue, error) {
	v := condValue{raw: raw, kind: kind, ok: true}
	switch op.fam {
	case famString:
		v.str = compilePattern(raw, op.cmp == cmpLike, vars)
	case famBool:
		v.str = compilePattern(raw, false, vars)
	case famARN:
		v.arn = compileARNPattern(raw, true, vars)
	case famNumeric:
		f, err := strconv.ParseFloat(raw, 64)
		v.num, v.ok = f, err == nil && !math.IsNaN(f)
	case famDate:
		t, ok := parseDate(raw)
		if !ok {
			return v, malformed("The policy failed legacy parsing")
		}
		v.t = t
	case famIP:
		if p, err := netip.ParsePrefix(raw); err == nil {
			v.ip = p.Masked()
		} else if a, err := netip.ParseAddr(raw); err == nil {
			v.ip = netip.PrefixFrom(a, a.BitLen())
		} else {
			v.ok = false
		}
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(raw)
		v.bin, v.ok = b, err == nil
	case famNull:
		v.null = strings.EqualFold(raw, "true")
		v.ok = v.null || strings.EqualFold(raw, "false")
	}
	return v, nil
}

// eval decides the condition against the request context.
func (c *condition) eval(ctx *Context) bool {
	vals, _ := ctx.lookup(c.lkey, c.key, c.hash)
	if c.op.fam == famNull {
		absent := len(vals) == 0
		for i := range c.values {
			if c.values[i].ok && c.values[i].null == absent {
				return true
			}
		}
		return false
	}
	empty := len(vals) == 0
	switch c.qual {
	case qualForAll:
		if empty {
			return true
		}
		for i := range vals {
			m := c.matchAny(&vals[i], ctx)
			if c.op.negated {
				m = !m
			}
			if !m {
				return false
			}
		}
		return true
	case qualForAny:
		if empty {
			return c.ifExists
		}
		for i := range vals {
			m := c.matchAny(&vals[i], ctx)
			if c.op.negated {
				m = !m
			}
			if m {
				return true
			}
		}
		return false
	}
	if empty {
		return c.ifExists || c.op.negated
	}
	for i := range vals {
		if c.matchAny(&vals[i], ctx) {
			return !c.op.negated
		}
	}
	return c.op.negated
}

// matchAny reports whether the context value equals (or is like, or compares to) any
// policy value under the positive form of the operator. A policy value whose variable
// has no value matches nothing, so negated operators treat it as "different".
func (c *condition) matchAny(v *ctxValue, ctx *Context) bool {
	for i := range c.values {
		pv := &c.values[i]
		if !pv.ok {
			continue
		}
		if c.matchOne(pv, v, ctx) {
			return true
		}
	}
	return false
}

func (c *condition) matchOne(pv *condValue, v *ctxValue, ctx *Context) bool {
	switch c.op.fam {
	case famString:
		m, _ := pv.str.match(v.s, ctx, c.op.fold)
		return m
	case famBool:
		if pv.str.literal {
			return strings.EqualFold(pv.str.lit, v.s)
		}
		m, _ := pv.str.match(v.s, ctx, true)
		return m
	case famARN:
		m, _ := pv.arn.match(v.s, ctx)
		return m
	case famNumeric:
		return v.has&hasNum != 0 && ordered(c.op.cmp, cmpFloat(v.num, pv.num))
	case famDate:
		if v.has&hasDate == 0 {
			return false
		}
		return ordered(c.op.cmp, v.compareDate(pv.t))
	case famIP:
		return v.ip.IsValid() && pv.ip.Contains(v.ip)
	case famBinary:
		if v.has&hasBin != 0 {
			return v.bin == string(pv.bin)
		}
		return v.s == pv.raw
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ordered applies a comparison to the sign of (request value - policy value).
func ordered(c compare, sign int) bool {
	switch c {
	case cmpLT:
		return sign < 0
	case cmpLE:
		return sign <= 0
	case cmpGT:
		return sign > 0
	case cmpGE:
		return sign >= 0
	}
	return sign == 0
}

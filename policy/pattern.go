package policy

import (
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokLit  tokKind = iota // literal text
	tokStar                // '*': any run of characters
	tokOne                 // '?': exactly one character
	tokVar                 // ${key} or ${key, 'default'}
)

type token struct {
	kind   tokKind
	text   string // literal text, or the lower-cased variable key
	name   string // variable key as written
	hash   uint64 // foldHash of the variable key
	def    string // default value of a variable
	hasDef bool
}

// pattern is a compiled string that may hold wildcards and policy variables.
type pattern struct {
	toks    []token
	literal bool // a single literal (or empty): compare directly
	prefix  bool // a literal followed by one '*': compare the prefix
	lit     string
}

// compilePattern splits s into tokens. With wild, '*' and '?' are wildcards; with vars,
// ${...} is a policy variable ("${*}", "${?}" and "${$}" are the escaped literal characters).
func compilePattern(s string, wild, vars bool) pattern {
	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{kind: tokLit, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				lit.WriteByte(c)
				i++
				continue
			}
			body := s[i+2 : i+2+end]
			i += end + 3
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				continue
			}
			flush()
			t := token{kind: tokVar}
			if comma := strings.IndexByte(body, ','); comma >= 0 {
				d := strings.TrimSpace(body[comma+1:])
				if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
					t.def, t.hasDef = d[1:len(d)-1], true
				}
				body = body[:comma]
			}
			t.name = strings.TrimSpace(body)
			t.text = strings.ToLower(t.name)
			t.hash = foldHash(t.name)
			toks = append(toks, t)
		case wild && c == '*':
			flush()
			if n := len(toks); n == 0 || toks[n-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
			i++
		case wild && c == '?':
			flush()
			toks = append(toks, token{kind: tokOne})
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	p := pattern{toks: toks}
	switch {
	case len(toks) == 0:
		p.literal = true
	case len(toks) == 1 && toks[0].kind == tokLit:
		p.literal, p.lit = true, toks[0].text
	case len(toks) == 2 && toks[0].kind == tokLit && toks[1].kind == tokStar:
		p.prefix, p.lit = true, toks[0].text
	}
	return p
}

func (p *pattern) hasVars() bool {
	for _, t := range p.toks {
		if t.kind == tokVar {
			return true
		}
	}
	return false
}

// resolve gives a variable's value: the context's single value, else its default.
func (t *token) resolve(ctx *Context) (string, bool) {
	if v, ok := ctx.single(t.text, t.name, t.hash); ok {
		return v, true
	}
	if t.hasDef {
		return t.def, true
	}
	return "", false
}

// match reports whether v matches the pattern; resolved is false when a variable had no
// value, in which case the pattern matches nothing.
func (p *pattern) match(v string, ctx *Context, fold bool) (matched, resolved bool) {
	if p.literal {
		if fold {
			return strings.EqualFold(p.lit, v), true
		}
		return p.lit == v, true
	}
	if p.prefix {
		return hasPrefix(v, p.lit, fold), true
	}
	ti, vi := 0, 0
	starT, starV := -1, 0
	for {
		if ti < len(p.toks) {
			t := &p.toks[ti]
			switch t.kind {
			case tokStar:
				starT, starV = ti, vi
				ti++
				continue
			case tokOne:
				if vi < len(v) {
					_, n := utf8.DecodeRuneInString(v[vi:])
					ti++
					vi += n
					continue
				}
			default:
				s := t.text
				if t.kind == tokVar {
					r, ok := t.resolve(ctx)
					if !ok {
						return false, false
					}
					s = r
				}
				if hasPrefix(v[vi:], s, fold) {
					ti++
					vi += len(s)
					continue
				}
			}
		} else if vi == len(v) {
			return true, true
		}
		if starT < 0 || starV >= len(v) {
			return false, true
		}
		_, n := utf8.DecodeRuneInString(v[starV:])
		starV += n
		ti, vi = starT+1, starV
	}
}

func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if fold {
		return strings.EqualFold(s[:len(prefix)], prefix)
	}
	return s[:len(prefix)] == prefix
}

// arnPattern matches ARNs segment by segment: wildcards in the partition, service,
// region and account segments stay inside their segment, except that a pattern with
// fewer than six segments lets its last segment run over the remaining colons.
type arnPattern struct {
	whole pattern   // used when the pattern holds no colon (e.g. "*")
	segs  []pattern // up to six segments, the last one holding the rest
}

func compileARNPattern(s string, wild, vars bool) arnPattern {
	// Split on literal colons only: a variable such as ${aws:username} holds one.
	var segs []string
	start, depth := 0, 0
	for i := 0; i < len(s) && len(segs) < 5; i++ {
		switch {
		case vars && s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
		case depth > 0 && s[i] == '}':
			depth--
		case depth == 0 && s[i] == ':':
			segs = append(segs, s[start:i])
			start = i + 1
		}
	}
	if len(segs) == 0 {
		return arnPattern{whole: compilePattern(s, wild, vars)}
	}
	segs = append(segs, s[start:])
	ap := arnPattern{segs: make([]pattern, len(segs))}
	for i, seg := range segs {
		ap.segs[i] = compilePattern(seg, wild, vars)
	}
	return ap
}

func (a *arnPattern) hasVars() bool {
	if a.segs == nil {
		return a.whole.hasVars()
	}
	for i := range a.segs {
		if a.segs[i].hasVars() {
			return true
		}
	}
	return false
}

// match compares v with the pattern; resolved is false when a variable had no value.
func (a *arnPattern) match(v string, ctx *Context) (matched, resolved bool) {
	if a.segs == nil {
		return a.whole.match(v, ctx, false)
	}
	rest := v
	last := len(a.segs) - 1
	for i := 0; i < last; i++ {
		c := strings.IndexByte(rest, ':')
		if c < 0 {
			return false, true
		}
		m, ok := a.segs[i].match(rest[:c], ctx, false)
		if !ok {
			return false, false
		}
		if !m {
			return false, true
		}
		rest = rest[c+1:]
	}
	return a.segs[last].match(rest, ctx, false)
}

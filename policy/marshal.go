package policy

import (
	"bytes"
	"encoding/json"
)

// MarshalJSON re-serializes the policy in a compact canonical form that parses back to a
// policy deciding every request alike (element order: Version, Id, Statement; in each
// statement Sid, Effect, Principal, Action, Resource, Condition).
func (p *Policy) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(&b, name)
		b.WriteByte(':')
	}
	if p.hasVersion {
		field("Version")
		writeString(&b, p.version)
	}
	if p.hasID {
		field("Id")
		writeString(&b, p.id)
	}
	field("Statement")
	if p.stmtList {
		b.WriteByte('[')
	}
	for i := range p.stmts {
		if i > 0 {
			b.WriteByte(',')
		}
		p.stmts[i].marshal(&b)
	}
	if p.stmtList {
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (st *Statement) marshal(b *bytes.Buffer) {
	b.WriteByte('{')
	if st.hasSid {
		b.WriteString(`"Sid":`)
		writeString(b, st.Sid)
		b.WriteByte(',')
	}
	b.WriteString(`"Effect":`)
	writeString(b, st.Effect.String())
	if st.principal != nil {
		if st.notPrincipal {
			b.WriteString(`,"NotPrincipal":`)
		} else {
			b.WriteString(`,"Principal":`)
		}
		if st.principal.star {
			b.WriteString(`"*"`)
		} else {
			b.WriteByte('{')
			for i, block := range st.principal.blocks {
				if i > 0 {
					b.WriteByte(',')
				}
				writeString(b, block)
				b.WriteByte(':')
				writeStrings(b, st.principal.values[i], st.principal.singles[i])
			}
			b.WriteByte('}')
		}
	}
	if st.notAction {
		b.WriteString(`,"NotAction":`)
	} else {
		b.WriteString(`,"Action":`)
	}
	writeStrings(b, st.actionSrc, st.actionSingle)
	if st.hasResource {
		if st.notResource {
			b.WriteString(`,"NotResource":`)
		} else {
			b.WriteString(`,"Resource":`)
		}
		writeStrings(b, st.resourceSrc, st.resourceSingle)
	}
	if len(st.conds) > 0 {
		b.WriteString(`,"Condition":{`)
		done := make([]bool, len(st.conds))
		for i := range st.conds {
			if done[i] {
				continue
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, st.conds[i].opName)
			b.WriteString(":{")
			n := 0
			for j := i; j < len(st.conds); j++ {
				c := &st.conds[j]
				if done[j] || c.opName != st.conds[i].opName {
					continue
				}
				done[j] = true
				if n > 0 {
					b.WriteByte(',')
				}
				n++
				writeString(b, c.key)
				b.WriteByte(':')
				if !c.single {
					b.WriteByte('[')
				}
				for k, v := range c.values {
					if k > 0 {
						b.WriteByte(',')
					}
					if v.kind == 's' {
						writeString(b, v.raw)
					} else {
						b.WriteString(v.raw)
					}
				}
				if !c.single {
					b.WriteByte(']')
				}
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
}

func writeStrings(b *bytes.Buffer, vals []string, single bool) {
	if single && len(vals) == 1 {
		writeString(b, vals[0])
		return
	}
	b.WriteByte('[')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, v)
	}
	b.WriteByte(']')
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

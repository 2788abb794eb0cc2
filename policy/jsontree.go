package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// jnode is one JSON value with the byte span it came from, so statements can be
// reported by position and duplicate keys rejected (encoding/json keeps the last one).
type jnode struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str   string
	b     bool
	keys  []string
	vals  []*jnode // object values, parallel to keys
	elems []*jnode // array elements
	start int
	end   int
}

var errSyntax = errors.New("syntax")

func (n *jnode) get(key string) *jnode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func decodeTree(doc []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, errSyntax
	}
	n, err := readValue(dec, tok, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errSyntax
	}
	return n, nil
}

func readValue(dec *json.Decoder, tok json.Token, depth int) (*jnode, error) {
	if depth > 32 {
		return nil, errSyntax
	}
	end := int(dec.InputOffset())
	switch t := tok.(type) {
	case json.Delim:
		n := &jnode{start: end - 1}
		switch t {
		case '{':
			n.kind = 'o'
			for {
				kt, err := dec.Token()
				if err != nil {
					return nil, errSyntax
				}
				if d, ok := kt.(json.Delim); ok && d == '}' {
					break
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errSyntax
				}
				for _, k := range n.keys {
					if k == key {
						return nil, errSyntax
					}
				}
				vt, err := dec.Token()
				if err != nil {
					return nil, errSyntax
				}
				v, err := readValue(dec, vt, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, v)
			}
		case '[':
			n.kind = 'a'
			for {
				vt, err := dec.Token()
				if err != nil {
					return nil, errSyntax
				}
				if d, ok := vt.(json.Delim); ok && d == ']' {
					break
				}
				v, err := readValue(dec, vt, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, errSyntax
		}
		n.end = int(dec.InputOffset())
		return n, nil
	case string:
		return &jnode{kind: 's', str: t, end: end}, nil
	case json.Number:
		return &jnode{kind: 'n', str: string(t), end: end}, nil
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		return &jnode{kind: 'b', b: t, str: s, end: end}, nil
	case nil:
		return &jnode{kind: 'z', end: end}, nil
	}
	return nil, errSyntax
}

// Position is a 1-based line and column in a policy document.
type Position struct {
	Line   int
	Column int
}

func positionOf(doc string, offset int) Position {
	line, col := 1, 1
	for i := 0; i < offset && i < len(doc); i++ {
		if doc[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return Position{Line: line, Column: col}
}

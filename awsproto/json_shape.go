package awsproto

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
)

// jsonShapeWriter is a smithy.ShapeSerializer that writes AWS JSON 1.1: the SDK's output
// types (ECR, Organizations) describe themselves to it through their Serialize methods, so
// member names and shapes come from the service model itself. Timestamps are epoch seconds,
// blobs base64.
type jsonShapeWriter struct {
	buf   []byte
	stack []jsonFrame
}

type jsonFrame struct {
	object bool // members get their names written before them
	keyed  bool // the next value's key was already written (maps, unions)
	n      int
}

var _ smithy.ShapeSerializer = (*jsonShapeWriter)(nil)

// marshalShape encodes a Serializable SDK value as AWS JSON 1.1.
func marshalShape(v smithy.Serializable) []byte {
	w := &jsonShapeWriter{}
	v.Serialize(w)
	return w.Bytes()
}

func (w *jsonShapeWriter) Bytes() []byte { return w.buf }

func (w *jsonShapeWriter) prefix(s *smithy.Schema) {
	if len(w.stack) == 0 {
		return
	}
	top := &w.stack[len(w.stack)-1]
	if top.keyed {
		top.keyed = false
		return
	}
	if top.n > 0 {
		w.buf = append(w.buf, ',')
	}
	top.n++
	if top.object {
		name := ""
		if s != nil {
			name = s.MemberName()
		}
		w.buf = strconv.AppendQuote(w.buf, name)
		w.buf = append(w.buf, ':')
	}
}

func (w *jsonShapeWriter) open(s *smithy.Schema, c byte, f jsonFrame) {
	w.prefix(s)
	w.buf = append(w.buf, c)
	w.stack = append(w.stack, f)
}

func (w *jsonShapeWriter) close(c byte) {
	if len(w.stack) > 0 {
		w.stack = w.stack[:len(w.stack)-1]
	}
	w.buf = append(w.buf, c)
}

func (w *jsonShapeWriter) raw(s *smithy.Schema, text []byte) {
	w.prefix(s)
	w.buf = append(w.buf, text...)
}

func (w *jsonShapeWriter) WriteInt8(s *smithy.Schema, v int8)   { w.WriteInt64(s, int64(v)) }
func (w *jsonShapeWriter) WriteInt16(s *smithy.Schema, v int16) { w.WriteInt64(s, int64(v)) }
func (w *jsonShapeWriter) WriteInt32(s *smithy.Schema, v int32) { w.WriteInt64(s, int64(v)) }
func (w *jsonShapeWriter) WriteInt64(s *smithy.Schema, v int64) {
	w.raw(s, strconv.AppendInt(nil, v, 10))
}
func (w *jsonShapeWriter) WriteFloat32(s *smithy.Schema, v float32) { w.writeFloat(s, float64(v), 32) }
func (w *jsonShapeWriter) WriteFloat64(s *smithy.Schema, v float64) { w.writeFloat(s, v, 64) }

// writeFloat writes non-finite values as the strings Smithy's JSON protocols use.
func (w *jsonShapeWriter) writeFloat(s *smithy.Schema, v float64, bits int) {
	switch {
	case math.IsNaN(v):
		w.WriteString(s, "NaN")
	case math.IsInf(v, 1):
		w.WriteString(s, "Infinity")
	case math.IsInf(v, -1):
		w.WriteString(s, "-Infinity")
	default:
		w.raw(s, strconv.AppendFloat(nil, v, 'f', -1, bits))
	}
}

func (w *jsonShapeWriter) WriteBool(s *smithy.Schema, v bool) { w.raw(s, strconv.AppendBool(nil, v)) }
func (w *jsonShapeWriter) WriteString(s *smithy.Schema, v string) {
	w.raw(s, appendJSONString(nil, v))
}
func (w *jsonShapeWriter) WriteBigInt(s *smithy.Schema, v *big.Int) {
	if v == nil {
		w.WriteNil(s)
		return
	}
	w.raw(s, []byte(v.String()))
}
func (w *jsonShapeWriter) WriteBigFloat(s *smithy.Schema, v *big.Float) {
	if v == nil {
		w.WriteNil(s)
		return
	}
	w.raw(s, []byte(v.Text('g', -1)))
}
func (w *jsonShapeWriter) WriteBlob(s *smithy.Schema, v []byte) {
	w.WriteString(s, base64.StdEncoding.EncodeToString(v))
}
func (w *jsonShapeWriter) WriteTime(s *smithy.Schema, v time.Time) {
	w.raw(s, []byte(epochSeconds(v)))
}

func (w *jsonShapeWriter) WriteUnion(schema, variant *smithy.Schema) {
	w.open(schema, '{', jsonFrame{object: true, keyed: true, n: 1})
	name := ""
	if variant != nil {
		name = variant.MemberName()
	}
	w.buf = strconv.AppendQuote(w.buf, name)
	w.buf = append(w.buf, ':')
}
func (w *jsonShapeWriter) CloseUnion() { w.close('}') }

func (w *jsonShapeWriter) WriteDocument(s *smithy.Schema, v document.Value) {
	w.raw(s, appendDocument(nil, v))
}
func (w *jsonShapeWriter) WriteNil(s *smithy.Schema) { w.raw(s, []byte("null")) }

func (w *jsonShapeWriter) WriteStruct(s *smithy.Schema) { w.open(s, '{', jsonFrame{object: true}) }
func (w *jsonShapeWriter) CloseStruct()                 { w.close('}') }
func (w *jsonShapeWriter) WriteList(s *smithy.Schema)   { w.open(s, '[', jsonFrame{}) }
func (w *jsonShapeWriter) CloseList()                   { w.close(']') }
func (w *jsonShapeWriter) WriteMap(s *smithy.Schema)    { w.open(s, '{', jsonFrame{object: true}) }
func (w *jsonShapeWriter) CloseMap()                    { w.close('}') }

func (w *jsonShapeWriter) WriteKey(_ *smithy.Schema, key string) {
	if len(w.stack) == 0 {
		return
	}
	top := &w.stack[len(w.stack)-1]
	if top.n > 0 {
		w.buf = append(w.buf, ',')
	}
	top.n++
	w.buf = appendJSONString(w.buf, key)
	w.buf = append(w.buf, ':')
	top.keyed = true
}

// epochSeconds formats t as AWS JSON timestamps: seconds since the epoch, with up to three
// decimals (milliseconds) when t has a fraction.
func epochSeconds(t time.Time) string {
	sec := t.Unix()
	ms := t.Nanosecond() / int(time.Millisecond)
	if ms == 0 {
		return strconv.FormatInt(sec, 10)
	}
	frac := strconv.Itoa(1000 + ms)[1:] // three digits
	for frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	return strconv.FormatInt(sec, 10) + "." + frac
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // strings always marshal
	return append(dst, b...)
}

func appendDocument(dst []byte, v document.Value) []byte {
	switch d := v.(type) {
	case nil, document.Null:
		return append(dst, "null"...)
	case document.Boolean:
		return strconv.AppendBool(dst, bool(d))
	case document.String:
		return appendJSONString(dst, string(d))
	case document.Blob:
		return appendJSONString(dst, base64.StdEncoding.EncodeToString(d))
	case document.Timestamp:
		return append(dst, epochSeconds(time.Time(d))...)
	case document.List:
		dst = append(dst, '[')
		for i, e := range d {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDocument(dst, e)
		}
		return append(dst, ']')
	case document.Map:
		return appendDocumentMembers(dst, d)
	case document.Structure:
		return appendDocumentMembers(dst, d.Members)
	default:
		// Numbers and Opaque values: encoding/json knows them (Opaque through its field).
		var payload any = v
		if o, ok := v.(document.Opaque); ok {
			payload = o.Value
		}
		b, err := json.Marshal(payload)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
}

func appendDocumentMembers(dst []byte, m map[string]document.Value) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendDocument(dst, m[k])
	}
	return append(dst, '}')
}

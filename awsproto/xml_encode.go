package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// NoOutput is the output of operations that answer nothing but the request id.
type NoOutput struct{}

// TimestampLayout is the ISO 8601 form IAM and STS put timestamps in: UTC, whole seconds.
const TimestampLayout = "2006-01-02T15:04:05Z"

// MarshalQueryResponse encodes out as the XML answer of a query-protocol operation:
//
//	<OpResponse xmlns="<service namespace>">
//	  <OpResult>...</OpResult>
//	  <ResponseMetadata><RequestId>id</RequestId></ResponseMetadata>
//	</OpResponse>
//
// out is a struct or pointer to struct whose fields become elements (names from `aws` tags
// or Go names, as for DecodeQuery); lists are <Name><member>…</member></Name> (flat fields:
// repeated <Name>), maps <Name><entry><key/><value/></entry></Name>, timestamps
// TimestampLayout, booleans true/false, blobs base64. Nil pointers, nil slices and maps,
// empty strings and zero times are left out; an empty non-nil slice is an empty element. A
// nil out or NoOutput gives a response with no Result element.
func MarshalQueryResponse(svc *Service, operation, requestID string, out any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + operation + "Response xmlns=\"" + svc.XMLNamespace + "\">")
	if err := writeResult(&b, operation, out); err != nil {
		return nil, err
	}
	b.WriteString("<ResponseMetadata><RequestId>")
	escape(&b, requestID)
	b.WriteString("</RequestId></ResponseMetadata></" + operation + "Response>")
	return b.Bytes(), nil
}

func writeResult(b *bytes.Buffer, operation string, out any) error {
	v := reflect.ValueOf(out)
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() == reflect.TypeFor[NoOutput]() {
		return nil
	}
	if v.Kind() != reflect.Struct {
		return fmt.Errorf("awsproto: query output must be a struct, got %s", v.Type())
	}
	b.WriteString("<" + operation + "Result>")
	writeStructFields(b, v)
	b.WriteString("</" + operation + "Result>")
	return nil
}

// MarshalQueryError encodes e as a query-protocol <ErrorResponse>.
func MarshalQueryError(svc *Service, requestID string, e *Error) []byte {
	if svc == nil || svc.XMLNamespace == "" {
		svc = IAM
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<ErrorResponse xmlns=\"" + svc.XMLNamespace + "\"><Error><Type>")
	b.WriteString(string(e.FaultType()))
	b.WriteString("</Type><Code>")
	escape(&b, e.codeFor(ProtocolQuery))
	b.WriteString("</Code><Message>")
	escape(&b, e.Message)
	b.WriteString("</Message></Error><RequestId>")
	escape(&b, requestID)
	b.WriteString("</RequestId></ErrorResponse>")
	return b.Bytes()
}

// WriteQueryResponse sends out as the XML answer of operation (see MarshalQueryResponse).
func WriteQueryResponse(w http.ResponseWriter, svc *Service, operation, requestID string, out any) error {
	body, err := MarshalQueryResponse(svc, operation, requestID, out)
	if err != nil {
		return err
	}
	writeBody(w, "text/xml", requestID, http.StatusOK, body)
	return nil
}

// WriteQueryError sends e as a query-protocol error with its HTTP status.
func WriteQueryError(w http.ResponseWriter, svc *Service, requestID string, e *Error) {
	writeBody(w, "text/xml", requestID, e.HTTPStatus(), MarshalQueryError(svc, requestID, e))
}

func writeBody(w http.ResponseWriter, contentType, requestID string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if requestID != "" {
		h.Set("X-Amzn-Requestid", requestID)
	}
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client went away; nothing to do
}

func openTag(b *bytes.Buffer, name string) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
}

func closeTag(b *bytes.Buffer, name string) {
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

// escape writes s as XML character data: &, < and > escaped, \r kept as a reference so
// that it survives parsing, quotes left literal as AWS writes them, and characters XML
// cannot carry (most controls, invalid UTF-8) replaced by U+FFFD.
func escape(b *bytes.Buffer, s string) {
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#xD;")
		case r == utf8.RuneError && isInvalidAt(s, i), !xmlChar(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
}

func isInvalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size <= 1
}

// xmlChar reports the characters XML 1.0 allows in a document.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

func writeStructFields(b *bytes.Buffer, v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		fv, ok := fieldByIndexNoAlloc(v, f.index)
		if !ok {
			continue
		}
		writeMember(b, f, fv)
	}
}

func fieldByIndexNoAlloc(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// omitted reports members left out of the output: nil, empty strings, zero times, and
// plain (non-pointer) structs that encode to nothing, such as the SDK's ResultMetadata.
func omitted(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map:
		return v.IsNil()
	case reflect.Slice:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).IsZero()
		}
		return len(fieldsOf(v.Type())) == 0
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

func writeMember(b *bytes.Buffer, f fieldInfo, v reflect.Value) {
	if omitted(v) {
		return
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return
		}
	}
	switch {
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		writeList(b, f, v)
	case v.Kind() == reflect.Map:
		writeMap(b, f, v)
	default:
		openTag(b, f.name)
		writeValue(b, v)
		closeTag(b, f.name)
	}
}

func writeList(b *bytes.Buffer, f fieldInfo, v reflect.Value) {
	if f.flat {
		writeListItems(b, f.name, v)
		return
	}
	openTag(b, f.name)
	writeListItems(b, f.member, v)
	closeTag(b, f.name)
}

func writeListItems(b *bytes.Buffer, item string, v reflect.Value) {
	for i := range v.Len() {
		ev := v.Index(i)
		if (ev.Kind() == reflect.Pointer || ev.Kind() == reflect.Interface) && ev.IsNil() {
			continue
		}
		openTag(b, item)
		writeValue(b, derefAll(ev))
		closeTag(b, item)
	}
}

func writeMap(b *bytes.Buffer, f fieldInfo, v reflect.Value) {
	keys := v.MapKeys()
	slices.SortFunc(keys, func(x, y reflect.Value) int {
		return compareText(scalarText(x), scalarText(y))
	})
	entry := "entry"
	if f.flat {
		entry = f.name
	} else {
		openTag(b, f.name)
	}
	for _, k := range keys {
		b.WriteString("<" + entry + "><" + f.key + ">")
		writeValue(b, k)
		closeTag(b, f.key)
		if val := v.MapIndex(k); !omitted(val) {
			openTag(b, f.value)
			writeValue(b, derefAll(val))
			closeTag(b, f.value)
		}
		closeTag(b, entry)
	}
	if !f.flat {
		closeTag(b, f.name)
	}
}

func compareText(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func derefAll(v reflect.Value) reflect.Value {
	for (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && !v.IsNil() {
		v = v.Elem()
	}
	return v
}

// writeValue writes the content of one element: a scalar's text or a structure's members.
func writeValue(b *bytes.Buffer, v reflect.Value) {
	if v.Kind() == reflect.Struct && v.Type() != timeType {
		writeStructFields(b, v)
		return
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		// A list directly inside a list: AWS models name its items "member".
		writeListItems(b, "member", v)
		return
	}
	escape(b, scalarText(v))
}

// scalarText is the query/XML text of a scalar value.
func scalarText(v reflect.Value) string {
	v = derefAll(v)
	switch {
	case !v.IsValid():
		return ""
	case v.Type() == timeType:
		return v.Interface().(time.Time).UTC().Format(TimestampLayout)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, v.Type().Bits())
	}
	return fmt.Sprint(v.Interface())
}

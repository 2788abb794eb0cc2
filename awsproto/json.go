package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// DecodeJSON decodes an AWS JSON 1.1 request body into dst. dst may be the SDK's own Input
// type (e.g. *ecr.BatchGetImageInput: encoding/json matches its Go names to the lower-camel
// wire names case-insensitively and decodes base64 blobs) or a hand-written struct. An empty
// body counts as {}. Unknown members are ignored, as AWS does; a body that is not JSON or
// does not fit dst is a SerializationException; members tagged `aws:",required"` that are
// missing (nil, or "" for plain strings) are a ValidationException naming them all.
func DecodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, dst); err != nil {
			return SerializationError(jsonProblem(err))
		}
	}
	var violations []Violation
	checkRequired(reflect.ValueOf(dst), "", &violations)
	if len(violations) > 0 {
		return ValidationFailed(ProtocolJSON, violations)
	}
	return nil
}

// jsonProblem describes a decoding failure without echoing Go type names.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Sprintf("Unexpected JSON %s for member '%s'.", typeErr.Value, typeErr.Field)
		}
		return fmt.Sprintf("Unexpected JSON %s.", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("Malformed JSON at offset %d.", syntaxErr.Offset)
	}
	return "The request body could not be parsed as JSON."
}

// checkRequired walks v and records required members that are absent.
func checkRequired(v reflect.Value, path string, out *[]Violation) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for _, f := range fieldsOf(v.Type()) {
			fv, ok := fieldByIndexNoAlloc(v, f.index)
			name := join(path, jsonName(v.Type(), f))
			if !ok || absent(fv) {
				if f.required {
					*out = append(*out, Violation{Path: name, Constraint: "Member must not be null"})
				}
				continue
			}
			checkRequired(fv, name, out)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			checkRequired(v.Index(i), path+"."+strconv.Itoa(i+1)+".member", out)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			checkRequired(iter.Value(), path+"."+fmt.Sprint(iter.Key().Interface()), out)
		}
	}
}

func absent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}

// jsonName is the wire name of a field in JSON: its json tag, else its Go name with a lower
// first letter (ECR's convention).
func jsonName(t reflect.Type, f fieldInfo) string {
	if tag := t.FieldByIndex(f.index).Tag.Get("json"); tag != "" {
		if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
			return name
		}
	}
	return f.path
}

// MarshalJSONResponse encodes the output of a JSON-protocol operation. The SDK's output
// types (anything with a Serialize(smithy.ShapeSerializer) method, e.g.
// *ecr.BatchGetImageOutput) are written from their model schemas; any other value goes
// through encoding/json, so hand-written wire structs use json tags and EpochTime for
// timestamps. nil and NoOutput give {}.
func MarshalJSONResponse(out any) ([]byte, error) {
	if isNilOrNoOutput(out) {
		return []byte("{}"), nil
	}
	if s, ok := out.(smithy.Serializable); ok {
		return marshalShape(s), nil
	}
	return json.Marshal(out)
}

func isNilOrNoOutput(out any) bool {
	v := reflect.ValueOf(out)
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return true
		}
		v = v.Elem()
	}
	return !v.IsValid() || v.Type() == reflect.TypeFor[NoOutput]()
}

// MarshalJSONError encodes e as {"__type":"<Code>","message":"<text>"}.
func MarshalJSONError(e *Error) []byte {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.codeFor(ProtocolJSON), e.Message})
	return body
}

// WriteJSONResponse sends out as the 200 answer of a JSON 1.1 operation.
func WriteJSONResponse(w http.ResponseWriter, requestID string, out any) error {
	body, err := MarshalJSONResponse(out)
	if err != nil {
		return err
	}
	writeBody(w, jsonContentType, requestID, http.StatusOK, body)
	return nil
}

// WriteJSONError sends e with its status and the X-Amzn-ErrorType header.
func WriteJSONError(w http.ResponseWriter, requestID string, e *Error) {
	w.Header().Set("X-Amzn-Errortype", e.codeFor(ProtocolJSON))
	writeBody(w, jsonContentType, requestID, e.HTTPStatus(), MarshalJSONError(e))
}

// EpochTime is a timestamp that encodes to and decodes from JSON as AWS JSON protocols put
// it: seconds since the epoch, fractions allowed.
type EpochTime time.Time

func (t EpochTime) MarshalJSON() ([]byte, error) {
	return []byte(epochSeconds(time.Time(t))), nil
}

func (t *EpochTime) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < -1<<40 || f > 1<<40 {
		return fmt.Errorf("timestamp %s is not epoch seconds", b)
	}
	sec := int64(f)
	if f < 0 && float64(sec) != f {
		sec--
	}
	ms := int64((f-float64(sec))*1000 + 0.5)
	*t = EpochTime(time.Unix(sec, ms*int64(time.Millisecond)).UTC())
	return nil
}

package awsproto

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// DecodeQuery fills dst (a pointer to a struct) from AWS query parameters, following the
// query serialization botocore and the SDKs use:
//
//   - scalars as Name=value; booleans "true"/"false"; timestamps ISO 8601; blobs base64;
//   - nested structures as Outer.Inner=value;
//   - lists as Name.member.N (N from 1) or, for `flat` fields, Name.N; an empty list is
//     sent as a bare "Name=";
//   - maps as Name.entry.N.key / Name.entry.N.value (flat: Name.N.key / Name.N.value).
//
// Parameters that dst has no field for (Action, Version, X-Amz-*, and unknown names) are
// ignored, as IAM and STS ignore them. Missing `required` members, and values that do not
// parse as their type, are all reported together as one ValidationError (see
// ValidationFailed), e.g. "1 validation error detected: Value null at 'userName' failed to
// satisfy constraint: Member must not be null".
func DecodeQuery(params url.Values, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsproto: DecodeQuery needs a pointer to a struct, got %T", dst)
	}
	d := queryDecoder{params: params, keys: make([]string, 0, len(params))}
	for k := range params {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys)
	d.decodeStruct(v.Elem(), "", "")
	if len(d.violations) > 0 {
		return ValidationFailed(ProtocolQuery, d.violations)
	}
	return nil
}

type queryDecoder struct {
	params     url.Values
	keys       []string // sorted, to find the names under a prefix by binary search
	violations []Violation
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// under returns the keys that start with prefix.
func (d *queryDecoder) under(prefix string) []string {
	i, _ := slices.BinarySearch(d.keys, prefix)
	j := i
	for j < len(d.keys) && strings.HasPrefix(d.keys[j], prefix) {
		j++
	}
	return d.keys[i:j]
}

func (d *queryDecoder) has(name string) bool {
	_, ok := d.params[name]
	return ok
}

// resolve returns the parameter name of member name under prefix: the exact spelling when
// it was sent, else a spelling that differs only in case. Some SDK types have Go names that
// differ in case from their wire names (STS PolicyDescriptorType.Arn is sent as "arn").
func (d *queryDecoder) resolve(prefix, name string) string {
	exact := join(prefix, name)
	if d.present(exact) {
		return exact
	}
	start := ""
	if prefix != "" {
		start = prefix + "."
	}
	for _, k := range d.under(start) {
		seg := k[len(start):]
		if i := strings.IndexByte(seg, '.'); i >= 0 {
			seg = seg[:i]
		}
		if strings.EqualFold(seg, name) {
			return start + seg
		}
	}
	return exact
}

// present reports whether anything was sent for the member at name.
func (d *queryDecoder) present(name string) bool {
	return d.has(name) || len(d.under(name+".")) > 0
}

// presentAs reports whether a member of type t was sent at name: a scalar only by its own
// name, a structure only by names under it, a list or map by either (a bare "Name=" is an
// empty list).
func (d *queryDecoder) presentAs(name string, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8):
		return d.has(name)
	case t.Kind() == reflect.Struct:
		return len(d.under(name+".")) > 0
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Map:
		return d.present(name)
	default:
		return d.has(name)
	}
}

func (d *queryDecoder) decodeStruct(v reflect.Value, prefix, path string) {
	for _, f := range fieldsOf(v.Type()) {
		name := d.resolve(prefix, f.name)
		fpath := join(path, f.path)
		if !d.presentAs(name, v.Type().FieldByIndex(f.index).Type) {
			if f.required {
				d.violations = append(d.violations, Violation{Path: fpath, Constraint: "Member must not be null"})
			}
			continue
		}
		d.decodeValue(fieldByIndexAlloc(v, f.index), name, fpath, f)
	}
}

func fieldByIndexAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func (d *queryDecoder) decodeValue(v reflect.Value, name, path string, f fieldInfo) {
	if v.Kind() == reflect.Pointer {
		elem := reflect.New(v.Type().Elem())
		d.decodeValue(elem.Elem(), name, path, f)
		v.Set(elem)
		return
	}
	switch {
	case v.Type() == timeType:
		d.scalar(name, path, "Member must be a timestamp in ISO 8601 format", func(s string) bool {
			t, ok := parseTimestamp(s)
			if ok {
				v.Set(reflect.ValueOf(t))
			}
			return ok
		})
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		d.scalar(name, path, "Member must be base64-encoded binary data", func(s string) bool {
			b, err := base64.StdEncoding.DecodeString(s)
			if err == nil {
				v.SetBytes(b)
			}
			return err == nil
		})
	case v.Kind() == reflect.Slice:
		d.decodeList(v, name, path, f)
	case v.Kind() == reflect.Map:
		d.decodeMap(v, name, path, f)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(v, name, path)
	default:
		d.decodeScalar(v, name, path)
	}
}

// scalar applies set to the value of name and records a violation when it does not parse.
func (d *queryDecoder) scalar(name, path, constraint string, set func(string) bool) {
	if !d.has(name) {
		return // only nested names were sent: nothing to set for a scalar
	}
	s := d.params.Get(name)
	if !set(s) {
		d.violations = append(d.violations, Violation{Path: path, Value: &s, Constraint: constraint})
	}
}

func (d *queryDecoder) decodeScalar(v reflect.Value, name, path string) {
	switch v.Kind() {
	case reflect.String:
		d.scalar(name, path, "", func(s string) bool { v.SetString(s); return true })
	case reflect.Bool:
		d.scalar(name, path, "Member must be true or false", func(s string) bool {
			switch strings.ToLower(s) {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				return false
			}
			return true
		})
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.scalar(name, path, "Member must be a number", func(s string) bool {
			n, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err == nil {
				v.SetInt(n)
			}
			return err == nil
		})
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.scalar(name, path, "Member must be a non-negative number", func(s string) bool {
			n, err := strconv.ParseUint(s, 10, v.Type().Bits())
			if err == nil {
				v.SetUint(n)
			}
			return err == nil
		})
	case reflect.Float32, reflect.Float64:
		d.scalar(name, path, "Member must be a number", func(s string) bool {
			n, err := strconv.ParseFloat(s, v.Type().Bits())
			if err == nil {
				v.SetFloat(n)
			}
			return err == nil
		})
	}
	// Other kinds (interfaces, channels, funcs) have no query form and are left alone.
}

// indices returns, in ascending order, the distinct positive N of names "<prefix>N" and
// "<prefix>N.<anything>".
func (d *queryDecoder) indices(prefix string) []int {
	var out []int
	for _, k := range d.under(prefix) {
		rest := k[len(prefix):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		if rest == "" || rest[0] == '0' || len(rest) > 9 {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (d *queryDecoder) decodeList(v reflect.Value, name, path string, f fieldInfo) {
	prefix := name + "."
	if !f.flat {
		prefix += f.member + "."
	}
	idx := d.indices(prefix)
	list := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	elem := fieldInfo{member: "member", key: "key", value: "value"}
	for i, n := range idx {
		elemName := prefix + strconv.Itoa(n)
		elemPath := path + "." + strconv.Itoa(n)
		if !f.flat {
			elemPath += "." + f.member
		}
		d.decodeValue(list.Index(i), elemName, elemPath, elem)
	}
	v.Set(list)
}

func (d *queryDecoder) decodeMap(v reflect.Value, name, path string, f fieldInfo) {
	prefix := name + "."
	if !f.flat {
		prefix += "entry."
	}
	m := reflect.MakeMap(v.Type())
	elem := fieldInfo{member: "member", key: "key", value: "value"}
	for _, n := range d.indices(prefix) {
		entry := prefix + strconv.Itoa(n)
		entryPath := path + "." + strconv.Itoa(n)
		if !d.has(entry + "." + f.key) {
			d.violations = append(d.violations, Violation{Path: entryPath + "." + f.key,
				Constraint: "Member must not be null"})
			continue
		}
		key := reflect.New(v.Type().Key()).Elem()
		d.decodeValue(key, entry+"."+f.key, entryPath+"."+f.key, elem)
		val := reflect.New(v.Type().Elem()).Elem()
		if d.presentAs(entry+"."+f.value, v.Type().Elem()) {
			d.decodeValue(val, entry+"."+f.value, entryPath+"."+f.value, elem)
		}
		m.SetMapIndex(key, val)
	}
	v.Set(m)
}

// parseTimestamp accepts the ISO 8601 forms AWS clients send (with or without fractional
// seconds, "Z" or an offset) and, as some clients do for query timestamps, epoch seconds.
func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1<<40 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	return time.Time{}, false
}

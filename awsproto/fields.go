package awsproto

import (
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Struct tags drive both query decoding and XML encoding:
//
//	UserName string          `aws:"UserName,required"`
//	Tags     []Tag           `aws:"Tags"`                  // Tags.member.N.Key / <Tags><member>
//	Values   []string        `aws:"Value,flat"`            // Value.N / <Value> repeated
//	Attrs    map[string]string `aws:"Attributes,key=Name,value=Value"`
//	Skipped  string          `aws:"-"`
//
// Without a tag a field's wire name is its Go name, which is the AWS name for the SDK's
// IAM and STS types, so those can be decoded and encoded as they are.
type fieldInfo struct {
	index    []int
	name     string
	path     string // lower-camel name used in validation messages
	required bool
	flat     bool
	member   string // list member element name, default "member"
	key      string // map entry key name, default "key"
	value    string // map entry value name, default "value"
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

func fieldsOf(t reflect.Type) []fieldInfo {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.([]fieldInfo)
	}
	var fields []fieldInfo
	collectFields(t, nil, &fields)
	fieldCache.Store(t, fields)
	return fields
}

func collectFields(t reflect.Type, index []int, out *[]fieldInfo) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, tagged := f.Tag.Lookup("aws")
		if tag == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if f.Anonymous && !tagged {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && f.IsExported() {
				collectFields(ft, idx, out)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		fi := fieldInfo{index: idx, name: f.Name, member: "member", key: "key", value: "value"}
		if tagged {
			parts := strings.Split(tag, ",")
			if parts[0] != "" {
				fi.name = parts[0]
			}
			for _, opt := range parts[1:] {
				k, v, _ := strings.Cut(opt, "=")
				switch k {
				case "required":
					fi.required = true
				case "flat":
					fi.flat = true
				case "member":
					fi.member = v
				case "key":
					fi.key = v
				case "value":
					fi.value = v
				}
			}
		}
		fi.path = lowerFirst(fi.name)
		*out = append(*out, fi)
	}
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

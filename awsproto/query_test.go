package awsproto

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

type qTag struct {
	Key   string `aws:"Key,required"`
	Value string `aws:"Value,required"`
}

type qEntry struct {
	ContextKeyName   string
	ContextKeyType   string
	ContextKeyValues []string
}

type qInner struct {
	Name  string
	Depth *int
}

type qInput struct {
	UserName   string `aws:"UserName,required"`
	Path       *string
	Enabled    bool
	Force      *bool
	MaxItems   *int32
	Ratio      float64
	Since      *time.Time
	Blob       []byte
	Tags       []qTag
	Names      []string `aws:"Name,flat"`
	Attributes map[string]string
	Labels     map[string]string `aws:"Label,flat,key=K,value=V"`
	Inner      *qInner
	Entries    []qEntry `aws:"ContextEntries"`
	Matrix     [][]string
	Ignored    string `aws:"-"`
	unexported string
}

func mustDecode(t *testing.T, raw string, dst any) {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := DecodeQuery(q, dst); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
}

func TestDecodeQueryAllShapes(t *testing.T) {
	raw := "Action=CreateUser&Version=2010-05-08&UserName=ci%2Bbot&Path=%2Fa%2Fb%2F&Enabled=true&Force=FALSE&MaxItems=42&Ratio=0.5" +
		"&Since=2026-11-29T15%3A04%3A05Z&Blob=aGVsbG8%3D" +
		"&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1" +
		"&Name.1=x&Name.2=y" +
		"&Attributes.entry.1.key=k1&Attributes.entry.1.value=v1&Attributes.entry.2.key=k2" +
		"&Label.1.K=lk&Label.1.V=lv" +
		"&Inner.Name=in&Inner.Depth=3" +
		"&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ipList" +
		"&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyValues.member.2=10.0.0.2" +
		"&Matrix.member.1.member.1=m11&Matrix.member.2.member.1=m21&Matrix.member.2.member.2=m22" +
		"&Ignored=no&unexported=no&Unknown.member.1=z&X-Amz-Signature=abc"
	var in qInput
	mustDecode(t, raw, &in)
	depth := 3
	since := time.Date(2026, 11, 29, 15, 4, 5, 0, time.UTC)
	want := qInput{
		UserName: "ci+bot", Path: ptr("/a/b/"), Enabled: true, Force: ptr(false), MaxItems: ptr(int32(42)), Ratio: 0.5,
		Since: &since, Blob: []byte("hello"),
		Tags:       []qTag{{"a", "1"}, {"b", "2"}},
		Names:      []string{"x", "y"},
		Attributes: map[string]string{"k1": "v1", "k2": ""},
		Labels:     map[string]string{"lk": "lv"},
		Inner:      &qInner{Name: "in", Depth: &depth},
		Entries:    []qEntry{{"aws:SourceIp", "ipList", []string{"10.0.0.1", "10.0.0.2"}}},
		Matrix:     [][]string{{"m11"}, {"m21", "m22"}},
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got  %+v\nwant %+v", in, want)
	}
}

func TestDecodeQueryListsAndAbsence(t *testing.T) {
	var in qInput
	mustDecode(t, "UserName=u&Tags=&Name.3=c&Name.10=d&Name.0=bad&Name.01=bad&Name.x=bad", &in)
	if in.Tags == nil || len(in.Tags) != 0 {
		t.Fatalf("empty list marker: %#v", in.Tags)
	}
	if !reflect.DeepEqual(in.Names, []string{"c", "d"}) {
		t.Fatalf("sparse indices in numeric order: %#v", in.Names)
	}
	in = qInput{}
	mustDecode(t, "UserName=u&MaxItems.x=1&Force.y=true&Inner=whole&Since.z=1", &in)
	if in.MaxItems != nil || in.Force != nil || in.Inner != nil || in.Since != nil {
		t.Fatalf("names under a scalar, or a bare structure name, are not the member: %+v", in)
	}
	if in.Path != nil || in.MaxItems != nil || in.Inner != nil || in.Attributes != nil || in.Entries != nil {
		t.Fatalf("absent members must stay nil: %+v", in)
	}
}

func TestDecodeQueryRequiredMessages(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"Action=CreateUser", "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"UserName=u&Tags.member.1.Key=k",
			"1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"},
		{"Tags.member.1.Value=v",
			"2 validation errors detected: Value null at 'userName' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"},
		{"UserName=u&MaxItems=lots",
			"1 validation error detected: Value 'lots' at 'maxItems' failed to satisfy constraint: Member must be a number"},
		{"UserName=u&Enabled=yes",
			"1 validation error detected: Value 'yes' at 'enabled' failed to satisfy constraint: Member must be true or false"},
		{"UserName.x=u",
			"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"UserName=u&Attributes.entry.1.value=v",
			"1 validation error detected: Value null at 'attributes.1.key' failed to satisfy constraint: Member must not be null"},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.raw)
		err := DecodeQuery(q, &qInput{})
		var e *Error
		if !errors.As(err, &e) || e.Code != "ValidationError" || e.HTTPStatus() != 400 || e.Message != c.want {
			t.Errorf("%s:\n got  %v\n want %s", c.raw, err, c.want)
		}
	}
}

func TestDecodeQueryNeedsStructPointer(t *testing.T) {
	var s string
	if err := DecodeQuery(url.Values{}, &s); err == nil {
		t.Fatal("decoding into a string pointer must fail")
	}
	if err := DecodeQuery(url.Values{}, qInput{}); err == nil {
		t.Fatal("decoding into a non-pointer must fail")
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzDecodeQuery(f *testing.F) {
	f.Add("UserName=u&Tags.member.1.Key=k&Tags.member.1.Value=v")
	f.Add("ContextEntries.member.1.ContextKeyValues.member.1=a&Matrix.member.1.member.1=b")
	f.Add("Attributes.entry.1.key=k&Label.1.K=x&Name.1=n&Inner.Depth=9&Since=1700000000.5")
	f.Add("Tags=&Blob=!!&MaxItems=99999999999&Name.999999999=x")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var in qInput
		err = DecodeQuery(q, &in)
		if err == nil {
			if in.UserName == "" && q.Get("UserName") != "" {
				t.Fatalf("UserName lost from %q", raw)
			}
			sent := false
			for k := range q {
				sent = sent || strings.EqualFold(k, "UserName")
			}
			if !sent {
				t.Fatalf("required UserName missing from %q but no error", raw)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != "ValidationError" || e.HTTPStatus() != 400 {
			t.Fatalf("unexpected error kind for %q: %v", raw, err)
		}
	})
}

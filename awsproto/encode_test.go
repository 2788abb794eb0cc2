package awsproto

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

type xUser struct {
	UserName   string
	CreateDate time.Time
	Tags       []qTag
	Missing    *string
}

type xOutput struct {
	User        *xUser
	Users       []xUser
	Empty       []string
	Flat        []string `aws:"Item,flat"`
	Details     map[string]string
	IsTruncated bool
	Count       int32
	Marker      *string
	Raw         []byte
	Renamed     string `aws:"Other"`
	Metadata    struct{ hidden int }
}

func TestMarshalQueryResponse(t *testing.T) {
	ts := time.Date(2026, 11, 29, 15, 4, 5, 999_000_000, time.FixedZone("x", 3600))
	out := xOutput{
		User:    &xUser{UserName: "a<b>&c", CreateDate: ts, Tags: []qTag{{"k", "v"}}},
		Users:   []xUser{{UserName: "u1"}, {UserName: "u2"}},
		Empty:   []string{},
		Flat:    []string{"f1", "f2"},
		Details: map[string]string{"z": "1", "a": "2"},
		Count:   3, Raw: []byte("hi"), Renamed: "r",
	}
	b, err := MarshalQueryResponse(IAM, "GetUser", "req-1", &out)
	if err != nil {
		t.Fatal(err)
	}
	want := xml.Header + `<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult>` +
		`<User><UserName>a&lt;b&gt;&amp;c</UserName><CreateDate>2026-11-29T14:04:05Z</CreateDate>` +
		`<Tags><member><Key>k</Key><Value>v</Value></member></Tags></User>` +
		`<Users><member><UserName>u1</UserName></member><member><UserName>u2</UserName></member></Users>` +
		`<Empty></Empty><Item>f1</Item><Item>f2</Item>` +
		`<Details><entry><key>a</key><value>2</value></entry><entry><key>z</key><value>1</value></entry></Details>` +
		`<IsTruncated>false</IsTruncated><Count>3</Count><Raw>aGk=</Raw><Other>r</Other>` +
		`</GetUserResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetUserResponse>`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
}

func TestMarshalQueryResponseWithoutOutput(t *testing.T) {
	for _, out := range []any{nil, NoOutput{}, &NoOutput{}, (*xOutput)(nil)} {
		b, err := MarshalQueryResponse(STS, "DeleteThing", "r", out)
		if err != nil {
			t.Fatal(err)
		}
		want := xml.Header + `<DeleteThingResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
			`<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteThingResponse>`
		if string(b) != want {
			t.Fatalf("%T: got %s", out, b)
		}
	}
	if _, err := MarshalQueryResponse(IAM, "X", "r", 5); err == nil {
		t.Fatal("a non-struct output must be refused")
	}
}

func TestMarshalQueryError(t *testing.T) {
	b := MarshalQueryError(IAM, "rid", &Error{Code: "NoSuchEntity", Message: "The user with name x cannot be found.", Status: 404})
	want := xml.Header + `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>` +
		`<Code>NoSuchEntity</Code><Message>The user with name x cannot be found.</Message></Error>` +
		`<RequestId>rid</RequestId></ErrorResponse>`
	if string(b) != want {
		t.Fatalf("got %s", b)
	}
	b = MarshalQueryError(nil, "rid", InternalFailure())
	if !strings.Contains(string(b), "<Type>Receiver</Type><Code>InternalFailure</Code>") {
		t.Fatalf("got %s", b)
	}
}

func TestJSONErrorsAndTimestamps(t *testing.T) {
	e := &Error{Code: "InvalidClientTokenId", JSONCode: "UnrecognizedClientException", Message: `bad "token"`, Status: 403}
	if got := string(MarshalJSONError(e)); got != `{"__type":"UnrecognizedClientException","message":"bad \"token\""}` {
		t.Fatalf("got %s", got)
	}
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1700000000, 0), "1700000000"},
		{time.Unix(1700000000, 250_000_000), "1700000000.25"},
		{time.Unix(1700000000, 1_000_000), "1700000000.001"},
		{time.Unix(1700000000, 999_999), "1700000000"},
	} {
		if got := epochSeconds(c.t); got != c.want {
			t.Errorf("%v: got %s want %s", c.t, got, c.want)
		}
		b, _ := EpochTime(c.t).MarshalJSON()
		var back EpochTime
		if err := back.UnmarshalJSON(b); err != nil || !time.Time(back).Equal(c.t.Truncate(time.Millisecond)) {
			t.Errorf("round trip of %s: %v %v", b, time.Time(back), err)
		}
	}
}

type jsonInput struct {
	RepositoryName string   `json:"repositoryName" aws:",required"`
	ImageIDs       []jsonID `json:"imageIds" aws:",required"`
}

type jsonID struct {
	ImageDigest *string `json:"imageDigest"`
	ImageTag    *string `json:"imageTag" aws:",required"`
}

func TestDecodeJSON(t *testing.T) {
	var in jsonInput
	if err := DecodeJSON([]byte(`{"repositoryName":"a","imageIds":[{"imageTag":"v1"}],"extra":1}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.RepositoryName != "a" || *in.ImageIDs[0].ImageTag != "v1" {
		t.Fatalf("%+v", in)
	}
	err := DecodeJSON(nil, &jsonInput{})
	if e, ok := err.(*Error); !ok || e.Code != "ValidationException" || e.Message !=
		"2 validation errors detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null; "+
			"Value null at 'imageIds' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("got %v", err)
	}
	err = DecodeJSON([]byte(`{"repositoryName":"a","imageIds":[{"imageDigest":"d"}]}`), &jsonInput{})
	if e, ok := err.(*Error); !ok || !strings.Contains(e.Message, "'imageIds.1.member.imageTag'") {
		t.Fatalf("got %v", err)
	}
	for _, body := range []string{`{"repositoryName":`, `{"repositoryName":5}`, `[]`} {
		err = DecodeJSON([]byte(body), &jsonInput{})
		if e, ok := err.(*Error); !ok || e.Code != "SerializationException" || strings.Contains(e.Message, "awsproto") {
			t.Fatalf("%s: got %v", body, err)
		}
	}
}

func TestEscapeKeepsTextParseable(t *testing.T) {
	in := "it's \"q\" a&b <c> \r\n\t \x00 \xff é 😀"
	var b bytes.Buffer
	escape(&b, in)
	want := "it's \"q\" a&amp;b &lt;c&gt; &#xD;\n\t \uFFFD \uFFFD é 😀"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
	var back struct {
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte("<x>"+b.String()+"</x>"), &back); err != nil || back.Text != "it's \"q\" a&b <c> \r\n\t \uFFFD \uFFFD é 😀" {
		t.Fatalf("%q %v", back.Text, err)
	}
}

package awsproto

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	iamAuth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261124/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00"
	stsAuth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261124/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00"
	ecrAuth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261124/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00"
)

func TestClassify(t *testing.T) {
	type want struct {
		protocol  Protocol
		service   *Service
		operation string
		code      string
	}
	form := "application/x-www-form-urlencoded; charset=utf-8"
	cases := []struct {
		name   string
		method string
		path   string
		target string
		ctype  string
		auth   string
		body   string
		want   want
	}{
		{"registry base", "GET", "/v2/", "", "", "", "", want{ProtocolRegistry, nil, "", ""}},
		{"registry bare", "GET", "/v2", "", "", "", "", want{ProtocolRegistry, nil, "", ""}},
		{"registry manifest", "PUT", "/v2/a/b/manifests/x", "", "", "", "", want{ProtocolRegistry, nil, "", ""}},
		{"not registry", "GET", "/v20", "", "", "", "", want{ProtocolUnknown, nil, "", ""}},
		{"ecr", "POST", "/", "AmazonEC2ContainerRegistry_V20150921.BatchGetImage", jsonContentType, ecrAuth, "{}", want{ProtocolJSON, ECR, "BatchGetImage", ""}},
		{"organizations", "POST", "/", "AWSOrganizationsV20161128.CreateAccount", jsonContentType, "", "{}", want{ProtocolJSON, Organizations, "CreateAccount", ""}},
		{"unknown target prefix", "POST", "/", "DynamoDB_20120810.GetItem", jsonContentType, "", "{}", want{ProtocolJSON, nil, "GetItem", "UnknownOperationException"}},
		{"target without dot", "POST", "/", "AmazonEC2ContainerRegistry_V20150921", jsonContentType, "", "{}", want{ProtocolJSON, nil, "", "UnknownOperationException"}},
		{"iam signed", "POST", "/", "", form, iamAuth, "Action=CreateUser&Version=2010-05-08&UserName=a", want{ProtocolQuery, IAM, "CreateUser", ""}},
		{"sts signed", "POST", "/", "", form, stsAuth, "Action=GetCallerIdentity&Version=2011-06-15", want{ProtocolQuery, STS, "GetCallerIdentity", ""}},
		{"scope beats action name", "POST", "/", "", form, iamAuth, "Action=AssumeRole", want{ProtocolQuery, IAM, "AssumeRole", ""}},
		{"unsigned by version", "POST", "/", "", form, "", "Action=CreateUser&Version=2011-06-15", want{ProtocolQuery, STS, "CreateUser", ""}},
		{"unsigned sts by action", "POST", "/", "", form, "", "Action=AssumeRole", want{ProtocolQuery, STS, "AssumeRole", ""}},
		{"unsigned iam by action", "POST", "/", "", form, "", "Action=ListUsers", want{ProtocolQuery, IAM, "ListUsers", ""}},
		{"scope of another service", "POST", "/", "", form, ecrAuth, "Action=GetCallerIdentity", want{ProtocolQuery, STS, "GetCallerIdentity", ""}},
		{"query in URL", "GET", "/?Action=GetUser&Version=2010-05-08&X-Amz-Credential=AKID%2F20261124%2Fus-east-1%2Fiam%2Faws4_request", "", "", "", "", want{ProtocolQuery, IAM, "GetUser", ""}},
		{"signed without action", "POST", "/", "", form, stsAuth, "Version=2011-06-15", want{ProtocolQuery, STS, "", "MissingAction"}},
		{"unsigned without action", "POST", "/", "", form, "", "Version=2011-06-15", want{ProtocolUnknown, nil, "", ""}},
		{"json body without target", "POST", "/", "", jsonContentType, iamAuth, `{"Action":"x"}`, want{ProtocolQuery, IAM, "", "MissingAction"}},
		{"other path", "POST", "/foo", "", form, iamAuth, "Action=ListUsers", want{ProtocolUnknown, nil, "", ""}},
		{"bad form", "POST", "/", "", form, iamAuth, "Action=%zz", want{ProtocolQuery, IAM, "", "MalformedQueryString"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.target != "" {
				r.Header.Set("X-Amz-Target", c.target)
			}
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			rt, err := Classify(r, Limits{})
			code := ""
			if err != nil {
				code = err.Code
			}
			got := want{rt.Protocol, rt.Service, rt.Operation, code}
			if got != c.want {
				t.Fatalf("got %+v want %+v", got, c.want)
			}
			wantScope := scopeOf(c.auth)
			if strings.Contains(c.path, "X-Amz-Credential") {
				wantScope = "iam"
			}
			if rt.Protocol != ProtocolRegistry && rt.Protocol != ProtocolUnknown && rt.ScopeService != wantScope {
				t.Fatalf("scope service %q, want %q", rt.ScopeService, wantScope)
			}
			if rt.Protocol == ProtocolJSON || (rt.Protocol == ProtocolQuery && c.method == "POST" && c.ctype == form) {
				again, _ := io.ReadAll(r.Body)
				if string(again) != c.body || string(rt.Body) != c.body {
					t.Fatalf("body not kept for the verifier: %q / %q", again, rt.Body)
				}
			}
		})
	}
}

func TestClassifyBodyLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=CreateUser&UserName="+strings.Repeat("a", 100)))
	r.Header.Set("Content-Type", formContentType)
	_, err := Classify(r, Limits{MaxQueryBody: 64})
	if err == nil || err.Code != "RequestEntityTooLarge" || err.HTTPStatus() != 413 {
		t.Fatalf("got %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":"`+strings.Repeat("a", 100)+`"}`))
	r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.PutImage")
	_, err = Classify(r, Limits{MaxJSONBody: 64})
	if err == nil || err.Code != "RequestEntityTooLarge" {
		t.Fatalf("got %v", err)
	}
}

func TestRequestContextSourceIP(t *testing.T) {
	proxies := ClientInfo{Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	cases := []struct {
		name    string
		info    ClientInfo
		remote  string
		xff     []string
		proto   string
		tls     bool
		wantIP  string
		wantTLS bool
	}{
		{"direct client, no proxies configured", ClientInfo{}, "203.0.113.7:5555", []string{"1.2.3.4"}, "https", false, "203.0.113.7", false},
		{"untrusted peer cannot forge", proxies, "203.0.113.7:5555", []string{"1.2.3.4"}, "https", false, "203.0.113.7", false},
		{"trusted proxy", proxies, "10.1.2.3:80", []string{"198.51.100.9"}, "https", false, "198.51.100.9", true},
		{"client-written hops ignored", proxies, "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9, 10.9.9.9"}, "http", false, "198.51.100.9", false},
		{"several headers", proxies, "[::1]:80", []string{"6.6.6.6", "198.51.100.9"}, "", true, "198.51.100.9", true},
		{"only proxies", proxies, "10.1.2.3:80", []string{"10.0.0.5"}, "", false, "10.0.0.5", false},
		{"garbage stops the walk", proxies, "10.1.2.3:80", []string{"198.51.100.9, nonsense"}, "", false, "10.1.2.3", false},
		{"hop with port", proxies, "10.1.2.3:80", []string{"198.51.100.9:4444"}, "", false, "198.51.100.9", false},
		{"mapped v4", ClientInfo{}, "[::ffff:192.0.2.1]:80", nil, "", false, "192.0.2.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, h := range c.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			r.Header.Set("User-Agent", "aws-cli/1.45.11")
			c.info.Now = func() time.Time { return time.Unix(5, 0) }
			rc := c.info.NewRequestContext(r)
			if rc.SourceIP.String() != c.wantIP || rc.SecureTransport != c.wantTLS || rc.UserAgent != "aws-cli/1.45.11" ||
				!rc.ReceivedAt.Equal(time.Unix(5, 0)) || len(rc.RequestID) != 36 {
				t.Fatalf("got %+v", rc)
			}
		})
	}
}

func TestEndpointErrorsInFormat(t *testing.T) {
	e := NewEndpoint(EndpointConfig{})
	srv := httptest.NewServer(e)
	defer srv.Close()
	do := func(target, ctype, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
		if ctype == formContentType {
			req.Header.Set("Authorization", iamAuth)
		}
		req.Header.Set("Content-Type", ctype)
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do("", formContentType, "Action=Frobnicate&Version=2010-05-08")
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "text/xml" || resp.Header.Get("X-Amzn-Requestid") == "" ||
		!strings.Contains(body, "<Code>InvalidAction</Code><Message>The action Frobnicate is not valid for this web service.</Message>") ||
		!strings.Contains(body, "<RequestId>"+resp.Header.Get("X-Amzn-Requestid")+"</RequestId>") {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = do("AmazonEC2ContainerRegistry_V20150921.Frobnicate", jsonContentType, "{}")
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "UnknownOperationException" ||
		resp.Header.Get("Content-Type") != jsonContentType || !strings.Contains(body, `"__type":"UnknownOperationException"`) {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = do("", formContentType, "Action=GetUser&Version=2011-06-15")
	if resp.StatusCode != 400 || !strings.Contains(body, "Could not find operation GetUser for version 2011-06-15") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, _ = do("", "text/plain", "hello")
	if resp.StatusCode != 404 {
		t.Fatalf("non-AWS request: %d", resp.StatusCode)
	}
}

func scopeOf(auth string) string {
	switch auth {
	case iamAuth:
		return "iam"
	case stsAuth:
		return "sts"
	case ecrAuth:
		return "ecr"
	}
	return ""
}

func TestScopeService(t *testing.T) {
	cases := map[string]string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/organizations/aws4_request, SignedHeaders=host, Signature=0": "organizations",
		"AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/iam/aws4_request,SignedHeaders=host,Signature=0":             "iam",
		"AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/iam/aws5_request, SignedHeaders=host, Signature=0":           "",
		"AWS4-HMAC-SHA256 Credential=AKID/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0":                    "",
		"Basic QVdTOnRva2Vu": "",
		"":                   "",
	}
	for auth, want := range cases {
		r := httptest.NewRequest("POST", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if got := scopeService(r); got != want {
			t.Errorf("%q: got %q want %q", auth, got, want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("/", "AmazonEC2ContainerRegistry_V20150921.BatchGetImage", jsonContentType, ecrAuth, "{}")
	f.Add("/", "", formContentType, iamAuth, "Action=CreateUser&Tags.member.1.Key=a")
	f.Add("/?Action=GetUser&X-Amz-Credential=A%2Fb%2Fc%2Fsts%2Faws4_request", "", "", "", "")
	f.Add("/v2/x/manifests/y", "", "", "", "")
	f.Fuzz(func(t *testing.T, target, amzTarget, ctype, auth, body string) {
		r, err := http.NewRequest("POST", "http://h"+target, strings.NewReader(body))
		if err != nil || r.URL.Path == "" {
			return
		}
		r.Header.Set("X-Amz-Target", amzTarget)
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Authorization", auth)
		rt, cerr := Classify(r, Limits{MaxJSONBody: 1 << 16, MaxQueryBody: 1 << 16})
		switch rt.Protocol {
		case ProtocolJSON:
			if amzTarget == "" || (rt.Service != nil && !strings.HasPrefix(amzTarget, rt.Service.TargetPrefix+".")) {
				t.Fatalf("JSON route %+v for target %q", rt, amzTarget)
			}
		case ProtocolQuery:
			if rt.Service != IAM && rt.Service != STS {
				t.Fatalf("query route to %v", rt.Service)
			}
			if cerr == nil && rt.Operation == "" {
				t.Fatalf("query route without operation or error: %+v", rt)
			}
		}
		if cerr == nil && rt.Body != nil {
			again, _ := io.ReadAll(r.Body)
			if string(again) != string(rt.Body) {
				t.Fatalf("body not rewound")
			}
		}
	})
}

func TestParseProxies(t *testing.T) {
	got, err := ParseProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "::1", "10.1.2.3/16", "::ffff:198.51.100.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128", "10.1.0.0/16", "198.51.100.1/32"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	if _, err := ParseProxies([]string{"proxy.local"}); err == nil {
		t.Fatal("a host name must be refused")
	}
}

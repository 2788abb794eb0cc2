package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client speaks the OCI distribution API to one registry over keep-alive connections.
type client struct {
	name  string // registry label used in error messages
	base  *url.URL
	http  *http.Client
	authz string // Authorization header value sent with every request; empty without auth
}

// credentials are a user name and password for a registry that asks for them.
type credentials struct {
	User, Password string
}

// newClient returns a client for the registry at base ("http://127.0.0.1:5000") that keeps
// up to conns idle connections, so concurrent workers never reconnect.
func newClient(name, base string, conns int) (*client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &client{name: name, base: u, http: &http.Client{Transport: tr}}, nil
}

// close drops the client's idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// statusError is a response whose status the benchmark did not expect. The run stops on it:
// a registry that answers with errors must not look fast.
type statusError struct {
	registry, method, path string
	got                    int
	want                   []int
	body                   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: %s %s: status %d, want %v: %s", e.registry, e.method, e.path, e.got, e.want, e.body)
}

// check returns a statusError unless resp has one of the wanted statuses. On error the body
// is read (up to 512 bytes) into the message and closed.
func (c *client) check(resp *http.Response, want ...int) error {
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return &statusError{
		registry: c.name, method: resp.Request.Method, path: resp.Request.URL.RequestURI(),
		got: resp.StatusCode, want: want, body: strings.TrimSpace(string(body)),
	}
}

// drain reads what is left of a body and closes it so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// do sends req with the client's authorization.
func (c *client) do(req *http.Request) (*http.Response, error) {
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", c.name, req.Method, req.URL.RequestURI(), err)
	}
	return resp, nil
}

func (c *client) url(path string) string {
	u := *c.base
	u.Path = path
	return u.String()
}

// ping asks GET /v2/ and reports the status.
func (c *client) ping(ctx context.Context) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/"), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, nil, err
	}
	drain(resp)
	return resp.StatusCode, resp.Header, nil
}

// login prepares the Authorization header for repo. A registry that answers GET /v2/ with
// 200 needs none. One that answers 401 gets creds: directly for a Basic challenge, or
// traded for a token at the realm of a Bearer challenge (scope pull,push on repo). The
// header is computed once: tokens outlive any benchmark run.
func (c *client) login(ctx context.Context, repo string, creds *credentials) error {
	c.authz = ""
	status, header, err := c.ping(ctx)
	if err != nil {
		return err
	}
	switch status {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
	default:
		return fmt.Errorf("%s: GET /v2/: status %d, want 200 or 401", c.name, status)
	}
	if creds == nil {
		return fmt.Errorf("%s: GET /v2/ asks for credentials (%s) and none were given",
			c.name, header.Get("WWW-Authenticate"))
	}
	scheme, params := parseChallenge(header.Get("WWW-Authenticate"))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.User+":"+creds.Password))
	switch strings.ToLower(scheme) {
	case "basic":
		c.authz = basic
	case "bearer":
		token, err := c.fetchToken(ctx, params, repo, basic)
		if err != nil {
			return err
		}
		c.authz = "Bearer " + token
	default:
		return fmt.Errorf("%s: unsupported challenge %q", c.name, header.Get("WWW-Authenticate"))
	}
	status, _, err = c.ping(ctx)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: GET /v2/ with credentials: status %d, want 200", c.name, status)
	}
	return nil
}

// fetchToken trades basic credentials for a bearer token at the challenge's realm.
func (c *client) fetchToken(ctx context.Context, params map[string]string, repo, basic string) (string, error) {
	realm, err := c.base.Parse(params["realm"])
	if err != nil || params["realm"] == "" {
		return "", fmt.Errorf("%s: bearer challenge without a usable realm: %q", c.name, params["realm"])
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", "repository:"+repo+":pull,push")
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", basic)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: token: %w", c.name, err)
	}
	if err := c.check(resp, http.StatusOK); err != nil {
		return "", err
	}
	defer drain(resp)
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("%s: token response: %w", c.name, err)
	}
	if body.Token != "" {
		return body.Token, nil
	}
	if body.AccessToken != "" {
		return body.AccessToken, nil
	}
	return "", fmt.Errorf("%s: token response has no token", c.name)
}

// parseChallenge splits `Bearer realm="x",service="y"` into its scheme and parameters.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				val, rest = after[1:], ""
			} else {
				val, rest = after[1:1+end], after[2+end:]
			}
		} else {
			val, rest, _ = strings.Cut(after, ",")
		}
		params[strings.ToLower(strings.TrimSpace(key))] = val
	}
	return scheme, params
}

// pushBlob uploads a blob monolithically: POST to open an upload, then one PUT ?digest= with
// body streamed from r (exactly spec.Size bytes, never buffered whole).
func (c *client) pushBlob(ctx context.Context, repo string, spec blobSpec, body io.Reader) error {
	_, _, err := c.pushBlobTimed(ctx, repo, spec, body)
	return err
}

// pushBlobTimed is pushBlob that also returns how long the POST and the PUT took, each from
// sending the request to reading the whole response.
func (c *client) pushBlobTimed(ctx context.Context, repo string, spec blobSpec, body io.Reader) (post, put time.Duration, err error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v2/"+repo+"/blobs/uploads/"), nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, 0, err
	}
	if err := c.check(resp, http.StatusAccepted); err != nil {
		return 0, 0, err
	}
	drain(resp)
	post = time.Since(start)
	loc, err := resp.Location()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: POST %s: 202 without a usable Location: %w", c.name, req.URL.Path, err)
	}
	q := loc.Query()
	q.Set("digest", spec.Digest)
	loc.RawQuery = q.Encode()

	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), body)
	if err != nil {
		return 0, 0, err
	}
	req.ContentLength = spec.Size
	if spec.Size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.do(req)
	if err != nil {
		return 0, 0, err
	}
	if err := c.check(resp, http.StatusCreated); err != nil {
		return 0, 0, err
	}
	drain(resp)
	return post, time.Since(start) - post, nil
}

// blobExists asks HEAD for a blob: true on 200, false on 404.
func (c *client) blobExists(ctx context.Context, repo, digest string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("/v2/"+repo+"/blobs/"+digest), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.do(req)
	if err != nil {
		return false, err
	}
	if err := c.check(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	drain(resp)
	return resp.StatusCode == http.StatusOK, nil
}

// pullBlob downloads a blob into w through buf and checks that exactly spec.Size bytes came.
func (c *client) pullBlob(ctx context.Context, repo string, spec blobSpec, w io.Writer, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/"+repo+"/blobs/"+spec.Digest), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	if err := c.check(resp, http.StatusOK); err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(w, resp.Body, buf)
	if err != nil {
		return fmt.Errorf("%s: GET %s: reading body: %w", c.name, req.URL.Path, err)
	}
	if n != spec.Size {
		return fmt.Errorf("%s: GET %s: got %d bytes, want %d", c.name, req.URL.Path, n, spec.Size)
	}
	return nil
}

// manifestAccept is the Accept header of manifest requests, as container clients send it.
const manifestAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// putManifest stores a manifest under ref (a tag or digest).
func (c *client) putManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v2/"+repo+"/manifests/"+ref), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	if err := c.check(resp, http.StatusCreated); err != nil {
		return err
	}
	drain(resp)
	return nil
}

// manifestRequest builds a HEAD or GET of the manifest at ref, as container clients send it.
func (c *client) manifestRequest(ctx context.Context, method, repo, ref string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url("/v2/"+repo+"/manifests/"+ref), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestAccept)
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	return req, nil
}

// manifest asks HEAD or GET for the manifest at ref and checks the answer.
func (c *client) manifest(ctx context.Context, method, repo, ref string, want blobSpec) error {
	req, err := c.manifestRequest(ctx, method, repo, ref)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	return c.checkManifest(resp, want)
}

// checkManifest checks a manifest response: status 200, the digest header (when the
// registry sends one) and, for GET, the body size. It reads and closes the body.
func (c *client) checkManifest(resp *http.Response, want blobSpec) error {
	if err := c.check(resp, http.StatusOK); err != nil {
		return err
	}
	method, path := resp.Request.Method, resp.Request.URL.Path
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: %s %s: reading body: %w", c.name, method, path, err)
	}
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" && d != want.Digest {
		return fmt.Errorf("%s: %s %s: Docker-Content-Digest %s, want %s", c.name, method, path, d, want.Digest)
	}
	if method == http.MethodGet && n != want.Size {
		return fmt.Errorf("%s: GET %s: got %d bytes, want %d", c.name, path, n, want.Size)
	}
	return nil
}

// conn is one keep-alive HTTP/1.1 connection that a single load worker drives itself,
// sending one fixed request again and again. It skips http.Client's per-connection read and
// write goroutines, which on a small machine cost the client about half the CPU the server
// spends on a manifest request; the request bytes are rendered once.
type conn struct {
	c       *client
	req     *http.Request
	wire    []byte // req as sent
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// newConn prepares a connection for repeating req (not dialed until the first request).
func (c *client) newConn(req *http.Request) (*conn, error) {
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		return nil, err
	}
	return &conn{c: c, req: req, wire: b.Bytes(), timeout: 30 * time.Second}, nil
}

// roundTrip sends the request once and returns the response, whose body the caller reads
// and closes before the next roundTrip. A connection the server closed while idle is
// redialed once.
func (k *conn) roundTrip() (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		fresh := k.nc == nil
		if fresh {
			nc, err := net.DialTimeout("tcp", k.c.base.Host, 5*time.Second)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.c.name, err)
			}
			k.nc, k.r = nc, bufio.NewReaderSize(nc, 16<<10)
		}
		_ = k.nc.SetDeadline(time.Now().Add(k.timeout))
		_, err := k.nc.Write(k.wire)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(k.r, k.req)
		}
		if err == nil {
			if resp.Close {
				resp.Body = closeAfter{resp.Body, k}
			}
			return resp, nil
		}
		k.close()
		if fresh || attempt > 0 {
			return nil, fmt.Errorf("%s: %s %s: %w", k.c.name, k.req.Method, k.req.URL.Path, err)
		}
	}
}

// close drops the connection; the next roundTrip dials again.
func (k *conn) close() {
	if k.nc != nil {
		k.nc.Close()
		k.nc, k.r = nil, nil
	}
}

// closeAfter closes the connection when a "Connection: close" response's body is closed.
type closeAfter struct {
	io.ReadCloser
	k *conn
}

func (c closeAfter) Close() error {
	err := c.ReadCloser.Close()
	c.k.close()
	return err
}

package awsproto

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
)

// RequestContext is what the handlers and the audit trail know about a request beyond its
// input: its id, where it came from and how.
type RequestContext struct {
	RequestID       string     // a UUID, sent back as x-amzn-RequestId and in XML bodies
	SourceIP        netip.Addr // aws:SourceIp: the client, behind trusted proxies only
	SecureTransport bool       // aws:SecureTransport: TLS to us, or to a trusted proxy
	UserAgent       string     // aws:UserAgent
	ReceivedAt      time.Time  // aws:CurrentTime
}

// ClientInfo derives RequestContexts. Proxies lists the networks of reverse proxies whose
// X-Forwarded-For and X-Forwarded-Proto headers are believed; from anyone else those
// headers are ignored, so a client cannot choose its own aws:SourceIp.
type ClientInfo struct {
	Proxies []netip.Prefix
	Now     func() time.Time // nil: time.Now
}

// ParseProxies reads a configured list of trusted proxies: addresses ("10.0.0.7", "::1")
// or networks ("10.0.0.0/8"), as ClientInfo.Proxies.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, item := range list {
		item = strings.TrimSpace(item)
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR network", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// NewRequestContext builds the RequestContext of r with a fresh request id.
func (c ClientInfo) NewRequestContext(r *http.Request) RequestContext {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	peer := remoteIP(r.RemoteAddr)
	rc := RequestContext{
		RequestID:       NewRequestID(),
		SourceIP:        peer,
		SecureTransport: r.TLS != nil,
		UserAgent:       r.Header.Get("User-Agent"),
		ReceivedAt:      now().UTC(),
	}
	if !c.trusted(peer) {
		return rc
	}
	rc.SourceIP = c.forwardedClient(peer, r.Header.Values("X-Forwarded-For"))
	if proto := lastListItem(r.Header.Values("X-Forwarded-Proto")); proto != "" {
		rc.SecureTransport = strings.EqualFold(proto, "https")
	}
	return rc
}

// forwardedClient walks X-Forwarded-For from the right (the hop nearest to us) and returns
// the first address that is not a trusted proxy. Addresses to the left of an untrusted hop
// were written by the client and are never believed.
func (c ClientInfo) forwardedClient(peer netip.Addr, headers []string) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			if ap, perr := netip.ParseAddrPort(strings.TrimSpace(hops[i])); perr == nil {
				addr, err = ap.Addr(), nil
			}
		}
		if err != nil {
			return client // garbage in the chain: stop at the last hop we could vouch for
		}
		client = addr.Unmap()
		if !c.trusted(client) {
			return client
		}
	}
	return client
}

func (c ClientInfo) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range c.Proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func lastListItem(headers []string) string {
	if len(headers) == 0 {
		return ""
	}
	items := strings.Split(headers[len(headers)-1], ",")
	return strings.TrimSpace(items[len(items)-1])
}

func remoteIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// NewRequestID returns a random request id in the UUID form AWS uses.
func NewRequestID() string { return uuid.NewString() }

type requestContextKey struct{}

// WithRequestContext returns ctx carrying rc.
func WithRequestContext(ctx context.Context, rc RequestContext) context.Context {
	return context.WithValue(ctx, requestContextKey{}, rc)
}

// RequestContextFrom returns the RequestContext carried by ctx, if any.
func RequestContextFrom(ctx context.Context) (RequestContext, bool) {
	rc, ok := ctx.Value(requestContextKey{}).(RequestContext)
	return rc, ok
}

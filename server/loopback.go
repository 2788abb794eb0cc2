package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// NotLoopbackError refuses a listen address that could be reached from another machine for
// a server without authorization (InsecureNoAuth).
type NotLoopbackError struct {
	Addr   string // the address as given
	Reason string // why it is not loopback
}

func (e *NotLoopbackError) Error() string {
	return fmt.Sprintf("refusing to listen on %q (%s) with --insecure-no-auth: a registry without "+
		"authentication accepts no requests from other machines, so it listens only on loopback addresses "+
		"(127.0.0.0/8, ::1, localhost); use for example --listen 127.0.0.1:5000, or drop --insecure-no-auth", e.Addr, e.Reason)
}

// CheckLoopback returns a *NotLoopbackError unless every address that addr (host:port) can
// mean is a loopback address. An empty host means every interface and is refused; a host name
// is resolved and all of its addresses must be loopback.
func CheckLoopback(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		return &NotLoopbackError{Addr: addr, Reason: "an empty host means every interface"}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return &NotLoopbackError{Addr: addr, Reason: ip.String() + " is not a loopback address"}
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return &NotLoopbackError{Addr: addr, Reason: fmt.Sprintf("%s resolves to %s", strings.ToLower(host), ip)}
		}
	}
	return nil
}

// isLoopbackListener reports whether a bound listener's address is a loopback address.
func isLoopbackListener(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

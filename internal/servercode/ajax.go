package servercode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/dop251/goja"
)

const maxAjaxBody = 10 << 20

// errNoAjax is $.ajax to another host while the operator allows none.
var errNoAjax = errors.New("$.ajax is off: the operator allows no hosts (--servercode-allow-hosts); only Kumo's own API at Kii.getBaseURL() is reachable")

// newAjaxClient returns the client of $.ajax: no proxy, redirects only to
// allowed hosts, and a dialer refusing every address that is not public,
// checked on the resolved IP (a name resolving to 127.0.0.1 is refused).
func newAjaxClient(allow []string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if !publicAddr(ip) {
			return fmt.Errorf("$.ajax refused: %s is a loopback, private or link-local address", ip)
		}
		return nil
	}}
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("$.ajax: too many redirects")
			}
			return allowedHost(allow, req.URL.Hostname())
		},
	}
}

// nonPublic are ranges beyond the standard library's predicates that
// $.ajax never reaches: "this network", CGNAT, benchmarking, reserved
// (IPv4); NAT64 (it maps IPv4, loopback and private included), the
// deprecated site-local prefix, documentation, discard and 6to4 (IPv6).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2002::/16"),
}

// publicAddr reports whether ip may be reached by $.ajax.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// allowedHost says whether the operator allows $.ajax to host.
func allowedHost(allow []string, host string) error {
	if len(allow) == 0 {
		return errNoAjax
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "*", a == host:
			return nil
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]):
			return nil
		}
	}
	return fmt.Errorf("$.ajax refused: %s is not among the hosts the operator allows (--servercode-allow-hosts)", host)
}

// ajaxCall is __kii_ajax(method, url, headers, body): Kumo's own API in
// process, another allowed host over the network. It throws what went
// wrong; $.ajax turns that into its error callback.
func (v *vm) ajaxCall(c goja.FunctionCall) goja.Value {
	r := v.run
	method := strings.ToUpper(c.Argument(0).String())
	raw := c.Argument(1).String()
	headers := stringMap(c.Argument(2))
	var body *string
	if b := c.Argument(3); !goja.IsUndefined(b) && !goja.IsNull(b) {
		s := b.String()
		body = &s
	}
	status, h, out, err := r.e.ajaxDo(r.ctx, r.call.RemoteAddr, method, raw, headers, body)
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	return v.response(status, h, out)
}

func (e *Engine) ajaxDo(ctx context.Context, remote, method, raw string, headers map[string]string, body *string) (int, http.Header, []byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("$.ajax: %q is not a URL", raw)
	}
	base, _ := url.Parse(e.cfg.BaseURL())
	if u.Host == "" || base != nil && strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host) {
		if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
			return 0, nil, nil, fmt.Errorf("$.ajax: %q is not an absolute URL", raw)
		}
		return e.inProcess(ctx, remote, method, u.RequestURI(), headers, body)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return 0, nil, nil, fmt.Errorf("$.ajax: only http and https URLs, not %q", raw)
	}
	if err := allowedHost(e.cfg.AllowHosts, u.Hostname()); err != nil {
		return 0, nil, nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("$.ajax: %v", err)
	}
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := e.ajax.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var dns *net.DNSError
		if errors.As(err, &dns) { // its text names the server's own resolver
			err = fmt.Errorf("the name %s does not resolve", dns.Name)
		}
		return 0, nil, nil, fmt.Errorf("$.ajax to %s failed: %v", u.Host, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxAjaxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("$.ajax to %s failed: %v", u.Host, err)
	}
	return resp.StatusCode, resp.Header, out, nil
}

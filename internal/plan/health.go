package plan

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"strings"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/script"
)

// healthConfig translates the virtual servers of a keepalived.conf into
// health's Config. conf has already resolved keepalived's inheritance, so
// every checker carries its effective timing. Every checker that does not
// translate gives an error at its line.
func healthConfig(cfg *conf.Config) (*health.Config, []error) {
	var errs []error
	g := cfg.Global
	hc := &health.Config{
		RouterID:       g.RouterID,
		Scripts:        scriptPolicy(cfg),
		LogAllFailures: g.CheckerLogAllFailures,
		RSInitNotifies: g.RSInitNotifies,
		SMTPAlert:      g.SMTPAlertChecker,
	}
	if hc.SMTPAlert == nil {
		hc.SMTPAlert = g.SMTPAlert
	}
	tlsConf, err := sslContext(cfg.SSL)
	if err != nil {
		errs = append(errs, err)
	}
	files := map[string]*conf.TrackFile{}
	for _, f := range cfg.TrackFiles {
		files[f.Name] = f
	}
	for _, vs := range cfg.VirtualServers {
		hv := health.VirtualServer{
			Protocol:           health.Protocol(strings.ToLower(vs.Protocol)),
			FWMark:             vs.Fwmark,
			Group:              vs.Group,
			Quorum:             int64(vs.Quorum),
			Hysteresis:         int64(vs.Hysteresis),
			QuorumUp:           spec(vs.QuorumUp),
			QuorumDown:         spec(vs.QuorumDown),
			SorryServerInhibit: vs.SorryServerInhibit,
			Alpha:              vs.Alpha,
			Omega:              vs.Omega,
			InhibitOnFailure:   vs.InhibitOnFailure,
			HASuspend:          vs.HASuspend,
			SMTPAlert:          vs.SMTPAlert,
			Virtualhost:        vs.Virtualhost,
			Timing:             health.Timing{DelayLoop: vs.DelayLoop},
		}
		if vs.Addr.IsValid() || vs.Group != "" {
			a := vs.Addr
			if !a.IsValid() {
				a = netip.IPv4Unspecified()
			}
			hv.Addr = netip.AddrPortFrom(a, vs.Port)
		}
		if vs.SorryServer != nil {
			hv.SorryServer = netip.AddrPortFrom(vs.SorryServer.Addr, vs.SorryServer.Port)
		}
		for _, rs := range vs.RealServers {
			hr := health.RealServer{
				Addr:             netip.AddrPortFrom(rs.Addr, rs.Port),
				Weight:           int64(rs.Weight),
				InhibitOnFailure: boolRef(rs.InhibitOnFailure),
				NotifyUp:         spec(rs.NotifyUp),
				NotifyDown:       spec(rs.NotifyDown),
				SMTPAlert:        rs.SMTPAlert,
				Alpha:            boolRef(rs.Alpha),
				Virtualhost:      rs.Virtualhost,
				Timing:           health.Timing{DelayLoop: rs.DelayLoop},
			}
			for _, c := range rs.Checkers {
				hcheck, err := healthCheck(c, files, tlsConf)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				hr.Checks = append(hr.Checks, hcheck)
			}
			hv.Reals = append(hv.Reals, hr)
		}
		hc.Services = append(hc.Services, hv)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return hc, nil
}

func boolRef(b bool) *bool { return &b }

func connOpts(c *conf.Checker) health.ConnOpts {
	return health.ConnOpts{Addr: c.ConnectIP, Port: c.ConnectPort, BindAddr: c.BindTo, BindPort: c.BindPort,
		BindIface: c.BindIf, Mark: c.Fwmark}
}

func healthCheck(c *conf.Checker, files map[string]*conf.TrackFile, tlsConf *tls.Config) (health.Check, error) {
	kind, ok := health.KindNamed(c.Type)
	if !ok {
		return health.Check{}, errAt(c.Pos, "%s is not supported", c.Type)
	}
	retry := c.Retry
	hc := health.Check{
		Kind: kind,
		Conn: connOpts(c),
		Timing: health.Timing{
			DelayLoop:        c.DelayLoop,
			DelayBeforeRetry: c.DelayBeforeRetry,
			Retry:            &retry,
			Warmup:           c.Warmup,
			ConnectTimeout:   c.ConnectTimeout,
		},
		Alpha:          boolRef(c.Alpha),
		LogAllFailures: boolRef(c.LogAllFailures),
	}
	switch {
	case c.HTTP != nil:
		h := c.HTTP
		hc.HTTP = health.HTTPCheck{Virtualhost: h.Virtualhost, Protocol: h.Protocol, FastRecovery: h.FastRecovery,
			EnableSNI: h.EnableSNI, SNIName: h.SNIName}
		if kind == health.KindSSL {
			hc.HTTP.TLS = tlsConf
		}
		for _, u := range h.URLs {
			hu := health.URL{Path: u.Path, Digest: u.Digest, Virtualhost: u.Virtualhost,
				Regex: u.RE2(), RegexNoMatch: u.RegexNoMatch, RegexMinOffset: u.RegexMinOffset, RegexMaxOffset: u.RegexMaxOffset}
			for _, r := range u.StatusCodes {
				hu.StatusCodes = append(hu.StatusCodes, health.StatusRange{Min: r.Lo, Max: r.Hi})
			}
			hc.HTTP.URLs = append(hc.HTTP.URLs, hu)
		}
	case c.SMTP != nil:
		hc.SMTP = health.SMTPCheck{HeloName: c.SMTP.HeloName}
		for _, h := range c.SMTP.Hosts {
			hc.SMTP.Hosts = append(hc.SMTP.Hosts, connOpts(h))
		}
	case c.Misc != nil:
		hc.Misc = health.MiscCheck{Script: spec(c.Misc.Path), Timeout: c.Misc.Timeout, Dynamic: c.Misc.Dynamic}
	case c.DNS != nil:
		hc.DNS = health.DNSCheck{Type: c.DNS.Type, Name: c.DNS.Name}
	case c.UDP != nil:
		u := c.UDP
		hc.UDP = health.UDPCheck{Payload: u.Payload, RequireReply: u.RequireReply != nil, Reply: u.RequireReply,
			MinReplyLen: u.MinReplyLength, MaxReplyLen: u.MaxReplyLength}
		if u.RequireMask != nil {
			// conf's mask has 0xff where a byte must match; health's has the
			// bits that may differ.
			hc.UDP.ReplyMask = make([]byte, len(u.RequireMask))
			for i, m := range u.RequireMask {
				hc.UDP.ReplyMask[i] = ^m
			}
		}
	case c.File != nil:
		tf := files[c.File.TrackFile]
		if tf == nil {
			return health.Check{}, errAt(c.Pos, "FILE_CHECK: track_file %s is not defined", c.File.TrackFile)
		}
		w := int64(tf.Weight)
		if c.File.Weight != nil {
			w = int64(*c.File.Weight)
		}
		hc.File = health.FileCheck{Path: tf.File, Weight: w, Reverse: c.File.Reverse || tf.Reverse}
	}
	return hc, nil
}

// spec turns a conf script into an internal/script Spec.
func spec(s *conf.Script) script.Spec {
	if s == nil {
		return script.Spec{}
	}
	return script.Spec{Argv: s.Argv, User: s.User, Group: s.Group}
}

// scriptPolicy is global_defs script_user and enable_script_security.
func scriptPolicy(cfg *conf.Config) script.Policy {
	return script.Policy{User: cfg.Global.ScriptUser, Group: cfg.Global.ScriptGroup,
		EnableSecurity: cfg.Global.EnableScriptSecurity}
}

// sslContext builds the TLS client configuration of SSL_GET checkers from
// the SSL block. Without one, keepalived does not verify certificates.
func sslContext(s *conf.SSLContext) (*tls.Config, error) {
	if s == nil {
		return nil, nil
	}
	tc := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10} //nolint:gosec // keepalived checks reachability, not identity, unless a CA is given
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, errAt(s.Pos, "SSL ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errAt(s.Pos, "SSL ca %s: no certificate found", s.CA)
		}
		tc.RootCAs = pool
		tc.InsecureSkipVerify = false
	}
	if s.Certificate != "" {
		key := s.Key
		if key == "" {
			key = s.Certificate
		}
		cert, err := tls.LoadX509KeyPair(s.Certificate, key)
		if err != nil {
			return nil, errAt(s.Pos, "SSL certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

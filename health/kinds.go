package health

import "time"

// kindSpec is one checker kind: its keepalived.conf keyword, its defaults,
// and how it builds its prober. A kind is one file (its prober and build
// function) and one row of kinds.
type kindSpec struct {
	// name is the keyword of the checker block (TCP_CHECK).
	name string
	// port is checked when neither connect_port nor the real server gives
	// one; with needPort, no port is an error.
	port     uint16
	needPort bool
	// retry is the default retry (nb_get_retry).
	retry int
	// delayBeforeRetry is the default delay_before_retry for a delay_loop
	// (nil: one second).
	delayBeforeRetry func(delayLoop time.Duration) time.Duration
	// conns are the connections checked, one checker each (nil: the
	// checker's own).
	conns func(*Check) []ConnOpts
	// build makes the prober of one connection; it may name the checker's
	// target and set its kind's options.
	build func(*probeArgs) (prober, error)
	// settings are the kind's own settings, which make a checker another
	// one across a reload (nil: none).
	settings func(*Check) any
}

// probeArgs is what a kind's build works from.
type probeArgs struct {
	// kind is the checker's keyword.
	kind string
	r    *Runner
	cfg  *Config
	v    *VirtualServer
	rc   *RealServer
	chk  *Check
	conn Conn
	t    timing
	// c is the checker being built: build may set its name and options.
	c *checker
}

// kinds are the checker kinds. A Kind without a row is unknown: its
// checkers are refused.
var kinds = map[Kind]kindSpec{
	KindTCP:  {name: "TCP_CHECK", needPort: true, retry: 1, build: buildTCP},
	KindHTTP: {name: "HTTP_GET", needPort: true, retry: 1, delayBeforeRetry: threeSeconds, build: buildHTTP, settings: httpSettings},
	KindSSL:  {name: "SSL_GET", needPort: true, retry: 1, delayBeforeRetry: threeSeconds, build: buildHTTP, settings: httpSettings},
	KindSMTP: {name: "SMTP_CHECK", port: 25, retry: 1, conns: smtpConns, build: buildSMTP, settings: smtpSettings},
	KindMisc: {name: "MISC_CHECK", retry: 0, build: buildMisc, settings: func(c *Check) any { return c.Misc }},
	KindDNS: {name: "DNS_CHECK", port: 53, retry: 3, delayBeforeRetry: func(loop time.Duration) time.Duration { return loop },
		build: buildDNS, settings: func(c *Check) any { return c.DNS }},
	KindPing: {name: "PING_CHECK", retry: 1, build: buildPing},
	KindUDP:  {name: "UDP_CHECK", needPort: true, retry: 1, build: buildUDP, settings: func(c *Check) any { return c.UDP }},
	KindFile: {name: "FILE_CHECK", retry: 1, build: buildFile, settings: func(c *Check) any { return c.File }},
}

func threeSeconds(time.Duration) time.Duration { return 3 * time.Second }

// KindNamed is the kind whose checker block keepalived.conf calls name.
func KindNamed(name string) (Kind, bool) {
	for k, s := range kinds {
		if s.name == name {
			return k, true
		}
	}
	return 0, false
}

// String returns the keepalived.conf keyword of the kind.
func (k Kind) String() string {
	if s, ok := kinds[k]; ok {
		return s.name
	}
	return "UNKNOWN_CHECK"
}

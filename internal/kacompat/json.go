package kacompat

import (
	"bufio"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ulvs/ulvs/vrrp"
)

// Instance is one entry of keepalived's JSON dump (vrrp_json.c): the
// instance's settings and state, and its counters.
type Instance struct {
	Data  Data
	Stats vrrp.Stats
}

// Data is an instance's "data" object. Fields are written in keepalived's
// order and with its types: flags keepalived keeps as integers are written
// 0 or 1, the others true or false; durations in seconds.
type Data struct {
	IName                string
	DontTrackPrimary     bool // 0/1
	SkipCheckAdvAddr     bool // 0/1
	StrictMode           bool // 0/1
	VMACIfname           string
	IfpIfname            string // left out when empty, as keepalived does without an interface
	MasterPriority       int
	LastTransition       time.Time // seconds.microseconds; zero when never
	GarpDelay            time.Duration
	GarpRefresh          time.Duration
	GarpRep              int
	GarpRefreshRep       int
	GarpLowerPrioDelay   time.Duration
	GarpLowerPrioRep     int
	LowerPrioNoAdvert    bool // 0/1
	HigherPrioSendAdvert bool // 0/1
	VRID                 int
	BasePriority         int
	EffectivePriority    int
	VIPSet               bool
	PromoteSecondaries   bool
	AdverInt             time.Duration
	MasterAdverInt       time.Duration
	Accept               bool // 0/1
	Nopreempt            bool
	PreemptDelay         time.Duration
	State                int // keepalived's numbers: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT
	WantState            int
	Version              int
	SMTPAlert            bool
	NotifyDeleted        bool

	// Notify scripts, each as keepalived quotes a command ('/bin/x' 'arg');
	// an empty one is left out.
	ScriptBackup, ScriptMaster, ScriptFault, ScriptStop, ScriptDeleted, Script, ScriptMasterRxLowerPri string

	// Lists in keepalived's words; an empty one is left out.
	VIPs, EVIPs, VRoutes, VRules, TrackIfp, TrackScript []string

	AuthType int    // 0 none, 1 PASS, 2 AH
	AuthData string // written only with an authentication type
}

// WriteJSON writes the JSON dump: an array of instances, on one line, then
// a newline, as keepalived's json_writer does (it also escapes '/').
func WriteJSON(w io.Writer, instances []Instance) error {
	e := &jsonWriter{w: bufio.NewWriter(w)}
	e.raw("[")
	for i := range instances {
		if i > 0 {
			e.raw(",")
		}
		e.instance(&instances[i])
	}
	e.raw("]\n")
	return e.w.Flush()
}

type jsonWriter struct {
	w     *bufio.Writer
	first bool
	buf   []byte
}

func (e *jsonWriter) raw(s string) { e.w.WriteString(s) }

func (e *jsonWriter) name(n string) {
	if !e.first {
		e.w.WriteByte(',')
	}
	e.first = false
	e.str(n)
	e.w.WriteByte(':')
}

func (e *jsonWriter) open(n string) {
	e.name(n)
	e.w.WriteByte('{')
	e.first = true
}

func (e *jsonWriter) close() {
	e.w.WriteByte('}')
	e.first = false
}

func (e *jsonWriter) uint(n string, v uint64) {
	e.name(n)
	e.buf = strconv.AppendUint(e.buf[:0], v, 10)
	e.w.Write(e.buf)
}

func (e *jsonWriter) int(n string, v int) { e.uint(n, uint64(max(v, 0))) }

func (e *jsonWriter) flag(n string, v bool) {
	if v {
		e.uint(n, 1)
	} else {
		e.uint(n, 0)
	}
}

func (e *jsonWriter) bool(n string, v bool) {
	e.name(n)
	e.raw(strconv.FormatBool(v))
}

// seconds writes a duration as keepalived's %g of seconds.
func (e *jsonWriter) seconds(n string, d time.Duration) {
	e.name(n)
	e.buf = strconv.AppendFloat(e.buf[:0], d.Seconds(), 'g', 6, 64)
	e.w.Write(e.buf)
}

// wholeSeconds writes a duration as keepalived's integer seconds.
func (e *jsonWriter) wholeSeconds(n string, d time.Duration) {
	e.uint(n, uint64(max(d, 0)/time.Second))
}

func (e *jsonWriter) string(n, v string) {
	e.name(n)
	e.str(v)
}

func (e *jsonWriter) optString(n, v string) {
	if v != "" {
		e.string(n, v)
	}
}

func (e *jsonWriter) list(n string, vs []string) {
	if len(vs) == 0 {
		return
	}
	e.name(n)
	e.w.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			e.w.WriteByte(',')
		}
		e.str(v)
	}
	e.w.WriteByte(']')
}

// str writes a JSON string the way keepalived's jsonw_puts does ('/' as
// "\/"), and escapes every control character so the result is always
// valid JSON.
func (e *jsonWriter) str(s string) {
	const hex = "0123456789abcdef"
	e.w.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				e.raw(`\ufffd`)
			} else {
				e.raw(s[i : i+size])
			}
			i += size
			continue
		}
		switch c {
		case '\t':
			e.raw(`\t`)
		case '\n':
			e.raw(`\n`)
		case '\r':
			e.raw(`\r`)
		case '\f':
			e.raw(`\f`)
		case '\b':
			e.raw(`\b`)
		case '\\':
			e.raw(`\\`)
		case '"':
			e.raw(`\"`)
		case '/':
			e.raw(`\/`)
		default:
			if c < 0x20 || c == 0x7f {
				e.raw(`\u00`)
				e.w.WriteByte(hex[c>>4])
				e.w.WriteByte(hex[c&0xf])
			} else {
				e.w.WriteByte(c)
			}
		}
		i++
	}
	e.w.WriteByte('"')
}

// transition writes seconds.microseconds exactly (keepalived's "%f" of a
// timeval), without a float's rounding.
func (e *jsonWriter) transition(n string, t time.Time) {
	e.name(n)
	var sec, usec int64
	if !t.IsZero() {
		sec, usec = t.Unix(), int64(t.Nanosecond()/1000)
	}
	e.buf = strconv.AppendInt(e.buf[:0], sec, 10)
	e.buf = append(e.buf, '.')
	u := strconv.FormatInt(usec, 10)
	for range 6 - len(u) {
		e.buf = append(e.buf, '0')
	}
	e.buf = append(e.buf, u...)
	e.w.Write(e.buf)
}

func (e *jsonWriter) instance(in *Instance) {
	d := &in.Data
	e.w.WriteByte('{')
	e.first = true
	e.open("data")
	e.string("iname", d.IName)
	e.flag("dont_track_primary", d.DontTrackPrimary)
	e.flag("skip_check_adv_addr", d.SkipCheckAdvAddr)
	e.flag("strict_mode", d.StrictMode)
	e.string("vmac_ifname", d.VMACIfname)
	e.optString("ifp_ifname", d.IfpIfname)
	e.int("master_priority", d.MasterPriority)
	e.transition("last_transition", d.LastTransition)
	e.wholeSeconds("garp_delay", d.GarpDelay)
	e.wholeSeconds("garp_refresh", d.GarpRefresh)
	e.int("garp_rep", d.GarpRep)
	e.int("garp_refresh_rep", d.GarpRefreshRep)
	e.wholeSeconds("garp_lower_prio_delay", d.GarpLowerPrioDelay)
	e.int("garp_lower_prio_rep", d.GarpLowerPrioRep)
	e.flag("lower_prio_no_advert", d.LowerPrioNoAdvert)
	e.flag("higher_prio_send_advert", d.HigherPrioSendAdvert)
	e.int("vrid", d.VRID)
	e.int("base_priority", d.BasePriority)
	e.int("effective_priority", d.EffectivePriority)
	e.bool("vipset", d.VIPSet)
	e.bool("promote_secondaries", d.PromoteSecondaries)
	e.seconds("adver_int", d.AdverInt)
	e.seconds("master_adver_int", d.MasterAdverInt)
	e.flag("accept", d.Accept)
	e.bool("nopreempt", d.Nopreempt)
	e.wholeSeconds("preempt_delay", d.PreemptDelay)
	e.int("state", d.State)
	e.int("wantstate", d.WantState)
	e.int("version", d.Version)
	e.bool("smtp_alert", d.SMTPAlert)
	e.bool("notify_deleted", d.NotifyDeleted)
	e.optString("script_backup", d.ScriptBackup)
	e.optString("script_master", d.ScriptMaster)
	e.optString("script_fault", d.ScriptFault)
	e.optString("script_stop", d.ScriptStop)
	e.optString("script_deleted", d.ScriptDeleted)
	e.optString("script", d.Script)
	e.optString("script_master_rx_lower_pri", d.ScriptMasterRxLowerPri)
	e.list("vips", d.VIPs)
	e.list("evips", d.EVIPs)
	e.list("vroutes", d.VRoutes)
	e.list("vrules", d.VRules)
	e.list("track_ifp", d.TrackIfp)
	e.list("track_script", d.TrackScript)
	e.int("auth_type", d.AuthType)
	if d.AuthType != 0 {
		e.string("auth_data", d.AuthData)
	}
	e.close()
	s := &in.Stats
	e.open("stats")
	for _, c := range []struct {
		n string
		v uint64
	}{
		{"advert_rcvd", s.AdvertRcvd}, {"advert_sent", s.AdvertSent},
		{"become_master", s.BecomeMaster}, {"release_master", s.ReleaseMaster},
		{"packet_len_err", s.PacketLenErr}, {"advert_interval_err", s.AdvertIntervalErr},
		{"ip_ttl_err", s.IPTTLErr}, {"invalid_type_rcvd", s.InvalidTypeRcvd},
		{"addr_list_err", s.AddrListErr}, {"invalid_authtype", s.InvalidAuthType},
		{"authtype_mismatch", s.AuthTypeMismatch}, {"auth_failure", s.AuthFailure},
		{"pri_zero_rcvd", s.PriZeroRcvd}, {"pri_zero_sent", s.PriZeroSent},
	} {
		e.uint(c.n, c.v)
	}
	e.close()
	e.w.WriteByte('}')
	e.first = false
}

// Command quotes a script's words as keepalived's cmd_str does: each word
// in single quotes, separated by spaces.
func Command(argv []string) string {
	var b []byte
	for i, a := range argv {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, '\'')
		b = append(b, a...)
		b = append(b, '\'')
	}
	return string(b)
}

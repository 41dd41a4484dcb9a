package kacompat

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/conf"
)

// KeepalivedVersion is the keepalived release whose command line,
// configuration, signals and dump files ulvs reproduces. Version parsers
// read it from the first line of `keepalived -v`.
const KeepalivedVersion = "2.2.7"

// Features are the compile-time options of keepalived that ulvs behaves as
// having: configure's --enable-X words and the "Config options" names.
type Features struct {
	Configure []string
	Options   []string
}

// feature ties a keepalived build option to the keyword that exists only
// with it: ulvs has the option exactly when conf supports that keyword.
type feature struct {
	configure, option string
	block, keyword    string
}

var keywordFeatures = []feature{
	{"--enable-regex", "REGEX", "url", "regex"},
	{"--enable-track-process", "TRACK_PROCESS", "(top level)", "vrrp_track_process"},
	{"--enable-bfd", "BFD", "(top level)", "bfd_instance"},
	{"--enable-snmp", "SNMP", "global_defs", "enable_snmp_vrrp"},
	{"--enable-dbus", "DBUS", "global_defs", "enable_dbus"},
	{"", "VRRP_VMAC", "vrrp_instance", "use_vmac"},
	{"", "NFTABLES", "global_defs", "nftables"},
}

// CurrentFeatures derives the features from conf's keyword table. JSON is
// always there: ulvsd writes the JSON dump on SIGRTMIN+2.
func CurrentFeatures() Features {
	supported := map[string]bool{}
	for _, k := range conf.Keywords() {
		if k.Status == conf.Supported {
			supported[k.Block+" "+k.Keyword] = true
		}
	}
	f := Features{Configure: []string{"--enable-json"}, Options: []string{"LVS", "VRRP", "VRRP_AUTH"}}
	for _, ft := range keywordFeatures {
		if !supported[ft.block+" "+ft.keyword] {
			continue
		}
		if ft.configure != "" {
			f.Configure = append(f.Configure, ft.configure)
		}
		f.Options = append(f.Options, ft.option)
	}
	f.Configure = append(f.Configure, "--with-init=systemd")
	f.Options = append(f.Options, "JSON", "INIT=systemd")
	return f
}

// WriteVersion writes what `keepalived -v` writes (keepalived writes it on
// stderr), in keepalived's layout: the first line names the keepalived
// version ulvs reproduces and says that this is ulvsd, then the build, the
// system and the configure options.
func WriteVersion(w io.Writer, ulvsVersion string, f Features) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Keepalived v%s (ulvs %s: this is ulvsd, not keepalived; it runs keepalived %s's configurations)",
		KeepalivedVersion, ulvsVersion, KeepalivedVersion)
	p("")
	p("ulvs: keepalived and LVS/IPVS re-done in Go, with the data path in userspace")
	p("")
	p("Built with %s", runtime.Version())
	if u, ok := uname(); ok {
		p("Running on %s", u)
	}
	if d := distro(); d != "" {
		p("Distro: %s", d)
	}
	p("")
	p("configure options: %s", strings.Join(f.Configure, " "))
	p("")
	p("Config options:  %s", strings.Join(f.Options, " "))
}

func uname() (string, bool) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", false
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " +
		unix.ByteSliceToString(u.Version[:]), true
}

// distro is PRETTY_NAME from /etc/os-release, as keepalived prints it.
func distro() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

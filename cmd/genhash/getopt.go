package main

import (
	"strings"
)

// option is one option of genhash's getopt_long table.
type option struct {
	short  byte
	long   string
	hasArg bool
}

var options = []option{
	{'h', "help", false},
	{'v', "verbose", false},
	{'S', "use-ssl", false},
	{'I', "use-sni", false},
	{'s', "server", true},
	{'V', "use-virtualhost", true},
	{'p', "port", true},
	{'u', "url", true},
	{'m', "fwmark", true},
	{'P', "protocol", true},
	{'t', "timeout", true},
}

// parsedOpt is an option found on the command line, in order, or (with
// err set) a word getopt rejected.
type parsedOpt struct {
	short byte
	arg   string
	err   string
}

// getopt parses args (without the program name) as glibc's getopt_long
// does for genhash (with error printing off, so genhash reports rejected
// words itself and goes on): options may follow operands (which are collected),
// short options cluster ("-vS", "-p80"), long options take "=value" or
// the next word and may be abbreviated to a unique prefix, and "--" ends
// the options.
func getopt(args []string) ([]parsedOpt, []string) {
	var opts []parsedOpt
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			return opts, rest
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o := lookupLong(name)
			if o == nil || (hasVal && !o.hasArg) {
				opts = append(opts, parsedOpt{err: "Unknown option " + a})
				continue
			}
			if o.hasArg && !hasVal {
				if i+1 >= len(args) {
					opts = append(opts, parsedOpt{err: "Missing parameter for option " + a})
					continue
				}
				i++
				val = args[i]
			}
			opts = append(opts, parsedOpt{short: o.short, arg: val})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := lookupShort(a[j])
				if o == nil {
					opts = append(opts, parsedOpt{err: "Unknown option -" + string(a[j])})
					continue
				}
				if !o.hasArg {
					opts = append(opts, parsedOpt{short: o.short})
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						opts = append(opts, parsedOpt{err: "Missing parameter for option -" + string(a[j])})
						break
					}
					i++
					val = args[i]
				}
				opts = append(opts, parsedOpt{short: o.short, arg: val})
				break
			}
		default:
			rest = append(rest, a)
		}
	}
	return opts, rest
}

func lookupShort(c byte) *option {
	for i := range options {
		if options[i].short == c {
			return &options[i]
		}
	}
	return nil
}

// lookupLong finds an exact name or a unique prefix.
func lookupLong(name string) *option {
	var found *option
	n := 0
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
		if name != "" && strings.HasPrefix(options[i].long, name) {
			found = &options[i]
			n++
		}
	}
	if n == 1 {
		return found
	}
	return nil
}

package kacompat

import "syscall"

// glibc's real-time signal range (the kernel's starts at 32; glibc keeps
// two for itself).
const (
	sigRTMin = 34
	sigRTMax = 64
)

// The signals keepalived 2.2.7 acts on beyond the classic ones.
const (
	SigJSON       = syscall.Signal(sigRTMin + 2) // JSON dump
	SigStatsClear = syscall.Signal(sigRTMax - 1) // stats dump, then clear
)

// signals are keepalived 2.2.7's --signum names (a build with JSON and
// VRRP, without the thread dumper that adds TDUMP).
var signals = map[string]syscall.Signal{
	"STOP":        syscall.SIGTERM,
	"RELOAD":      syscall.SIGHUP,
	"DATA":        syscall.SIGUSR1,
	"STATS":       syscall.SIGUSR2,
	"STATS_CLEAR": SigStatsClear,
	"JSON":        SigJSON,
}

// SignalNumber is `keepalived --signum NAME`: the names are matched
// exactly, as keepalived does ("json" is unknown to it).
func SignalNumber(name string) (syscall.Signal, bool) {
	s, ok := signals[name]
	return s, ok
}

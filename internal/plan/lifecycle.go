package plan

import (
	"time"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/script"
)

// LifecycleScript is global_defs startup_script or shutdown_script, with
// its timeout (keepalived's default 10 s when not set) and the script
// policy it runs under.
type LifecycleScript struct {
	Policy  script.Policy
	Spec    script.Spec
	Timeout time.Duration
}

// Lifecycle returns the configuration's startup and shutdown scripts (nil
// when not set). The daemon runs the startup script before anything
// starts and the shutdown script after everything stopped, from the
// configuration in force then.
func Lifecycle(cfg *conf.Config) (startup, shutdown *LifecycleScript) {
	g := &cfg.Global
	mk := func(s *conf.Script, timeout time.Duration) *LifecycleScript {
		if s == nil || len(s.Argv) == 0 {
			return nil
		}
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		return &LifecycleScript{Policy: scriptPolicy(cfg), Spec: spec(s), Timeout: timeout}
	}
	return mk(g.StartupScript, g.StartupScriptTimeout), mk(g.ShutdownScript, g.ShutdownScriptTimeout)
}

package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/plan"
)

// runLifecycleScript runs startup_script (before anything starts) or
// shutdown_script (after everything stopped) as keepalived's parent process
// does: under the script user and security rules, waited for, killed at
// its timeout; a failure is logged and ulvsd goes on ("startup script
// failed, status N").
func runLifecycleScript(log *zap.Logger, what string, ls *plan.LifecycleScript) {
	if ls == nil {
		return
	}
	spec, timeout := ls.Spec, ls.Timeout
	s, err := ls.Policy.Prepare(spec)
	if err == nil && s.Disabled != nil {
		err = s.Disabled
	}
	if err != nil {
		log.Error(what+" not run", zap.Strings("script", spec.Argv), zap.Error(err))
		return
	}
	if s.Insecure != "" {
		log.Warn(s.Insecure, zap.String("script", what))
	}
	log.Info("running "+what, zap.Strings("script", spec.Argv), zap.Duration("timeout", timeout))
	res := s.Run(context.Background(), timeout)
	switch {
	case res.TimedOut:
		log.Warn(what+" timed out and was killed", zap.Duration("timeout", timeout))
	case res.Err != nil:
		log.Warn(what+" failed", zap.Error(res.Err))
	case res.ExitCode != 0:
		log.Warn(what+" failed", zap.Int("status", res.ExitCode))
	}
}

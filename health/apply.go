package health

import (
	"go.uber.org/zap"
)

// alphaDown starts the alpha checkers of a new real server down
// (keepalived check_new_rs_state and queue_checker in alpha mode).
func alphaDown(rs *rsState) {
	for _, c := range rs.checkers {
		if c.alpha {
			setCheckerState(c, false)
		}
	}
}

// apply replaces the running configuration by cfg, keeping the state of
// what did not change (keepalived ipwrapper.c clear_diff_services and
// migrate_checkers, then init_services).
func (r *Runner) apply(cfg *Config) error {
	services, err := r.build(cfg)
	if err != nil {
		r.log.Error("configuration not applied", zap.Error(err))
		return err
	}
	oldByKey := map[string]*vsState{}
	for _, vs := range r.services {
		oldByKey[vs.key] = vs
	}
	newKeys := map[string]bool{}
	for _, vs := range services {
		newKeys[vs.key] = true
	}
	// Services that are gone.
	for _, old := range r.services {
		if newKeys[old.key] {
			continue
		}
		old.log.Info("removing virtual server")
		r.stopCheckers(old)
		r.clearServiceVS(old, false)
	}
	r.cfg = cfg
	var started []*checker
	for _, vs := range services {
		old := oldByKey[vs.key]
		if old == nil {
			for _, rs := range vs.reals {
				alphaDown(rs)
				started = append(started, rs.checkers...)
			}
			continue
		}
		vs.quorumUp = old.quorumUp
		started = append(started, r.diffReals(old, vs)...)
		r.diffSorry(old, vs)
	}
	r.services = services
	for _, vs := range services {
		r.updateSuspend(vs)
		r.initServiceVS(vs)
	}
	for _, c := range started {
		r.start(c)
	}
	r.log.Info("configuration applied", zap.Int("services", len(services)))
	return nil
}

func (r *Runner) stopCheckers(vs *vsState) {
	for _, rs := range vs.reals {
		for _, c := range rs.checkers {
			r.stopChecker(c)
		}
	}
}

// diffReals carries the state of the real servers that stay, removes the
// ones that went and returns the checkers to start.
func (r *Runner) diffReals(old, vs *vsState) []*checker {
	byAddr := map[string]*rsState{}
	for _, rs := range vs.reals {
		byAddr[rs.key] = rs
	}
	var started []*checker
	seen := map[string]bool{}
	for _, ors := range old.reals {
		nrs := byAddr[ors.key]
		if nrs == nil {
			old.log.Info("real server no longer exists", zap.String("real_server", ors.key))
			for _, c := range ors.checkers {
				r.stopChecker(c)
			}
			// The new service takes the pool as the old one left it.
			r.clearServiceRS(old, ors, false)
			continue
		}
		seen[ors.key] = true
		nrs.alive, nrs.set, nrs.reloaded = ors.alive, ors.set, true
		// Keep dynamic adjustments (MISC_CHECK, FILE_CHECK) and apply a
		// changed configured weight.
		// New FILE_CHECKs add their status below; removed ones take theirs
		// away.
		nrs.effWeight = ors.effWeight - ors.iweight + nrs.iweight
		started = append(started, r.migrateCheckers(vs, ors, nrs)...)
		if nrs.alive && nrs.set && realWeight(nrs.effWeight) != realWeight(ors.effWeight) {
			r.ipvsCmd(vs, nrs, opEdit)
		}
	}
	for _, rs := range vs.reals {
		if !seen[rs.key] {
			alphaDown(rs)
			started = append(started, rs.checkers...)
		}
	}
	return started
}

// migrateCheckers moves the running checkers of ors that still exist in
// nrs (same kind and settings) over to it, with their state, and settles
// the real server's state (keepalived migrate_checkers).
func (r *Runner) migrateCheckers(vs *vsState, ors, nrs *rsState) []*checker {
	used := make([]bool, len(ors.checkers))
	var started []*checker
	for i, nc := range nrs.checkers {
		var match *checker
		for j, oc := range ors.checkers {
			if !used[j] && oc.kind == nc.kind && oc.spec.cmpKey == nc.spec.cmpKey {
				used[j], match = true, oc
				break
			}
		}
		if match == nil {
			if nc.kind == KindFile && nc.spec.file.Weight != 0 {
				nrs.effWeight += nc.fileStatus
			}
			started = append(started, nc)
			continue
		}
		// The old checker goes on with the new settings.
		match.spec, match.alpha, match.vs, match.rs, match.name, match.target = nc.spec, nc.alpha, vs, nrs, nc.name, nc.target
		if match.st.urlIt >= match.spec.prober.steps() {
			match.st.urlIt, match.st.failedURL = 0, -1
		}
		// Enough retries already spent for the new retry count means one
		// more failure takes it down.
		switch {
		case !match.st.up:
			match.st.retryIt = match.spec.t.retry + 1
		case match.st.retryIt >= match.spec.t.retry:
			match.st.retryIt = match.spec.t.retry
		}
		nrs.checkers[i] = match
	}
	for j, oc := range ors.checkers {
		if !used[j] {
			r.stopChecker(oc)
			if oc.kind == KindFile && oc.spec.file.Weight != 0 {
				nrs.effWeight -= oc.fileStatus
			}
		}
	}
	nrs.numFailed = 0
	aRun := false
	for _, c := range nrs.checkers {
		if c.st.hasRun && !c.st.up {
			nrs.numFailed++
		}
		if c.st.hasRun {
			aRun = true
		}
	}
	if nrs.numFailed > 0 || (!nrs.alive && !aRun) {
		for _, c := range nrs.checkers {
			if !c.st.hasRun {
				if c.alpha {
					setCheckerState(c, false)
				}
				c.st.retryIt = c.spec.t.retry
			}
		}
	}
	switch {
	case nrs.numFailed == 0 && !nrs.alive:
		r.performSvrState(true, vs, nrs, "reloaded with no failed checker")
	case nrs.numFailed > 0 && nrs.set != nrs.inhibit:
		if nrs.inhibit {
			r.ipvsCmd(vs, nrs, opAdd)
		} else {
			r.ipvsCmd(vs, nrs, opDel)
		}
	}
	return started
}

// diffSorry carries the sorry server's state over a reload
// (clear_diff_s_srv).
func (r *Runner) diffSorry(old, vs *vsState) {
	os, ns := old.sorry, vs.sorry
	if os == nil {
		return
	}
	if ns != nil && ns.addr == os.addr {
		ns.alive, ns.set, ns.reloaded = os.alive, os.set, true
		if os.inhibit == ns.inhibit || os.alive {
			return
		}
	}
	reinstate := os.alive && ns == nil
	if os.inhibit && !os.alive {
		os.alive, os.inhibit = true, false
	}
	if os.alive {
		old.log.Info("removing sorry server", zap.String("sorry_server", os.key))
		r.ipvsCmd(old, os, opDel)
		if ns != nil {
			ns.set = false
		}
		if reinstate {
			r.performQuorumState(vs, true)
		}
	}
}

package conf

import "time"

// vrrp_script, track_file and vrrp_track_process: what instances and sync
// groups track.

func openVRRPScript(b *builder, n *Node) {
	name, _ := blockName(b, n, "vrrp_script")
	b.vscr = &VRRPScript{Pos: n.Pos, Name: name, Interval: time.Second, Rise: 1, Fall: 1}
}

func closeVRRPScript(b *builder, n *Node) {
	s := b.vscr
	b.vscr = nil
	if s.Name == "" {
		return
	}
	if s.Script == nil {
		// vrrp_script_end_handler: "No script set for vrrp_script %s -
		// removing", at the block's '}'.
		pos := n.Pos
		if n.End.IsValid() {
			pos = n.End
		}
		b.d.kaf(pos, ClassGeneral, "no script set for vrrp_script %s - removing", s.Name)
		return
	}
	// "user" applies to the script unless the script line named its own.
	if s.Script.User == "" && s.User != "" {
		s.Script.User, s.Script.Group = s.User, s.Group
	}
	b.cfg.Scripts = append(b.cfg.Scripts, s)
}

func vrrpScriptLevel() *level {
	s := func(b *builder) *VRRPScript { return b.vscr }
	return newLevel("vrrp_script").add(
		kwQ("script", func(b *builder, n *Node) {
			if sc := b.script(n); sc != nil {
				s(b).Script = sc
			}
		}),
		kw("interval", func(b *builder, n *Node) {
			if v, ok := b.timer(n, time.Millisecond, 0); ok {
				s(b).Interval = v
			}
		}),
		kw("timeout", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				s(b).Timeout = v
			}
		}),
		kw("weight", func(b *builder, n *Node) {
			if v, ok := b.intAt(n, 0, -253, 253); ok {
				s(b).Weight = v
			}
			if len(n.Args) > 1 {
				switch n.Args[1] {
				case "reverse":
					s(b).Reverse = true
				case "noreverse":
				default:
					b.d.kaf(n.Pos, ClassGeneral, "weight: unknown option '%s'", n.Args[1])
				}
			}
		}),
		kw("rise", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 1<<30); ok {
				s(b).Rise = v
			}
		}),
		kw("fall", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 1<<30); ok {
				s(b).Fall = v
			}
		}),
		kw("user", func(b *builder, n *Node) {
			if u, g, ok := b.userGroup(n); ok {
				s(b).User, s(b).Group = u, g
			}
		}),
		kw("init_fail", func(b *builder, n *Node) { s(b).InitFail = true }),
	)
}

func openTrackFile(b *builder, n *Node) {
	name, _ := blockName(b, n, n.Keyword)
	b.tfile = &TrackFile{Pos: n.Pos, Name: name, Weight: 1}
	if name != "" {
		b.cfg.TrackFiles = append(b.cfg.TrackFiles, b.tfile)
	}
}

func trackFileLevel() *level {
	f := func(b *builder) *TrackFile { return b.tfile }
	return newLevel("track_file").add(
		kwStr("file", func(b *builder) *string { return &f(b).File }),
		kw("weight", func(b *builder, n *Node) {
			if v, ok := b.intAt(n, 0, -254, 254); ok {
				f(b).Weight = v
			}
			if len(n.Args) > 1 && n.Args[1] == "reverse" {
				f(b).Reverse = true
			}
		}),
		kw("init_file", func(b *builder, n *Node) {
			in := &TrackFileInit{}
			for _, a := range n.Args {
				if a == "overwrite" {
					in.Overwrite = true
					continue
				}
				v, err := parseIntWord(a)
				if err != nil {
					b.d.kaf(n.Pos, ClassGeneral, "init_file: invalid value '%s'", a)
					return
				}
				in.Value = int(v)
			}
			f(b).InitFile = in
		}),
	)
}

func openTrackProcess(b *builder, n *Node) {
	name, _ := blockName(b, n, "vrrp_track_process")
	b.tproc = &TrackProcess{Pos: n.Pos, Name: name, Quorum: 1}
	if name != "" {
		b.cfg.TrackProcesses = append(b.cfg.TrackProcesses, b.tproc)
	}
}

func trackProcessLevel() *level {
	p := func(b *builder) *TrackProcess { return b.tproc }
	return newLevel("vrrp_track_process").add(
		kwQ("process", func(b *builder, n *Node) { p(b).Process = append([]string(nil), n.Args...) }),
		kw("param_match", func(b *builder, n *Node) {
			// keepalived: alone it is an exact match of no parameters.
			b.only(n, 1)
			switch {
			case len(n.Args) == 0:
				p(b).ParamMatch = "exact"
			case n.Args[0] == "initial" || n.Args[0] == "partial":
				p(b).ParamMatch = n.Args[0]
			default:
				b.d.kaf(n.Pos, ClassGeneral, "Invalid param_match type %s - ignoring", n.Args[0])
			}
		}),
		kw("weight", func(b *builder, n *Node) {
			if v, ok := b.intAt(n, 0, -254, 254); ok {
				p(b).Weight = v
			}
			if len(n.Args) > 1 && n.Args[1] == "reverse" {
				p(b).Reverse = true
			}
		}),
		kw("quorum", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<30); ok {
				p(b).Quorum = v
			}
		}),
		kw("quorum_max", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<30); ok {
				p(b).QuorumMax = &v
			}
		}),
		kw("delay", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				p(b).Delay = v
			}
		}),
		kw("terminate_delay", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				p(b).TerminateDelay = v
			}
		}),
		kw("fork_delay", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				p(b).ForkDelay = v
			}
		}),
		kw("full_command", func(b *builder, n *Node) { p(b).FullCommand = true }),
	)
}

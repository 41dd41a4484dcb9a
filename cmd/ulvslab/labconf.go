package main

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strings"
	"text/template"
)

//go:embed lab.conf.tmpl
var labConfText string

var labConf = template.Must(template.New("lab.conf").Parse(labConfText))

// labPriority is director i's VRRP priority in the default config:
// director1 is the preferred master.
func labPriority(i int) int { return 110 - 10*i }

// defaultConfig renders the embedded keepalived.conf for director i
// (1-based) of the layout.
func defaultConfig(l layout, i int) (string, error) {
	state := "BACKUP"
	if i == 1 {
		state = "MASTER"
	}
	var reals []netip.Addr
	for r := 1; r <= l.Reals; r++ {
		reals = append(reals, realAddr(l.Mode, r))
	}
	data := struct {
		Mode, Name, State string
		Directors         int
		Priority          int
		VIP, Gateway      netip.Addr
		Reals             []netip.Addr
	}{l.Mode, fmt.Sprintf("director%d", i), state, l.Directors, labPriority(i), vipAddr(0), l.Gateway, reals}
	var b strings.Builder
	if err := labConf.Execute(&b, data); err != nil {
		return "", fmt.Errorf("ulvslab: default config: %w", err)
	}
	return b.String(), nil
}

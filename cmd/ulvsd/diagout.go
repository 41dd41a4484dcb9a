package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
)

// maxDiagLines caps what a configuration's messages print or log: a file
// of garbage makes one per word, and the first ones are what to fix.
const maxDiagLines = 100

// writeDiags prints ds, one "FILE:LINE: error|warning: msg" line each (made
// printable by conf), at most maxDiagLines, then a line counting the rest.
func writeDiags(w io.Writer, file string, ds conf.Diagnostics) {
	for i, d := range ds {
		if i == maxDiagLines {
			fmt.Fprintf(w, "%s: and %d more messages not shown (%d errors in all); fix the first ones and check again\n",
				conf.Printable(file), len(ds)-i, len(ds.Errors()))
			return
		}
		fmt.Fprintln(w, d.String())
	}
}

// logDiags logs ds, errors as errMsg and warnings as "configuration
// warning", at most maxDiagLines, then one line counting the rest.
func logDiags(log *zap.Logger, errMsg string, ds conf.Diagnostics) {
	for i, d := range ds {
		if i == maxDiagLines {
			log.Warn("more configuration messages not shown", zap.Int("not_shown", len(ds)-i),
				zap.Int("errors", len(ds.Errors())))
			return
		}
		at := zap.String("at", conf.Printable(d.Pos.String()))
		if d.Severity == conf.Error {
			log.Error(errMsg, at, zap.String("error", conf.Printable(d.Msg)))
		} else {
			log.Warn("configuration warning", at, zap.String("warning", conf.Printable(d.Msg)))
		}
	}
}

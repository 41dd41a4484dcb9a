// Command testagent is the plainest guest agent: the built-in operations
// only (exec, read_file, signal, ping, shutdown). Package vm's own tests
// boot it.
package main

import (
	"os"

	"github.com/ulvs/ulvs/internal/vm/agent"
)

func main() { os.Exit(agent.Main(agent.New())) }

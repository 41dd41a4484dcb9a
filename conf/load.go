package conf

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Options are the command-line settings that change how a file is read.
type Options struct {
	// ConfigID selects "@ID" conditional lines (keepalived -i). Empty
	// means the host name up to its first dot.
	ConfigID string
	// Env looks up ${_ENV NAME}; nil means os.Getenv.
	Env func(string) string
	// RandomSeed seeds ${_RANDOM}.
	RandomSeed int64
	// AllConfig makes a missing include file an error (keepalived -e).
	AllConfig bool
	// RouteTables maps route table names to numbers; nil reads iproute2's
	// files (RouteTableFiles).
	RouteTables map[string]int

	// noInclude refuses include lines (fuzzing must not read the disk).
	noInclude bool
}

func (o *Options) configID() string {
	if o.ConfigID != "" {
		return o.ConfigID
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// Result is a loaded configuration with its statement tree and messages.
type Result struct {
	Config *Config
	// Tree is the resolved statement tree (includes, definitions,
	// conditionals and loops applied), used by Dump.
	Tree []*Node
	// Diags are all messages, in file order.
	Diags Diagnostics
}

// Load reads a keepalived.conf file. It returns the Config even when the
// file has errors (as far as it could be read), together with a
// *ConfigError; warnings alone do not make an error. Use Read for the
// statement tree and the warnings.
func Load(path string, opts Options) (*Config, error) {
	res, err := Read(path, opts)
	if res == nil {
		return nil, err
	}
	return res.Config, err
}

// Read reads a keepalived.conf file and returns everything learnt from it.
// The error is non-nil when the file cannot be opened or has errors.
func Read(path string, opts Options) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse reads configuration text as if it were the file name (relative
// includes resolve against name's directory).
func Parse(name string, data []byte, opts Options) (*Result, error) {
	d := &diagList{}
	r := newReader(&opts, d)
	r.open(name, bytes.NewReader(data))
	p := &parser{r: r, d: d}
	tree, _ := p.parseLevel(rootLevel(), nil)
	cfg := &Config{}
	b := &builder{cfg: cfg, d: d, opts: &opts}
	// include_check in global_defs changes how later plain includes are
	// checked; keepalived applies it while reading, ulvs on the next load
	// as well as for includes after it, which is what matters in practice.
	b.walk(tree)
	b.finish()
	for f := range r.fileOrder {
		cfg.Files = append(cfg.Files, f)
	}
	sortByOrder(cfg.Files, r.fileOrder)
	res := &Result{Config: cfg, Tree: tree, Diags: d.sorted(r.fileOrder)}
	if res.Diags.HasErrors() {
		return res, &ConfigError{Diags: res.Diags}
	}
	return res, nil
}

func sortByOrder(files []string, order map[string]int) {
	for i := 1; i < len(files); i++ {
		for j := i; j > 0 && order[files[j]] < order[files[j-1]]; j-- {
			files[j], files[j-1] = files[j-1], files[j]
		}
	}
}

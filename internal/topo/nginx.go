package topo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NginxConfig describes an nginx real server.
type NginxConfig struct {
	// Dir holds the configuration, document root, logs and temp files.
	Dir string
	// Listen are nginx listen arguments (default "80" and "[::]:80").
	Listen []string
	// TLSListen are listen arguments for HTTPS (each gets "ssl").
	TLSListen []string
	// TLSCert and TLSKey are PEM files, needed with TLSListen.
	TLSCert, TLSKey string
	// Files are written under the document root (path → content);
	// "/index.html" defaults to "<node name>\n", so each server names itself.
	Files map[string][]byte
	// LimitRate, if not empty, is nginx's limit_rate (e.g. "200k"), to make
	// long transfers.
	LimitRate string
	// Detached starts nginx with StartDetached (its log in Dir/nginx.log):
	// it outlives the caller and the topology's Close leaves it running.
	Detached bool
	// Binary is the nginx executable (default "nginx" from PATH). A
	// symbolic link with another name gives the process that name
	// (/proc/PID/comm), which process tracking matches.
	Binary string
}

// StartNginx starts Debian's nginx in the node, in the foreground, and waits
// until it accepts connections on its first listen address.
func (n *Node) StartNginx(cfg NginxConfig) (*Proc, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("topo: nginx: Dir is required")
	}
	if len(cfg.Listen) == 0 && len(cfg.TLSListen) == 0 {
		cfg.Listen = []string{"80", "[::]:80"}
	}
	root := filepath.Join(cfg.Dir, "www")
	for _, d := range []string{root, filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("topo: nginx: %w", err)
		}
	}
	files := map[string][]byte{"/index.html": []byte(n.Name + "\n")}
	for k, v := range cfg.Files {
		files[k] = v
	}
	for p, b := range files {
		full := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, fmt.Errorf("topo: nginx: %w", err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return nil, fmt.Errorf("topo: nginx: %w", err)
		}
	}
	var listen strings.Builder
	for _, l := range cfg.Listen {
		fmt.Fprintf(&listen, "    listen %s;\n", l)
	}
	for _, l := range cfg.TLSListen {
		fmt.Fprintf(&listen, "    listen %s ssl;\n", l)
	}
	if len(cfg.TLSListen) > 0 {
		fmt.Fprintf(&listen, "    ssl_certificate %s;\n    ssl_certificate_key %s;\n", cfg.TLSCert, cfg.TLSKey)
	}
	limit := ""
	if cfg.LimitRate != "" {
		limit = "    limit_rate " + cfg.LimitRate + ";\n"
	}
	tmp := filepath.Join(cfg.Dir, "tmp")
	conf := fmt.Sprintf(`daemon off;
user root root;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000000;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  server {
%[3]s%[4]s    root %[5]s;
    server_name _;
  }
}
`, cfg.Dir, tmp, listen.String(), limit, root)
	confPath := filepath.Join(cfg.Dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("topo: nginx: %w", err)
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "nginx"
	}
	var p *Proc
	var err error
	if cfg.Detached {
		p, err = n.StartDetached(filepath.Join(cfg.Dir, "nginx.log"), bin, "-c", confPath, "-p", cfg.Dir)
	} else {
		p, err = n.Start(cfg.Dir, bin, "-c", confPath, "-p", cfg.Dir)
	}
	if err != nil {
		return nil, err
	}
	port := "80"
	if len(cfg.Listen) > 0 {
		port = listenPort(cfg.Listen[0])
	} else {
		port = listenPort(cfg.TLSListen[0])
	}
	if err := n.WaitListening("tcp", port, 5*time.Second); err != nil {
		_ = p.Stop(time.Second)
		return nil, fmt.Errorf("%w\n%s", err, p.Log())
	}
	return p, nil
}

func listenPort(l string) string {
	if i := strings.LastIndex(l, ":"); i >= 0 {
		return l[i+1:]
	}
	return l
}

// WaitListening waits until a socket of proto ("tcp" or "udp") listens on
// port inside the node.
func (n *Node) WaitListening(proto, port string, timeout time.Duration) error {
	flag := "-ltnH"
	if proto == "udp" {
		flag = "-lunH"
	}
	deadline := time.Now().Add(timeout)
	for {
		out, err := n.Output(context.Background(), "ss", flag, "sport = :"+port)
		if err == nil && strings.TrimSpace(out) != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topo: %s: nothing listens on %s/%s after %v", n.Name, proto, port, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package vrrp

import "errors"

// Validate checks cfg as New does (every instance resolved, sync groups
// consistent), without building a Node: `ulvsd -t` runs it.
func Validate(cfg *Config) error {
	if cfg == nil {
		return errors.New("vrrp: nil config")
	}
	_, _, err := resolveAll(cfg)
	return err
}

package vrrp

import (
	"reflect"
	"testing"
)

// TestStatsSub: every counter, present and future, counts from the base.
func TestStatsSub(t *testing.T) {
	t.Parallel()
	var now, base, want Stats
	nv, bv, wv := reflect.ValueOf(&now).Elem(), reflect.ValueOf(&base).Elem(), reflect.ValueOf(&want).Elem()
	for i := range nv.NumField() {
		nv.Field(i).SetUint(uint64(100 + 3*i))
		bv.Field(i).SetUint(uint64(i))
		wv.Field(i).SetUint(uint64(100 + 2*i))
	}
	if got := now.Sub(base); got != want {
		t.Errorf("Sub = %+v, want %+v", got, want)
	}
	if got := base.Sub(now); got != base {
		t.Errorf("below the base: %+v, want %+v", got, base)
	}
}

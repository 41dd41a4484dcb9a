package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServe(t *testing.T) {
	t.Parallel()
	host, guest := net.Pipe()
	a := New()
	a.Handle("double", func(_ context.Context, raw json.RawMessage) (any, error) {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		return 2 * n, nil
	})
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), guest); guest.Close() }()

	rd := bufio.NewReader(host)
	call := func(req string) Response {
		t.Helper()
		if _, err := io.WriteString(host, req+"\n"); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var r Response
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		req  string
		want Response
	}{
		{`{"id":1,"op":"ping"}`, Response{ID: 1, Result: json.RawMessage(`"pong"`)}},
		{`{"id":2,"op":"double","args":21}`, Response{ID: 2, Result: json.RawMessage(`42`)}},
		{`{"id":3,"op":"double","args":"x"}`, Response{ID: 3, Error: "json: cannot unmarshal string into Go value of type int"}},
		{`{"id":4,"op":"nope"}`, Response{ID: 4, Error: `agent: unknown operation "nope"`}},
		{`not json`, Response{Error: "agent: bad request: invalid character 'o' in literal null (expecting 'u')"}},
		{`{"id":5,"op":"exec","args":{"argv":["/bin/sh","-c","echo out; echo err >&2; exit 3"]}}`,
			Response{ID: 5, Result: json.RawMessage(`{"stdout":"out\n","stderr":"err\n","exit":3}`)}},
		{`{"id":6,"op":"exec","args":{"argv":[]}}`, Response{ID: 6, Error: "agent: exec: empty argv"}},
		{`{"id":7,"op":"shutdown"}`, Response{ID: 7}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, call(tt.req)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.req, diff)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after shutdown: %v", err)
	}
}

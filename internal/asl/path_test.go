package asl

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestPathEval(t *testing.T) {
	data := `{"a":{"b":[10,20,30],"c d":1,"x.y":2},"list":[{"id":1,"n":{"id":9}},{"id":2}]}`
	tests := []struct {
		path  string
		want  string
		found bool
	}{
		{"$", data, true},
		{"$.a.b[1]", `20`, true},
		{"$.a.b[-1]", `30`, true},
		{"$.a.b[3]", ``, false},
		{"$['a']['c d']", `1`, true},
		{`$.a['x.y']`, `2`, true},
		{"$.a.missing", ``, false},
		{"$.a.b.c", ``, false},
		{"$.a.b[*]", `[10,20,30]`, true},
		{"$.a.b[0:2]", `[10,20]`, true},
		{"$.a.b[-2:]", `[20,30]`, true},
		{"$.a.b[0,2]", `[10,30]`, true},
		{"$.list[*].id", `[1,2]`, true},
		{"$..id", `[1,9,2]`, true},
		{"$.list[*].missing", `[]`, true},
		{"$.a.*", `[[10,20,30],1,2]`, true},
	}
	v, err := decodeJSON([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, found := p.eval(v, nil)
			if found != tt.found {
				t.Fatalf("found=%v, want %v", found, tt.found)
			}
			if found && !sameJSON(t, mustJSON(got), tt.want) {
				t.Fatalf("got %s, want %s", mustJSON(got), tt.want)
			}
		})
	}
}

func TestPathParseErrors(t *testing.T) {
	for _, s := range []string{"a.b", "$.", "$[", "$['a", "$[(@.a)]", "$[?(@.a >)]", "$[?@.a]", "$[?(@.a == 1]", "$[?(1)]", "$[?(@.a =~ 'x')]", "$.a.length()", "$[1:2:3]", "$[x]"} {
		t.Run(s, func(t *testing.T) {
			if _, err := parsePath(s); err == nil {
				t.Fatalf("parsePath(%q) succeeded, want an error", s)
			}
		})
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(t0)
	fired := c.After(10 * time.Second)
	c.Advance(9 * time.Second)
	select {
	case <-fired:
		t.Fatal("timer fired at 9s, want 10s")
	default:
	}
	if err := c.Sleep(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-fired:
		if !at.Equal(t0.Add(10 * time.Second)) {
			t.Fatalf("fired at %v, want %v", at, t0.Add(10*time.Second))
		}
	default:
		t.Fatal("timer did not fire at 10s")
	}
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("now=%v, want t0+10s", got)
	}
}

// TestMarshalJSONMatchesEncodingJSON checks the interpreter's JSON writer
// against encoding/json (HTML escaping off) on awkward strings.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	v := objectOf(
		"html", "<a href='x'>&</a>",
		"invalid", "bad\xffbyte",
		"list", []any{nil, true, false, json.Number("1.50"), "s", &object{}},
		"quote\"back\\slash", "tab\tnl\ncr\rbs\bff\fnul\x00ctl\x1f",
		"unicode", "héllo ✓ 😀 \u2028\u2029",
	)
	std := map[string]any{}
	for _, m := range v.members {
		std[m.key] = m.val
	}
	std["list"] = []any{nil, true, false, json.Number("1.50"), "s", map[string]any{}}
	got, err := marshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(std); err != nil {
		t.Fatal(err)
	}
	if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
		t.Fatalf("marshalJSON=%s\nencoding/json=%s", got, want)
	}
}

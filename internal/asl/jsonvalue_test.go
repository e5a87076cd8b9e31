package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeJSON checks the interpreter's JSON reader against
// encoding/json: both accept the same documents, and what it reads writes
// back (keys sorted) as encoding/json writes the same document.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, ` 1.5e-3 `, `-0`, `"\u00e9\ud83d\ude00\/"`, `"\ud800x"`, `"\udc00"`,
		`{"b":1,"a":[1,{"c":null}],"b":2}`, `{"a":"x\u2028y"}`, "\"bad\xffbyte\"", `01`, `1.`, `-`, `[1,]`,
		`{"a":1,}`, `{"a" 1}`, `"unterminated`, "\"tab\there\"", `[1] x`, `{"k":"\q"}`, `1e`, `.5`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeJSON(b)
		var std any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		stdErr := d.Decode(&std)
		if stdErr == nil {
			if _, e := d.Token(); e != io.EOF {
				stdErr = errors.New("data after the value")
			}
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("decodeJSON(%q) err=%v, encoding/json err=%v", b, err, stdErr)
		}
		if err != nil {
			return
		}
		var want bytes.Buffer
		e := json.NewEncoder(&want)
		e.SetEscapeHTML(false)
		if err := e.Encode(std); err != nil {
			t.Fatal(err)
		}
		if got := canonicalJSON(v); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("decodeJSON(%q) writes %s, encoding/json %s", b, got, want.Bytes())
		}
	})
}

// TestObjectIndex checks lookups, replacement in place and copies of an
// object large enough to be indexed.
func TestObjectIndex(t *testing.T) {
	o := newObject(0)
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11"}
	for i, k := range keys {
		o.put(k, i)
	}
	o.put("k3", "again")
	if o.index == nil {
		t.Fatalf("an object of %d members has no index", len(o.members))
	}
	for i, k := range keys {
		want := any(i)
		if k == "k3" {
			want = "again"
		}
		if got, ok := o.get(k); !ok || got != want {
			t.Fatalf("get(%s)=%v,%v, want %v", k, got, ok, want)
		}
	}
	c := o.with("k0", "new").with("z", 1)
	if got, _ := o.get("k0"); got != 0 {
		t.Fatalf("with changed the original: k0=%v", got)
	}
	if got := mustJSON(c); got != `{"k0":"new","k1":1,"k2":2,"k3":"again","k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"z":1}` {
		t.Fatalf("copy=%s", got)
	}
	if _, ok := o.get("z"); ok {
		t.Fatal("with added a member to the original")
	}
}

package contract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFile(t *testing.T) {
	got, err := LoadFile(filepath.Join("testdata", "ok.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "orders" || got.Source.Schema != "public" || got.Source.Table != "orders" ||
		got.Cursor != "updated_at" || got.Partition.Column != "created_at" ||
		len(got.PrimaryKey) != 1 || got.PrimaryKey[0] != "order_id" {
		t.Errorf("LoadFile = %+v", got)
	}
	if got, want := got.NullCursor, NullCursorFail; got != want {
		t.Errorf("NullCursor = %q, want default %q", got, want)
	}
	if got, want := got.RulesPath(), filepath.Join("testdata", "orders.dqdl"); got != want {
		t.Errorf("RulesPath = %q, want %q", got, want)
	}
}

func TestPartitionAndRetention(t *testing.T) {
	tests := []struct {
		file      string
		transform Transform
		buckets   int
		retention time.Duration
	}{
		{"ok.table.yaml", TransformMonth, 0, 7 * 24 * time.Hour},
		{"iceberg.table.yaml", "bucket[16]", 16, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got.Partition.Transform != tt.transform {
				t.Errorf("transform = %q, want %q", got.Partition.Transform, tt.transform)
			}
			if got := got.Partition.Transform.Buckets(); got != tt.buckets {
				t.Errorf("buckets = %d, want %d", got, tt.buckets)
			}
			if got := time.Duration(got.SnapshotRetention); got != tt.retention {
				t.Errorf("snapshot retention = %v, want %v", got, tt.retention)
			}
		})
	}
}

func TestTransformCheck(t *testing.T) {
	for _, tr := range []Transform{"day", "month", "year", "bucket[1]", "bucket[65536]"} {
		if msg := tr.check(); msg != "" {
			t.Errorf("%q: %s, want valid", tr, msg)
		}
	}
	for _, tr := range []Transform{"hour", "Month", "bucket[]", "bucket[0]", "bucket[65537]", "bucket[-1]", "bucket[16] ", "identity", "truncate[4]"} {
		if msg := tr.check(); msg == "" {
			t.Errorf("%q: valid, want an error", tr)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		file  string
		field string // "" when the error is about the file as a whole
		msg   string
	}{
		{"unknown-field.yaml", "", "field cursr not found"},
		{"missing-cursor.yaml", "cursor", "is required"},
		{"hostile-table.yaml", "table", "not a plain identifier"},
		{"empty-pk.yaml", "primary_key", "is required"},
		{"dup-pk.yaml", "primary_key[1]", "listed twice"},
		{"bad-null-cursor.yaml", "null_cursor", "not one of fail, include"},
		{"bad-rules.yaml", "rules", ".dqdl"},
		{"wrong-type.yaml", "", "cannot unmarshal"},
		{"empty.yaml", "", "file is empty"},
		{"bad-transform.yaml", "partition.transform", "not one of day, month, year, bucket[N]"},
		{"bad-retention.yaml", "", "not a duration"},
		{"short-retention.yaml", "snapshot_retention", "shorter than an hour"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			_, err := LoadFile(path)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("LoadFile(%s) error = %v, want *contract.Error", tt.file, err)
			}
			if got, want := ce.File, path; got != want {
				t.Errorf("File = %q, want %q", got, want)
			}
			if got, want := ce.Field, tt.field; got != want {
				t.Errorf("Field = %q, want %q (error: %v)", got, want, err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %q, want it to name %s and contain %q", err, path, tt.msg)
			}
		})
	}
}

func TestLoadDirShippedContracts(t *testing.T) {
	tables, err := LoadDir(filepath.Join("..", "..", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	orders, err := Find(tables, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := orders.Source.Table, "orders"; got != want {
		t.Errorf("orders source table = %q, want %q", got, want)
	}
	if _, err := Find(tables, "nope"); !errors.Is(err, ErrUnknownTable) || !strings.Contains(err.Error(), "orders") {
		t.Errorf("Find(nope) = %v, want ErrUnknownTable listing the known tables", err)
	}
}

func TestLoadDirDuplicateTable(t *testing.T) {
	dir := t.TempDir()
	ok, err := os.ReadFile(filepath.Join("testdata", "ok.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.table.yaml", "b.table.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), ok, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "already defined in") {
		t.Fatalf("LoadDir with two contracts for one table = %v, want a duplicate error", err)
	}
}

func TestLoadFSReadsEmbeddedRules(t *testing.T) {
	tables, err := LoadFS(os.DirFS(filepath.Join("..", "..", "schemas")))
	if err != nil {
		t.Fatal(err)
	}
	orders, err := Find(tables, "orders")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := orders.ReadRules()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), "Rules") {
		t.Errorf("ReadRules = %.80q, want a DQDL ruleset", rules)
	}
}

// TestDurationJSONAndFlag: a Duration reads "7d" and Go durations from
// JSON and from a flag, writes a Go duration, and refuses anything else
// naming it.
func TestDurationJSONAndFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"3d"`, 72 * time.Hour, false},
		{`"90m"`, 90 * time.Minute, false},
		{`"soon"`, 0, true},
		{`72`, 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.err || time.Duration(d) != tc.want {
				t.Fatalf("unmarshal %s: %v, %v; want %v (error: %v)", tc.in, time.Duration(d), err, tc.want, tc.err)
			}
			if tc.err {
				if !strings.Contains(err.Error(), "7d") {
					t.Errorf("error %q does not say what a duration looks like", err)
				}
				return
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != d {
				t.Errorf("round trip of %v through %s: %v, %v", time.Duration(d), b, time.Duration(back), err)
			}
			var f Duration
			if err := f.Set(strings.Trim(tc.in, `"`)); err != nil || f != d {
				t.Errorf("Set(%s) = %v, %v; want %v", tc.in, time.Duration(f), err, time.Duration(d))
			}
		})
	}
}

package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/testenv"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles one JSON Schema file of schemas/events (with the
// files it refers to), checking it against its meta-schema and asserting
// formats such as date-time.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(testenv.RepoRoot(), "schemas", "events", name))
	if err != nil {
		t.Fatalf("compile schema %s: %v", name, err)
	}
	return sch
}

func loadJSON(t *testing.T, file string) any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// eventSchemas maps each sample event in events/ to the schema that
// describes it; every event also validates against execution-input.
var eventSchemas = map[string]string{
	"scheduled-start.json":       "start.schema.json",
	"manual-backfill-table.json": "start.schema.json",
	"manual-start.json":          "start.schema.json",
	"s3-object-created.json":     "s3-object-created.schema.json",
}

func TestSchemasCompile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "schemas", "events", "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in schemas/events: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { compileSchema(t, filepath.Base(f)) })
	}
}

func TestSampleEventsValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events in events/: %v", err)
	}
	input := compileSchema(t, "execution-input.schema.json")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			schema, ok := eventSchemas[name]
			if !ok {
				t.Fatalf("events/%s has no schema in eventSchemas", name)
			}
			v := loadJSON(t, f)
			if err := compileSchema(t, schema).Validate(v); err != nil {
				t.Errorf("against %s: %v", schema, err)
			}
			if err := input.Validate(v); err != nil {
				t.Errorf("against execution-input.schema.json: %v", err)
			}
			for _, re := range secretValue {
				if b, _ := os.ReadFile(f); re.Match(b) {
					t.Errorf("looks like it holds a secret (%s)", re)
				}
			}
		})
	}
}

// TestInvalidEventsRejected keeps the schemas honest: each file in
// testdata/invalid-events breaks one rule and must fail validation with an
// error mentioning the offending property.
func TestInvalidEventsRejected(t *testing.T) {
	input := compileSchema(t, "execution-input.schema.json")
	tests := []struct {
		file string
		want string // in the validation error
	}{
		{"unknown-source.json", "/source"},
		{"no-source.json", "source"},
		{"zero-parts.json", "/parts"},
		{"empty-tables.json", "/tables"},
		{"bad-table-name.json", "/tables/0"},
		{"extra-property.json", "tablez"},
		{"s3-outside-bronze.json", "/detail/object/key"},
		{"s3-missing-etag.json", "etag"},
		{"s3-wrong-detail-type.json", "/detail-type"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			err := input.Validate(loadJSON(t, filepath.Join("testdata", "invalid-events", tc.file)))
			if err == nil {
				t.Fatalf("validated, want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to mention %q", err, tc.want)
			}
		})
	}
}

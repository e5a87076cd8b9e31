package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

// globals are the flags every command shares; each has an environment
// variable twin that supplies its default.
type globals struct {
	lake    string // --lake / LAKE_URL
	source  string // --source / LAKE_SOURCE_URL
	schemas string // --schemas / LAKE_SCHEMAS
	// dqMemory is the validate step's DQ memory budget, from --dq-memory
	// where a command has it (0: dq's default).
	dqMemory int64
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// newFlagSet returns a flag set for command name with the global flags
// registered on it. Parse errors are returned, not fatal.
func newFlagSet(name, usageLine string, stderr io.Writer) (*flag.FlagSet, *globals) {
	fs := flag.NewFlagSet("lake "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := &globals{}
	fs.StringVar(&g.lake, "lake", envOr("LAKE_URL", "file://./lake"), "lake root: file://DIR or s3://BUCKET[/PREFIX] (env LAKE_URL)")
	g.source = envOr("LAKE_SOURCE_URL", "")
	secrets.addSource(g.source)
	fs.Var(sourceFlag{&g.source}, "source", "source PostgreSQL `URL`; its password is never printed (env LAKE_SOURCE_URL)")
	fs.StringVar(&g.schemas, "schemas", envOr("LAKE_SCHEMAS", "./schemas"), "folder of table contracts and rulesets (env LAKE_SCHEMAS)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lake %s %s\n\nflags:\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs, g
}

// writeJSON prints v as indented JSON, as the commands' summaries are
// printed; <, > and & stay as they are (rule texts hold them).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

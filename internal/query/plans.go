package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/medallionlake/lake/internal/icetable"
)

// plans caches the plans of Iceberg snapshots in dir/plans/<table>/
// <snapshot id>.json. A snapshot never changes, and neither does its plan,
// so a table that no commit changed since the last statement is read
// without reading its manifests again. An empty dir caches nothing.
type plans struct{ dir string }

func (c plans) path(table string, snapshot int64) string {
	return filepath.Join(c.dir, "plans", table, strconv.FormatInt(snapshot, 10)+".json")
}

// get returns the cached plan of the table's snapshot, marking it used.
// A copy that cannot be read as that plan is a miss.
func (c plans) get(table string, snapshot int64) (icetable.Plan, bool) {
	if c.dir == "" {
		return icetable.Plan{}, false
	}
	p := c.path(table, snapshot)
	b, err := os.ReadFile(p)
	if err != nil {
		return icetable.Plan{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var plan icetable.Plan
	if err := dec.Decode(&plan); err != nil || plan.Table != table || plan.SnapshotID != snapshot {
		return icetable.Plan{}, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // best effort: an unmarked plan is only pruned sooner
	return plan, true
}

// put caches plan (of a snapshot, not of an empty table) and removes the
// table's other plans that no statement used for an hour.
func (c plans) put(plan icetable.Plan) error {
	if c.dir == "" || plan.SnapshotID == 0 {
		return nil
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	p := c.path(plan.Table, plan.SnapshotID)
	if err := writeFile(p, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("plan cache: %w", err)
	}
	if err := prune(filepath.Dir(p), map[string]bool{p: true}, time.Now()); err != nil {
		return fmt.Errorf("plan cache: %w", err)
	}
	return nil
}

package icetable_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medallionlake/lake/internal/icetable"
)

func TestWriteAndCommitSilver(t *testing.T) {
	onEachBackend(t, func(t *testing.T, f *fixture) {
		rows := versions(1, span(0, 2500)...)
		files := f.write(t, icetable.Silver, "bronze/landing/orders/a.parquet", rows)
		if got, want := files.Table, "silver.orders"; got != want {
			t.Errorf("Files.Table = %q, want %q", got, want)
		}
		if got, want := files.Rows, int64(len(rows)); got != want {
			t.Errorf("Files.Rows = %d, want %d", got, want)
		}
		// 2500 ids over 365 days: every month of 2025 is a partition
		var parts []string
		for _, d := range files.Files {
			parts = append(parts, d.PartitionPath)
			if !strings.Contains(d.Path, "/silver/orders/data/"+d.PartitionPath+"/") {
				t.Errorf("data file %s is not in its partition folder %s", d.Path, d.PartitionPath)
			}
			if len(d.LowerBounds) == 0 || len(d.ValueCounts) == 0 || d.Bytes == 0 {
				t.Errorf("data file %s lacks statistics: %+v", d.Path, d)
			}
		}
		slices.Sort(parts)
		if got, want := len(parts), 12; got != want || parts[0] != "created_at_month=2025-01" {
			t.Errorf("partitions %q, want the 12 months of 2025", parts)
		}

		c := f.commit(t, files)
		if c.Already || c.Attempts != 1 || c.SnapshotID == 0 || c.Rows != int64(len(rows)) {
			t.Errorf("first commit = %+v", c)
		}
		if got, want := f.scan(t, icetable.Silver), latest(rows); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("silver holds %d ids, want %d", len(got), len(want))
		}
		snap := f.load(t, icetable.Silver).CurrentSnapshot()
		if got := snap.Summary.Properties[icetable.SummaryObjectKey]; got != "bronze/landing/orders/a.parquet" {
			t.Errorf("snapshot summary object key %q", got)
		}
		if got := snap.Summary.Properties[icetable.SummaryObjectETag]; got != "e-bronze/landing/orders/a.parquet" {
			t.Errorf("snapshot summary object ETag %q", got)
		}

		again := f.commit(t, files)
		if !again.Already || again.SnapshotID != c.SnapshotID {
			t.Errorf("second commit = %+v, want Already at snapshot %d", again, c.SnapshotID)
		}
		if got := f.load(t, icetable.Silver).CurrentSnapshot().SnapshotID; got != c.SnapshotID {
			t.Errorf("a repeated commit made snapshot %d", got)
		}
	})
}

func TestDuplicateCommitsConcurrently(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	files := f.write(t, icetable.Silver, "o1", versions(1, span(0, 100)...))
	var wg sync.WaitGroup
	results := make([]icetable.Committed, 6)
	for i := range results {
		wg.Go(func() {
			c, err := f.lake.Commit(t.Context(), f.t, files)
			if err != nil {
				t.Error(err)
			}
			results[i] = c
		})
	}
	wg.Wait()
	fresh := 0
	for _, c := range results {
		if !c.Already {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d duplicate commits appended, want exactly 1: %+v", fresh, len(results), results)
	}
	for id, rs := range f.scan(t, icetable.Silver) {
		if len(rs) != 1 {
			t.Fatalf("order %d is in silver %d times", id, len(rs))
		}
	}
}

func TestConcurrentObjectsAllCommit(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	const objects = 16
	var all []order
	files := make([]icetable.Files, objects)
	for i := range objects {
		rows := versions(i, span(int64(i*50), int64(i*50+80))...) // overlapping ids
		all = append(all, rows...)
		files[i] = f.write(t, icetable.Silver, fmt.Sprintf("o%02d", i), rows)
	}
	attempts := f.commitAll(t, files)
	t.Logf("attempts per commit: %v", attempts)
	total := 0
	for _, rs := range f.scan(t, icetable.Silver) {
		total += len(rs)
	}
	if total != len(all) {
		t.Errorf("silver holds %d rows, want all %d", total, len(all))
	}
}

func TestNothingToCommit(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	files := f.write(t, icetable.Silver, "empty", nil)
	c := f.commit(t, files)
	if c.SnapshotID != 0 || c.Rows != 0 {
		t.Errorf("commit of no rows = %+v, want nothing committed", c)
	}
}

func TestMissingDataFile(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	files := f.write(t, icetable.Silver, "o1", versions(1, 1, 2, 3))
	if err := f.fs.WithContext(t.Context()).Remove(files.Files[0].Path); err != nil {
		t.Fatal(err)
	}
	_, err := f.lake.Commit(t.Context(), f.t, files)
	var missing *icetable.MissingDataFileError
	if !errors.As(err, &missing) || missing.Path != files.Files[0].Path {
		t.Errorf("commit with a removed data file: %v, want *MissingDataFileError naming it", err)
	}
}

func TestFilesJSONShape(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	files := f.write(t, icetable.Silver, "o1", versions(1, 1))
	d := files.Files[0]
	typ := reflect.TypeOf(d)
	var tags []string
	for i := range typ.NumField() {
		tags = append(tags, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
	}
	if want := []string{"path", "partition", "partition_path", "rows", "bytes", "column_sizes", "value_counts", "null_counts", "nan_counts", "lower_bounds", "upper_bounds", "split_offsets"}; !slices.Equal(tags, want) {
		t.Errorf("DataFile JSON fields %q, want %q", tags, want)
	}
	if d.Partition["created_at_month"] == nil || *d.Partition["created_at_month"] != 660 {
		t.Errorf("partition %v, want created_at_month=660 (months since 1970: 2025-01)", d.Partition)
	}
}

func TestFilesJSONRoundTrip(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "files.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var files icetable.Files
	if err := dec.Decode(&files); err != nil {
		t.Fatalf("decode testdata/files.json: %v", err)
	}
	if got, want := string(files.Files[0].LowerBounds[1]), "\x05\x00\x00\x00\x00\x00\x00\x00"; got != want {
		t.Errorf("lower bound of order_id %q, want 5 as a little-endian long", got)
	}
	back, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(back)+"\n", string(raw); got != want {
		t.Errorf("re-encoded Files differ from testdata/files.json:\n%s", back)
	}
}

func TestCombinePasses(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	// one object written in two passes: January, then February
	jan := versions(1, span(0, 31)...)
	feb := versions(1, span(31, 59)...)
	a := f.write(t, icetable.Silver, "two-passes", jan)
	b := f.write(t, icetable.Silver, "two-passes", feb)
	both, err := icetable.Combine(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c := f.commit(t, both); c.Rows != 59 {
		t.Errorf("commit of the combined files = %+v, want 59 rows", c)
	}
	if got, want := f.scan(t, icetable.Silver), latest(jan, feb); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("silver holds %d orders, want %d", len(got), len(want))
	}
	other := f.write(t, icetable.Silver, "another-object", versions(1, 1))
	if _, err := icetable.Combine(a, other); err == nil {
		t.Errorf("files of two objects combined")
	}
}

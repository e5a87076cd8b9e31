// Package icecatalogtest is the conformance suite that every icecatalog
// backend passes: each backend's tests call Run with a function that opens
// a fresh, empty lake and backend. Imported only by tests.
package icecatalogtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/testenv"
)

// Target is one backend over a fresh, empty lake.
type Target struct {
	Backend icecatalog.Backend
	FS      *icebergio.FS
	// Spawn, when set, starts (without waiting for it) a process that
	// opens the same catalog and calls Committer(ctx, cat, ident, n,
	// label). Backends whose state a child process can reach set it.
	Spawn func(t *testing.T, ident table.Identifier, n int, label string) *exec.Cmd
}

// Run runs the conformance suite. open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"CreateAndLoad", testCreateAndLoad},
		{"CreateExisting", testCreateExisting},
		{"LoadMissing", testLoadMissing},
		{"CommitAndReload", testCommitAndReload},
		{"StaleCommitFails", testStaleCommitFails},
		{"ConcurrentCommits", testConcurrentCommits},
		{"ConcurrentProcesses", testConcurrentProcesses},
		{"CorruptMetadata", testCorruptMetadata},
		{"AbandonedCommitRolledForward", testAbandonedCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// Ident is the table the suite uses.
var Ident = table.Identifier{"silver", "conformance"}

var schema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
	iceberg.NestedField{ID: 2, Name: "label", Type: iceberg.PrimitiveTypes.String},
)

func newCatalog(tg Target, opts icecatalog.Options) *icecatalog.Catalog {
	return icecatalog.New(tg.Backend, tg.FS, opts)
}

func create(t *testing.T, cat *icecatalog.Catalog) *table.Table {
	t.Helper()
	tbl, err := cat.CreateTable(t.Context(), Ident, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return tbl
}

func testCreateAndLoad(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	created := create(t, cat)
	loaded, err := cat.LoadTable(t.Context(), Ident)
	if err != nil {
		t.Fatalf("LoadTable: %v", err)
	}
	if got, want := loaded.MetadataLocation(), created.MetadataLocation(); got != want {
		t.Errorf("metadata location %q, want %q", got, want)
	}
	if got, want := loaded.Location(), tg.FS.Location("silver/conformance"); got != want {
		t.Errorf("table location %q, want %q", got, want)
	}
	if got, want := loaded.Metadata().Version(), 2; got != want {
		t.Errorf("format version %d, want %d", got, want)
	}
	if !loaded.Schema().Equals(created.Schema()) {
		t.Errorf("schema %v, want %v", loaded.Schema(), created.Schema())
	}
	if loaded.CurrentSnapshot() != nil {
		t.Errorf("a new table has snapshot %v", loaded.CurrentSnapshot())
	}
}

func testCreateExisting(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	create(t, cat)
	_, err := cat.CreateTable(t.Context(), Ident, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
	if !errors.Is(err, icecatalog.ErrTableExists) {
		t.Errorf("second CreateTable: %v, want ErrTableExists", err)
	}
}

func testLoadMissing(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	if _, err := cat.LoadTable(t.Context(), Ident); !errors.Is(err, icecatalog.ErrNoSuchTable) {
		t.Errorf("LoadTable of a missing table: %v, want ErrNoSuchTable", err)
	}
	for _, bad := range []table.Identifier{{"silver"}, {"silver", "Orders"}, {"silver", "../x"}, {"a", "b", "c"}} {
		if _, err := cat.LoadTable(t.Context(), bad); err == nil || errors.Is(err, icecatalog.ErrNoSuchTable) {
			t.Errorf("LoadTable(%q): %v, want an invalid-name error", bad, err)
		}
	}
}

// record is one row labelled label.
func record(label string, id int64) arrow.RecordBatch {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.StringBuilder).Append(label)
	return b.NewRecordBatch()
}

// appendOnce appends one row labelled label in one snapshot, reloading and
// trying again whenever another writer got there first. It returns the
// number of attempts.
func appendOnce(ctx context.Context, cat *icecatalog.Catalog, ident table.Identifier, label string, id int64) (int, error) {
	rec := record(label, id)
	defer rec.Release()
	for attempt := 1; ; attempt++ {
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			return attempt, err
		}
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			return attempt, err
		}
		txn := tbl.NewTransaction()
		err = txn.Append(ctx, rdr, iceberg.Properties{"test.label": label})
		rdr.Release()
		if err == nil {
			_, err = txn.Commit(ctx)
		}
		if err == nil {
			return attempt, nil
		}
		if !errors.Is(err, table.ErrCommitFailed) || attempt == 200 {
			return attempt, fmt.Errorf("append %s, attempt %d: %w", label, attempt, err)
		}
		time.Sleep(time.Duration(rand.IntN(20*attempt)) * time.Millisecond)
	}
}

// Committer appends n rows to ident, one commit each, labelled
// label-0 ... label-(n-1). Spawned processes call it.
func Committer(ctx context.Context, cat *icecatalog.Catalog, ident table.Identifier, n int, label string) error {
	for i := range n {
		if _, err := appendOnce(ctx, cat, ident, label+"-"+strconv.Itoa(i), int64(i)); err != nil {
			return err
		}
	}
	return nil
}

// labels returns the test.label of every snapshot in the current
// snapshot's history, sorted.
func labels(t *testing.T, cat *icecatalog.Catalog) []string {
	t.Helper()
	tbl, err := cat.LoadTable(t.Context(), Ident)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := tbl.CurrentSnapshot()
	for cur != nil {
		if cur.Summary != nil {
			if l, ok := cur.Summary.Properties["test.label"]; ok {
				out = append(out, l)
			}
		}
		if cur.ParentSnapshotID == nil {
			break
		}
		cur = tbl.SnapshotByID(*cur.ParentSnapshotID)
	}
	slices.Sort(out)
	return out
}

// rows counts the table's rows with a scan.
func rows(t *testing.T, cat *icecatalog.Catalog) int64 {
	t.Helper()
	tbl, err := cat.LoadTable(t.Context(), Ident)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan().ToArrowTable(t.Context())
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	defer at.Release()
	return at.NumRows()
}

func testCommitAndReload(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	create(t, cat)
	for i := range 3 {
		if _, err := appendOnce(t.Context(), cat, Ident, "c"+strconv.Itoa(i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := labels(t, cat), []string{"c0", "c1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("snapshots %q, want %q", got, want)
	}
	if got, want := rows(t, cat), int64(3); got != want {
		t.Errorf("rows=%d, want %d", got, want)
	}
	tbl, err := cat.LoadTable(t.Context(), Ident)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.Collect(tbl.Metadata().PreviousFiles())); n != 3 {
		t.Errorf("metadata log has %d entries, want 3 (one per commit)", n)
	}
}

func testStaleCommitFails(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	create(t, cat)
	stale, err := cat.LoadTable(t.Context(), Ident)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendOnce(t.Context(), cat, Ident, "first", 1); err != nil {
		t.Fatal(err)
	}
	txn := stale.NewTransaction()
	if err := txn.SetProperties(iceberg.Properties{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := txn.AssertRefSnapshotID(table.MainBranch); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(t.Context()); !errors.Is(err, table.ErrCommitFailed) {
		t.Errorf("commit from a stale table: %v, want table.ErrCommitFailed", err)
	}
	if got, want := labels(t, cat), []string{"first"}; !slices.Equal(got, want) {
		t.Errorf("snapshots %q, want %q", got, want)
	}
}

func testConcurrentCommits(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	create(t, cat)
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	attempts := make(chan int, writers)
	for i := range writers {
		wg.Go(func() {
			n, err := appendOnce(t.Context(), cat, Ident, fmt.Sprintf("g%02d", i), int64(i))
			errs <- err
			attempts <- n
		})
	}
	wg.Wait()
	close(errs)
	close(attempts)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	total := 0
	for n := range attempts {
		total += n
	}
	t.Logf("%d writers committed in %d attempts", writers, total)
	var want []string
	for i := range writers {
		want = append(want, fmt.Sprintf("g%02d", i))
	}
	if got := labels(t, cat); !slices.Equal(got, want) {
		t.Errorf("snapshots %q, want every writer's %q", got, want)
	}
	if got := rows(t, cat); got != writers {
		t.Errorf("rows=%d, want %d", got, writers)
	}
}

func testConcurrentProcesses(t *testing.T, tg Target) {
	if tg.Spawn == nil {
		t.Skip("this backend's state is private to the test process")
	}
	cat := newCatalog(tg, icecatalog.Options{})
	create(t, cat)
	const procs, each = 3, 4
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := tg.Spawn(t, Ident, each, "p"+strconv.Itoa(p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// and this process too, at the same time
	if err := Committer(t.Context(), cat, Ident, each, "self"); err != nil {
		t.Error(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("committer process: %v", err)
		}
	}
	var want []string
	for _, l := range []string{"p0", "p1", "p2", "self"} {
		for i := range each {
			want = append(want, l+"-"+strconv.Itoa(i))
		}
	}
	slices.Sort(want)
	if got := labels(t, cat); !slices.Equal(got, want) {
		t.Errorf("snapshots %q, want %q", got, want)
	}
}

func testCorruptMetadata(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{})
	tbl := create(t, cat)
	loc := tbl.MetadataLocation()
	if err := tg.FS.WithContext(t.Context()).WriteFile(loc, []byte(`{"format-version": 2, "table-uuid": `)); err != nil {
		t.Fatal(err)
	}
	_, err := cat.LoadTable(t.Context(), Ident)
	var corrupt *icecatalog.CorruptMetadataError
	if !errors.As(err, &corrupt) {
		t.Fatalf("LoadTable over a truncated metadata file: %v, want *CorruptMetadataError", err)
	}
	if corrupt.Location != loc {
		t.Errorf("error names %q, want %q", corrupt.Location, loc)
	}
	if _, err := appendOnce(t.Context(), cat, Ident, "x", 1); !errors.As(err, &corrupt) {
		t.Errorf("commit over a corrupt table: %v, want *CorruptMetadataError", err)
	}
}

// dyingBackend loses every Swap as if the process died just before it.
type dyingBackend struct{ icecatalog.Backend }

func (dyingBackend) Swap(context.Context, icecatalog.Table, icecatalog.Pointer, string, table.Metadata) error {
	return errors.New("killed before the swap")
}

func testAbandonedCommit(t *testing.T, tg Target) {
	cat := newCatalog(tg, icecatalog.Options{RollForwardAfter: -1})
	create(t, cat)
	if _, err := appendOnce(t.Context(), cat, Ident, "before", 1); err != nil {
		t.Fatal(err)
	}
	dying := icecatalog.New(dyingBackend{tg.Backend}, tg.FS, icecatalog.Options{RollForwardAfter: -1})
	if _, err := appendOnce(t.Context(), dying, Ident, "abandoned", 2); err == nil || errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("commit that dies before its swap: %v, want the crash's error", err)
	}
	if got, want := labels(t, cat), []string{"before"}; !slices.Equal(got, want) {
		t.Fatalf("after the crash: snapshots %q, want %q", got, want)
	}
	// The next writer finds version 3 claimed, completes that commit, and
	// lands its own after it.
	attempts, err := appendOnce(t.Context(), cat, Ident, "after", 3)
	if err != nil {
		t.Fatal(err)
	}
	if attempts < 2 {
		t.Errorf("the next writer committed in %d attempt, want a retry after completing the abandoned commit", attempts)
	}
	if got, want := labels(t, cat), []string{"abandoned", "after", "before"}; !slices.Equal(got, want) {
		t.Errorf("snapshots %q, want %q", got, want)
	}
	if got, want := rows(t, cat), int64(3); got != want {
		t.Errorf("rows=%d, want %d", got, want)
	}
}

// Environment of a committer process started by Spawner.
const (
	envCommitter = "ICECATALOGTEST_COMMITTER"
	envTable     = "ICECATALOGTEST_TABLE"
	envN         = "ICECATALOGTEST_N"
	envLabel     = "ICECATALOGTEST_LABEL"
)

// Main is TestMain for a backend's tests. In a process that Spawner
// started it opens the catalog with open (which reads what it needs from
// the environment Spawner was given), runs Committer and exits; otherwise
// it runs the tests with testenv.Main.
func Main(m *testing.M, open func(ctx context.Context) (*icecatalog.Catalog, error)) {
	if os.Getenv(envCommitter) != "1" {
		testenv.Main(m)
		return
	}
	err := func() error {
		ctx := context.Background()
		cat, err := open(ctx)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(os.Getenv(envN))
		if err != nil {
			return err
		}
		return Committer(ctx, cat, strings.Split(os.Getenv(envTable), "."), n, os.Getenv(envLabel))
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "committer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Spawner returns a Target.Spawn that re-runs the test binary as a
// committer process (see Main) with env added to its environment.
func Spawner(env []string) func(t *testing.T, ident table.Identifier, n int, label string) *exec.Cmd {
	return func(t *testing.T, ident table.Identifier, n int, label string) *exec.Cmd {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), env...), envCommitter+"=1", envTable+"="+strings.Join(ident, "."),
			envN+"="+strconv.Itoa(n), envLabel+"="+label)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
}

// SetEnv sets each NAME=value of env for the rest of t.
func SetEnv(t *testing.T, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// S3Env is the environment in which storeurl opens s3:// URLs on cfg's
// server; SetEnv it in the test, and pass it to Spawner.
func S3Env(cfg testenv.S3Config) []string { return cfg.Env() }

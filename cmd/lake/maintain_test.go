package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/icetable/icetabletest"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

// maintainCmd runs lake maintain over lakeURL with args, as the binary
// would, and returns its output and exit status.
func maintainCmd(t *testing.T, lakeURL string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = lakeMain(t.Context(), append([]string{"maintain", "--lake", lakeURL, "--schemas", "../../schemas"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// ordersContract is the repository's orders contract.
func ordersContract(t *testing.T) *contract.Table {
	t.Helper()
	tables, err := contract.LoadDir("../../schemas")
	if err != nil {
		t.Fatal(err)
	}
	return tables[0]
}

// TestMaintainCommand runs lake maintain over a folder lake and a
// versitygw lake whose tables hold many small objects: a dry run changes
// nothing, a run compacts every table keeping every row and prints the
// report, bad flags name the problem, and a table that fails makes the
// command exit 1 after maintaining the others.
func TestMaintainCommand(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			l := b.Open(t)
			for _, kv := range l.Env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			ice, err := pipeline.OpenIceberg(l.Store, l.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			orders := ordersContract(t)
			want := icetabletest.Fill(t, ice, orders, "obj", 6, 50, nil)
			location := func(kind icetable.Kind) string {
				ident, _ := icetable.Ident(kind, orders.Name)
				tbl, err := ice.Catalog().LoadTable(t.Context(), ident)
				if err != nil {
					t.Fatal(err)
				}
				return tbl.MetadataLocation()
			}
			decode := func(out string) maintain.Report {
				t.Helper()
				var r maintain.Report
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("stdout is not the JSON report: %v\n%s", err, out)
				}
				return r
			}

			before := location(icetable.Current)
			out, errOut, code := maintainCmd(t, l.URL, "--dry-run")
			if code != 0 {
				t.Fatalf("lake maintain --dry-run exited %d:\n%s", code, errOut)
			}
			if r := decode(out); !r.DryRun || r.Maintained != 3 || r.Tables[1].Maintenance.RewrittenDataFiles == 0 {
				t.Errorf("dry run report %s, want 3 tables with files to rewrite", out)
			}
			if got := location(icetable.Current); got != before {
				t.Errorf("a dry run moved _current from %s to %s", before, got)
			}

			out, errOut, code = maintainCmd(t, l.URL, "--target-file-size", "64MiB")
			if code != 0 {
				t.Fatalf("lake maintain exited %d:\n%s", code, errOut)
			}
			r := decode(out)
			if r.DryRun || r.Maintained != 3 || r.Failed != 0 {
				t.Errorf("report %s, want 3 tables maintained", out)
			}
			for _, res := range r.Tables {
				if m := res.Maintenance; m.DataFiles != m.Partitions || m.DeleteFiles != 0 || m.RewrittenDataFiles == 0 {
					t.Errorf("%s: %+v, want one data file per partition and no delete files", m.Table, m)
				}
			}
			if !strings.Contains(errOut, "maintain: [3/3] discarded.orders: ") {
				t.Errorf("stderr does not show the progress:\n%s", errOut)
			}
			icetabletest.Check(t, ice, orders, want)

			for _, bad := range []struct {
				args []string
				want string
			}{
				{[]string{"--table", "ordres"}, `table "ordres" (known: orders)`},
				{[]string{"--kind", "gold"}, `kind of table "gold"`},
				{[]string{"--orphan-age", "soon"}, "a whole number of days like 7d"},
				{[]string{"--target-file-size", "big"}, "such as 256MiB"},
			} {
				if _, errOut, code := maintainCmd(t, l.URL, bad.args...); code == 0 || !strings.Contains(errOut, bad.want) {
					t.Errorf("lake maintain %q: exit %d, stderr %q; want a failure saying %q", bad.args, code, errOut, bad.want)
				}
			}

			// one table's metadata file is corrupt: the others are
			// maintained, the command exits 1 naming it
			want = icetabletest.Fill(t, ice, orders, "more", 3, 50, want)
			_, key, _ := strings.Cut(location(icetable.Silver), "/silver/")
			if _, err := l.Store.Put(t.Context(), "silver/"+key, strings.NewReader("{"), nil); err != nil {
				t.Fatal(err)
			}
			out, errOut, code = maintainCmd(t, l.URL, "--kind", "silver,current")
			if code != 1 || !strings.Contains(errOut, "1 of 2 tables failed: silver.orders: ") || !strings.Contains(errOut, "corrupt") {
				t.Errorf("lake maintain with a corrupt table: exit %d, stderr:\n%s\nwant 1 and silver.orders named", code, errOut)
			}
			if r := decode(out); r.Failed != 1 || r.Maintained != 1 || r.Tables[0].Error == nil {
				t.Errorf("report %s, want silver.orders failed and _current maintained", out)
			}
			if d := icetabletest.Diff(icetabletest.Read(t, ice, orders, icetable.Current), want[icetable.Current]); d != "" {
				t.Errorf("_current: %s", d)
			}
		})
	}
}

// TestMaintainKilled kills lake maintain (SIGKILL) at points of its run:
// once it has written its first compacted data file (before committing
// it), once it has written its first new metadata file, and at random;
// each time every table stays readable with every row once, and a
// maintenance run afterwards (waiting out the dead one's lease) finishes
// the work and removes what the killed ones left.
func TestMaintainKilled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lake")
	lakeURL := "file://" + dir
	st, err := storeurl.Open(t.Context(), lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	ice, err := pipeline.OpenIceberg(st, lakeURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	orders := ordersContract(t)
	want := icetabletest.Fill(t, ice, orders, "obj", 30, 40, nil)
	files := func(sub string) map[string]bool {
		got := map[string]bool{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "/"+sub+"/") {
				got[p] = true
			}
			return nil
		})
		return got
	}
	kill := func(what string, when func(data, meta map[string]bool) bool) {
		t.Helper()
		data, meta := files("data"), files("metadata")
		p := startLake(t, "maintain", "--lake", lakeURL, "--schemas", "../../schemas", "--wait", "1m", "--lease-ttl", "1s")
		for {
			if when(data, meta) {
				break
			}
			select {
			case err := <-p.done:
				p.done <- err
				t.Logf("%s: lake maintain ended before it was killed (%v)", what, err)
				return
			case <-time.After(time.Millisecond):
			}
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.exit(t)
		t.Logf("%s: killed after %q", what, lastLine(p.log()))
		icetabletest.Check(t, ice, orders, want)
	}
	newFile := func(before map[string]bool, sub, suffix string) bool {
		for f := range files(sub) {
			if !before[f] && strings.HasSuffix(f, suffix) {
				return true
			}
		}
		return false
	}
	kill("silver.orders: a compacted data file written", func(data, _ map[string]bool) bool { return newFile(data, "silver/orders/data", ".parquet") })
	kill("silver.orders: a metadata file written", func(_, meta map[string]bool) bool {
		return newFile(meta, "silver/orders/metadata", ".metadata.json")
	})
	kill("silver.orders_current: a compacted data file written", func(data, _ map[string]bool) bool {
		return newFile(data, "silver/orders_current/data", ".parquet")
	})
	kill("discarded.orders: a metadata file written", func(_, meta map[string]bool) bool {
		return newFile(meta, "discarded/orders/metadata", ".metadata.json")
	})

	orphans := func() map[string]int {
		t.Helper()
		out, errOut, code := maintainCmd(t, lakeURL, "--dry-run", "--wait", "1m", "--orphan-age", "1ms")
		if code != 0 {
			t.Fatalf("lake maintain --dry-run exited %d:\n%s", code, errOut)
		}
		var r maintain.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, res := range r.Tables {
			n[res.Maintenance.Table] = res.Maintenance.RemovedOrphans
		}
		return n
	}
	left := orphans()
	t.Logf("orphans the killed runs left: %v", left)
	if left["silver.orders"] == 0 {
		t.Errorf("the killed maintenances left no orphan in silver.orders; the kills came too late")
	}
	out, errOut, code := maintainCmd(t, lakeURL, "--wait", "1m", "--orphan-age", "1ms")
	if code != 0 {
		t.Fatalf("lake maintain after the kills exited %d:\n%s", code, errOut)
	}
	var r maintain.Report
	if err = json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	icetabletest.Check(t, ice, orders, want)
	for _, res := range r.Tables {
		if m := res.Maintenance; m.DataFiles != m.Partitions || m.DeleteFiles != 0 {
			t.Errorf("%s after the kills: %+v, want compacted", m.Table, m)
		}
	}
	for table, n := range orphans() {
		if n != 0 {
			t.Errorf("%s: %d orphans left after a complete maintenance", table, n)
		}
	}
}

// lastLine is the last line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestServeMaintainScheduleFlag: lake serve refuses a maintenance
// schedule it cannot parse, naming the flag, before serving anything.
func TestServeMaintainScheduleFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := lakeMain(t.Context(), []string{"serve", "--lake", "file://" + t.TempDir(), "--schemas", "../../schemas", "--schedule", "off", "--maintain-schedule", "rate(0 days)"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--maintain-schedule") || !strings.Contains(errb.String(), "rate(0 days)") {
		t.Errorf("lake serve --maintain-schedule 'rate(0 days)': exit %d, stderr %q; want 1 naming the flag and the expression", code, errb.String())
	}
}

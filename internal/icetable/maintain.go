package icetable

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/medallionlake/lake/internal/contract"
)

// DefaultOrphanAge is MaintainOptions.OrphanAge when it is 0: files that
// no snapshot references are removed once they are this old. It must
// exceed the longest time between writing an object's files and
// committing them (a state's retries), or the commit finds them gone
// (*MissingDataFileError).
const DefaultOrphanAge = 3 * 24 * time.Hour

// MaintainOptions tune Maintain. The zero value means the defaults.
type MaintainOptions struct {
	// TargetFileSize is the size compaction aims at (0: the Lake's
	// Options.TargetFileSize, 128 MiB by default).
	TargetFileSize int64
	// OrphanAge is how old an unreferenced file must be to be removed (0:
	// DefaultOrphanAge).
	OrphanAge time.Duration
	// DryRun changes nothing: Maintain reports what it would rewrite,
	// expire and remove (see Maintenance.DryRun).
	DryRun bool
	// SortMemory bounds the rows that the compaction of _current sorts in
	// memory at once (0: DefaultSortMemory); it holds about twice that
	// while sorting. Beyond it, sorted parts go to temporary files.
	SortMemory int64
}

// Maintenance reports what Maintain did to one table. It encodes as JSON.
type Maintenance struct {
	Table string `json:"table"`
	// DryRun says nothing was changed: the counts are what a run would
	// rewrite (RewrittenDataFiles, RemovedDeleteFiles), expire and remove,
	// at the table's current state; what it would write (AddedDataFiles)
	// and the manifests it would merge are not known without writing them
	// and stay 0, and the file counts are those of the current snapshot.
	DryRun bool `json:"dry_run,omitempty"`
	// Compaction: data files rewritten into fewer, and the position
	// delete files folded into them.
	RewrittenDataFiles int `json:"rewritten_data_files"`
	AddedDataFiles     int `json:"added_data_files"`
	RemovedDeleteFiles int `json:"removed_delete_files"`
	// RewrittenManifests is how many manifests were merged.
	RewrittenManifests int `json:"rewritten_manifests"`
	// ExpiredSnapshots are snapshots removed as older than the retention.
	ExpiredSnapshots int `json:"expired_snapshots"`
	// RemovedOrphans are unreferenced files removed.
	RemovedOrphans int `json:"removed_orphans"`
	// DataFiles, DataBytes and DeleteFiles are the counts and size in the
	// current snapshot afterwards; Partitions the number of partitions
	// holding data, and MaxPartitionDataFiles the data files of the
	// partition holding the most.
	DataFiles             int   `json:"data_files"`
	DataBytes             int64 `json:"data_bytes"`
	DeleteFiles           int   `json:"delete_files"`
	Partitions            int   `json:"partitions"`
	MaxPartitionDataFiles int   `json:"max_partition_data_files"`
}

// Maintain keeps the kind of table of t fast to read and its storage
// bounded, in steps that each commit on their own:
//
//  1. compaction: in each partition, data files smaller than 3/4 of the
//     target size, and files carrying position deletes, are rewritten
//     (deletes applied) into files of about the target size;
//  2. manifests are merged into as few as the target manifest size allows;
//  3. snapshots older than the contract's snapshot_retention are expired,
//     except the one that was current at the start of the retention, so
//     that time travel reaches back the whole retention; the files only
//     they referenced are deleted;
//  4. files under the table's data/ and metadata/ folders that no
//     snapshot references and that are older than OrphanAge are removed.
//
// Each step is one atomic commit (or, for 4, deletions of unreferenced
// files), so a Maintain killed at any point leaves the table readable
// with no row lost or duplicated; what it wrote and did not commit is
// removed as orphans by a later run. A step that conflicts with
// concurrent commits is planned again, up to Options.MaxAttempts times.
func (l *Lake) Maintain(ctx context.Context, kind Kind, t *contract.Table, opts MaintainOptions) (Maintenance, error) {
	ident, err := Ident(kind, t.Name)
	if err != nil {
		return Maintenance{}, err
	}
	if opts.TargetFileSize <= 0 {
		opts.TargetFileSize = l.opts.TargetFileSize
	}
	if opts.OrphanAge <= 0 {
		opts.OrphanAge = DefaultOrphanAge
	}
	m := Maintenance{Table: strings.Join(ident, "."), DryRun: opts.DryRun}
	if opts.DryRun {
		return l.dryRun(ctx, ident, kind, t, opts, m)
	}
	steps := []struct {
		name string
		fn   func(context.Context, *table.Table) (*table.Table, error)
	}{
		{"retention", func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
			return l.syncRetention(ctx, tbl, t)
		}},
		{"compaction", func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
			if kind == Current {
				return l.compactCurrent(ctx, tbl, t, opts, &m)
			}
			return l.compact(ctx, tbl, opts.TargetFileSize, &m)
		}},
		{"manifests", func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
			return rewriteManifests(ctx, tbl, &m)
		}},
		{"snapshot expiry", func(ctx context.Context, tbl *table.Table) (*table.Table, error) {
			return l.expire(ctx, tbl, &m)
		}},
	}
	for _, step := range steps {
		if err := l.retry(ctx, ident, func(tbl *table.Table) (*table.Table, error) { return step.fn(ctx, tbl) }); err != nil {
			return m, fmt.Errorf("icetable: maintain %s: %s: %w", m.Table, step.name, err)
		}
	}
	tbl, err := l.load(ctx, ident)
	if err != nil {
		return m, err
	}
	if err := removeOrphans(ctx, tbl, opts.OrphanAge, false, &m); err != nil {
		return m, fmt.Errorf("icetable: maintain %s: orphan files: %w", m.Table, err)
	}
	tasks, err := currentFiles(ctx, tbl)
	if err != nil {
		return m, fmt.Errorf("icetable: %s: plan: %w", m.Table, err)
	}
	if kind == Current {
		if err := syncKeyIndexes(ctx, l.cat.FS(), tbl, tasks, t.PrimaryKey, t.Cursor, &m); err != nil {
			return m, fmt.Errorf("icetable: maintain %s: key indexes: %w", m.Table, err)
		}
	}
	countFiles(tasks, &m)
	return m, nil
}

// retry runs step on the freshly loaded table until it does not conflict.
func (l *Lake) retry(ctx context.Context, ident table.Identifier, step func(*table.Table) (*table.Table, error)) error {
	for attempt := 1; ; attempt++ {
		tbl, err := l.load(ctx, ident)
		if err != nil {
			return err
		}
		_, err = step(tbl)
		if err == nil {
			return nil
		}
		if !errors.Is(err, table.ErrCommitFailed) || attempt >= l.opts.MaxAttempts {
			return err
		}
		if err := l.wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// syncRetention sets the table's snapshot age property to the contract's
// retention when they differ.
func (l *Lake) syncRetention(ctx context.Context, tbl *table.Table, t *contract.Table) (*table.Table, error) {
	want := strconv.FormatInt(time.Duration(t.SnapshotRetention).Milliseconds(), 10)
	if tbl.Properties()[table.MaxSnapshotAgeMsKey] == want {
		return tbl, nil
	}
	txn := tbl.NewTransaction()
	if err := txn.SetProperties(iceberg.Properties{table.MaxSnapshotAgeMsKey: want}); err != nil {
		return nil, err
	}
	return txn.Commit(ctx)
}

// compact rewrites the small files, and those with deletes, of every
// partition of tbl.
func (l *Lake) compact(ctx context.Context, tbl *table.Table, target int64, m *Maintenance) (*table.Table, error) {
	groups, err := l.compactionGroups(ctx, tbl, target)
	if err != nil || len(groups) == 0 {
		return tbl, err
	}
	txn := tbl.NewTransaction()
	res, err := txn.RewriteDataFiles(ctx, groups, table.RewriteDataFilesOptions{
		SnapshotProps: iceberg.Properties{"lake.maintenance": "compaction"},
		GroupOptions: []table.CompactionGroupOption{
			table.WithCompactionTargetFileSize(target),
			table.WithCompactionScanConcurrency(1),
			table.WithCompactionArrowBatchSize(64 << 10),
			table.WithCompactionRecordBatchBufferSize(2),
		},
	})
	if err != nil {
		return nil, err
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return nil, err
	}
	m.RewrittenDataFiles += res.RemovedDataFiles
	m.AddedDataFiles += res.AddedDataFiles
	m.RemovedDeleteFiles += res.RemovedPositionDeleteFiles
	return next, nil
}

// compactionGroups plans the compaction of tbl: per partition, the groups
// of small files, and of files with deletes, to rewrite into files of
// about target bytes.
func (l *Lake) compactionGroups(ctx context.Context, tbl *table.Table, target int64) ([]table.CompactionTaskGroup, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	scan := tbl.Scan()
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, l.explain(ctx, tbl.CurrentSnapshot(), err)
	}
	cfg := compaction.DefaultConfig()
	cfg.TargetFileSizeBytes = target
	cfg.MinFileSizeBytes = target * 3 / 4
	cfg.MaxFileSizeBytes = target * 9 / 5
	cfg.MinInputFiles = 1
	cfg.DeleteFileThreshold = 1
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return nil, err
	}
	var groups []table.CompactionTaskGroup
	for _, g := range plan.Groups {
		// a lone file with no deletes would only be copied
		if len(g.Tasks) == 1 && len(g.Tasks[0].DeleteFiles) == 0 {
			continue
		}
		groups = append(groups, table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes})
	}
	return groups, nil
}

// rewriteManifests merges tbl's small manifests.
func rewriteManifests(ctx context.Context, tbl *table.Table, m *Maintenance) (*table.Table, error) {
	if tbl.CurrentSnapshot() == nil {
		return tbl, nil
	}
	txn := tbl.NewTransaction()
	res, err := txn.RewriteManifests(ctx)
	if err != nil {
		return nil, err
	}
	if res.IsNoOp() {
		return tbl, nil
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return nil, err
	}
	m.RewrittenManifests += len(res.RewrittenManifests)
	return next, nil
}

// expire removes the snapshots older than the table's retention, keeping
// the one current at the retention's start (so that time travel reaches
// the whole retention), and deletes the files that only they referenced.
func (l *Lake) expire(ctx context.Context, tbl *table.Table, m *Maintenance) (*table.Table, error) {
	retention := time.Duration(tbl.Properties().GetInt64(table.MaxSnapshotAgeMsKey, table.MaxSnapshotAgeMsDefault)) * time.Millisecond
	ids := expirable(tbl, retention)
	if len(ids) == 0 {
		return tbl, nil
	}
	head := tbl.CurrentSnapshot()
	upd := table.NewRemoveSnapshotsUpdate(ids, true)
	reqs := []table.Requirement{table.AssertRefSnapshotID(table.MainBranch, &head.SnapshotID)}
	if _, _, err := l.cat.CommitTable(ctx, tbl.Identifier(), reqs, []table.Update{upd}); err != nil {
		return nil, err
	}
	next, err := l.load(ctx, tbl.Identifier())
	if err != nil {
		return nil, err
	}
	m.ExpiredSnapshots += len(ids)
	// Deleting what only the expired snapshots referenced is best effort:
	// what is left is removed as orphans.
	if err := upd.PostCommit(ctx, tbl, next); err != nil {
		return nil, fmt.Errorf("delete expired files: %w", err)
	}
	return next, nil
}

// expirable lists the snapshots of tbl older than retention, but the one
// that was current at the retention's start.
func expirable(tbl *table.Table, retention time.Duration) []int64 {
	cutoff := time.Now().Add(-retention).UnixMilli()
	keep := map[int64]bool{}
	for s := tbl.CurrentSnapshot(); s != nil; {
		keep[s.SnapshotID] = true
		if s.TimestampMs <= cutoff || s.ParentSnapshotID == nil {
			break // s was current at the cutoff
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	var ids []int64
	for _, s := range tbl.Metadata().Snapshots() {
		if !keep[s.SnapshotID] && s.TimestampMs <= cutoff {
			ids = append(ids, s.SnapshotID)
		}
	}
	return ids
}

// dryRun reports what Maintain would do to the table ident now, changing
// nothing: the files compaction would rewrite, the snapshots the
// contract's retention expires, the orphans older than opts.OrphanAge.
func (l *Lake) dryRun(ctx context.Context, ident table.Identifier, kind Kind, t *contract.Table, opts MaintainOptions, m Maintenance) (Maintenance, error) {
	tbl, err := l.load(ctx, ident)
	if err != nil {
		return m, err
	}
	if err := l.planCompaction(ctx, tbl, kind, t, opts, &m); err != nil {
		return m, fmt.Errorf("icetable: maintain %s: compaction: %w", m.Table, err)
	}
	m.ExpiredSnapshots = len(expirable(tbl, time.Duration(t.SnapshotRetention)))
	if err := removeOrphans(ctx, tbl, opts.OrphanAge, true, &m); err != nil {
		return m, fmt.Errorf("icetable: maintain %s: orphan files: %w", m.Table, err)
	}
	tasks, err := currentFiles(ctx, tbl)
	if err != nil {
		return m, fmt.Errorf("icetable: %s: plan: %w", m.Table, err)
	}
	countFiles(tasks, &m)
	return m, nil
}

// planCompaction counts into m the data and delete files that compaction
// would rewrite and remove in tbl: sorted by key for a _current table
// (compactCurrent), by iceberg-go's planner for the others.
func (l *Lake) planCompaction(ctx context.Context, tbl *table.Table, kind Kind, t *contract.Table, opts MaintainOptions, m *Maintenance) error {
	if kind == Current {
		if tbl.CurrentSnapshot() == nil {
			return nil
		}
		p, err := planSortedCompaction(ctx, tbl, t.PrimaryKey[0], keyOrderID(tbl, t.PrimaryKey), opts.TargetFileSize)
		if err != nil || p == nil {
			return err
		}
		m.RewrittenDataFiles, m.RemovedDeleteFiles = len(p.old), len(p.deletes)
		return nil
	}
	groups, err := l.compactionGroups(ctx, tbl, opts.TargetFileSize)
	if err != nil {
		return err
	}
	deletes := map[string]bool{}
	for _, g := range groups {
		m.RewrittenDataFiles += len(g.Tasks)
		for _, task := range g.Tasks {
			for _, d := range task.DeleteFiles {
				deletes[d.FilePath()] = true
			}
		}
	}
	m.RemovedDeleteFiles = len(deletes)
	return nil
}

// removeOrphans deletes the unreferenced files older than age under the
// table's data/ and metadata/ folders (not the rest of the table's
// folder, where the lake keeps other things, such as discarded/<table>/
// quarantine/); with dryRun it only counts them.
func removeOrphans(ctx context.Context, tbl *table.Table, age time.Duration, dryRun bool, m *Maintenance) error {
	for _, dir := range []string{"data", "metadata"} {
		res, err := tbl.DeleteOrphanFiles(ctx, table.WithLocation(tbl.Location()+"/"+dir), table.WithFilesOlderThan(age), table.WithDryRun(dryRun))
		if err != nil {
			return err
		}
		if dryRun {
			m.RemovedOrphans += len(res.OrphanFileLocations)
		} else {
			m.RemovedOrphans += len(res.DeletedFiles)
		}
	}
	return nil
}

// countFiles fills in the file counts of a current snapshot, planned as
// tasks (currentFiles).
func countFiles(tasks []table.FileScanTask, m *Maintenance) {
	data, deletes, parts := map[string]bool{}, map[string]bool{}, map[string]int{}
	for _, task := range tasks {
		if !data[task.File.FilePath()] {
			m.DataBytes += task.File.FileSizeBytes()
			part := fmt.Sprint(task.File.Partition())
			parts[part]++
			m.MaxPartitionDataFiles = max(m.MaxPartitionDataFiles, parts[part])
		}
		data[task.File.FilePath()] = true
		for _, d := range task.DeleteFiles {
			deletes[d.FilePath()] = true
		}
	}
	m.DataFiles, m.DeleteFiles, m.Partitions = len(data), len(deletes), len(parts)
}

// currentFiles plans tbl's current snapshot: its data files with their
// delete files; none when the table has no snapshot.
func currentFiles(ctx context.Context, tbl *table.Table) ([]table.FileScanTask, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	scan := tbl.Scan()
	defer scan.Close()
	return scan.PlanFiles(ctx)
}

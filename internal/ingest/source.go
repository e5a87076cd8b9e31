package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/pgarrow"
)

// Type OIDs of the cursor types.
const (
	oidTimestamp   = 1114
	oidTimestamptz = 1184
)

// session is one connection to the source, for one table, and at most one
// REPEATABLE READ, READ ONLY transaction on it.
type session struct {
	in   *Ingester
	t    *contract.Table
	conn *pgx.Conn
	tx   pgx.Tx
	desc *pgarrow.Table // set by begin
}

// connect opens a connection to the source for table t.
func (in *Ingester) connect(ctx context.Context, t *contract.Table) (*session, error) {
	cfg, err := pgx.ParseConfig(in.Source)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: source URL: %w", t.Name, err)
	}
	if in.ConnectTimeout > 0 {
		cfg.ConnectTimeout = in.ConnectTimeout
	} else if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "lake-ingest"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if e := sourceError(t.Name, "connect", err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("ingest %s: connect: %w", t.Name, err)
	}
	return &session{in: in, t: t, conn: conn}, nil
}

// fail turns err into the error to return: a *SourceUnavailableError when
// the source failed, else err wrapped with the table and op.
func (s *session) fail(op string, err error) error {
	if e := sourceError(s.t.Name, op, err); e != nil {
		return e
	}
	return fmt.Errorf("ingest %s: %s: %w", s.t.Name, op, err)
}

func (s *session) close() {
	if s.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.tx != nil {
		_ = s.tx.Rollback(ctx) // read only: nothing to keep
	}
	_ = s.conn.Close(ctx)
	s.conn, s.tx = nil, nil
}

// boundQuery reads, in one statement and before the run's snapshot is
// taken, what bounds the run: the clock, the start of the oldest other
// transaction in flight in this database, the oldest pending prepared
// transaction, whether the role may see other sessions' transactions
// (without pg_read_all_stats their xact_start reads as NULL), and, on a
// standby, the last replayed commit. Instants are microseconds since the
// epoch, so no time zone is involved.
const boundQuery = `
SELECT pg_is_in_recovery(),
       current_user,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       floor(extract(epoch FROM statement_timestamp()) * 1000000)::bigint,
       floor(extract(epoch FROM a.oldest) * 1000000)::bigint,
       a.oldest_pid,
       floor(extract(epoch FROM (SELECT min(prepared) FROM pg_catalog.pg_prepared_xacts
                                  WHERE database = current_database())) * 1000000)::bigint,
       floor(extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000000)::bigint
FROM (
  SELECT min(xact_start) AS oldest,
         (array_agg(pid ORDER BY xact_start) FILTER (WHERE xact_start IS NOT NULL))[1] AS oldest_pid
  FROM pg_catalog.pg_stat_activity
  WHERE datname = current_database()
    AND pid <> pg_backend_pid()
    AND backend_type NOT IN ('autovacuum worker', 'autovacuum launcher')
) a`

// bound returns the run's exclusive upper bound hi and what fixed it. Every
// row version that is not visible to a snapshot taken after bound returns
// belongs to a transaction that started at or after hi, so a row it stamps
// with its start time (now()) or later has cursor >= hi and is picked up by
// the next run, whose lo is this run's hi.
//
// A prepared transaction (two-phase commit) has left pg_stat_activity and
// its start time is lost, but every earlier run that happened while it was
// in flight held its bound at or below that start; so while one is pending
// the bound stays at lo, the current watermark. On a first run (lo nil) the
// best available is its PREPARE time.
func (s *session) bound(ctx context.Context, lo *Instant) (Instant, string, error) {
	var (
		standby, seesAll         bool
		role                     string
		clock                    int64
		oldest, prepared, replay *int64
		oldestPID                *int32
	)
	err := s.conn.QueryRow(ctx, boundQuery).Scan(&standby, &role, &seesAll, &clock, &oldest, &oldestPID, &prepared, &replay)
	if err != nil {
		return 0, "", s.fail("read pg_stat_activity", err)
	}
	if standby {
		return s.standbyBound(clock, replay)
	}
	if !seesAll {
		return 0, "", &PrivilegeError{Table: s.t.Name, Role: role}
	}
	margin := s.in.Margin
	if margin <= 0 {
		margin = DefaultMargin
	}
	hi, reason := clock, "clock"
	if oldest != nil && *oldest < hi {
		hi, reason = *oldest, fmt.Sprintf("transaction in flight since %s (pid %d)", Instant(*oldest), *oldestPID)
	}
	if prepared != nil {
		if lo != nil {
			return *lo, fmt.Sprintf("prepared transaction pending since %s: held at the watermark", Instant(*prepared)), nil
		}
		if *prepared < hi {
			hi, reason = *prepared, fmt.Sprintf("prepared transaction pending since %s", Instant(*prepared))
		}
	}
	hi -= margin.Microseconds()
	return Instant(hi), fmt.Sprintf("%s, minus a %s margin", reason, margin), nil
}

// standbyBound is the upper bound on a standby: the primary's transactions
// in flight are invisible here, so the bound is the last replayed commit
// minus the configured lag window.
func (s *session) standbyBound(clock int64, replay *int64) (Instant, string, error) {
	if s.in.ReplicaLag <= 0 {
		return 0, "", &StandbyError{Table: s.t.Name, Msg: "the primary's transactions in flight are not visible on a standby, " +
			"so the no-loss bound cannot be computed; read from the primary, or set a replica lag window " +
			"(--replica-lag) longer than any transaction that writes the table"}
	}
	if replay == nil {
		return 0, "", &StandbyError{Table: s.t.Name, Msg: "it has replayed no transaction since it started (pg_last_xact_replay_timestamp() is NULL); retry once it has"}
	}
	hi := min(*replay, clock) - s.in.ReplicaLag.Microseconds()
	return Instant(hi), fmt.Sprintf("standby: last replayed commit %s minus the %s replica lag window", Instant(*replay), s.in.ReplicaLag), nil
}

// begin starts the session's REPEATABLE READ, READ ONLY transaction (in
// the exported snapshot snap, if set), describes the table from the
// catalog and checks the contract's cursor and key columns against it.
func (s *session) begin(ctx context.Context, snap string) error {
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.fail("begin", err)
	}
	s.tx = tx
	if snap != "" {
		if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snap)); err != nil {
			return s.fail("set transaction snapshot", err)
		}
	}
	desc, err := pgarrow.Describe(ctx, tx, s.t.Source.Schema, s.t.Source.Table)
	if err != nil {
		var notFound *pgarrow.TableNotFoundError
		var unsupported *pgarrow.UnsupportedTypeError
		if errors.As(err, &notFound) || errors.As(err, &unsupported) {
			return err
		}
		return s.fail("describe", err)
	}
	s.desc = desc
	return s.checkColumns()
}

func (s *session) checkColumns() error {
	src := s.t.Source.Schema + "." + s.t.Source.Table
	c, ok := s.desc.Column(s.t.Cursor)
	if !ok {
		return &ColumnError{Table: s.t.Name, Source: src, Column: s.t.Cursor, Role: "cursor", Msg: "no such column"}
	}
	if c.OID != oidTimestamp && c.OID != oidTimestamptz {
		return &ColumnError{Table: s.t.Name, Source: src, Column: s.t.Cursor, Role: "cursor",
			Msg: fmt.Sprintf("type %s: a cursor must be timestamp with time zone or timestamp without time zone", c.Type)}
	}
	for _, k := range s.t.PrimaryKey {
		if _, ok := s.desc.Column(k); !ok {
			return &ColumnError{Table: s.t.Name, Source: src, Column: k, Role: "primary key", Msg: "no such column"}
		}
	}
	names := make([]string, len(s.desc.Columns))
	for i, c := range s.desc.Columns {
		names[i] = c.Name
	}
	// nothing is extracted from a table whose columns the catalog cannot
	// hold: every object of it would fail at the commit
	return catalog.CheckColumnNames(s.t.Name, names)
}

// exportSnapshot exports the session's snapshot for other sessions to read
// in; it stays valid while the session's transaction is open.
func (s *session) exportSnapshot(ctx context.Context) (string, error) {
	var id string
	if err := s.tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil {
		return "", s.fail("export snapshot", err)
	}
	return id, nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

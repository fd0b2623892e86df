package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/opsguard/opsguard/backup"
)

// The queries of the backup register. *Tx implements backup.Tx.

var _ backup.Tx = (*Tx)(nil)

const dataSetColumns = `id, name, owner, classification, description, frequency, type, retention_days, instructions, drill,
	created_at, created_by, updated_at`

func scanDataSet(sc row) (backup.DataSet, error) {
	var d backup.DataSet
	var drill, created, updated string
	err := sc.Scan(&d.ID, &d.Name, &d.Owner, &d.Classification, &d.Description, &d.Frequency, &d.Type, &d.RetentionDays, &d.Instructions, &drill,
		&created, &d.CreatedBy, &updated)
	if err != nil {
		return d, err
	}
	d.Drill = []byte(drill)
	if d.CreatedAt, err = parseTS(created); err != nil {
		return d, err
	}
	d.UpdatedAt, err = parseTS(updated)
	return d, err
}

// InsertDataSet stores a data set.
func (tx *Tx) InsertDataSet(ctx context.Context, d backup.DataSet) error {
	_, err := tx.exec(ctx, "INSERT INTO backup_datasets ("+dataSetColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.Name, d.Owner, d.Classification, d.Description, d.Frequency, d.Type, d.RetentionDays, d.Instructions, string(d.Drill),
		ts(d.CreatedAt), d.CreatedBy, ts(d.UpdatedAt))
	return conflict(err, "data set %s already exists", d.Name)
}

// UpdateDataSet stores a data set's documented procedure and drill
// specification.
func (tx *Tx) UpdateDataSet(ctx context.Context, d backup.DataSet) error {
	_, err := tx.exec(ctx, `UPDATE backup_datasets SET owner = ?, classification = ?, description = ?, frequency = ?, type = ?, retention_days = ?,
		instructions = ?, drill = ?, updated_at = ? WHERE id = ?`,
		d.Owner, d.Classification, d.Description, d.Frequency, d.Type, d.RetentionDays, d.Instructions, string(d.Drill), ts(d.UpdatedAt), d.ID)
	return err
}

// DataSetByName returns a data set.
func (tx *Tx) DataSetByName(ctx context.Context, name string) (backup.DataSet, error) {
	d, err := scanDataSet(tx.queryRow(ctx, "SELECT "+dataSetColumns+" FROM backup_datasets WHERE name = ?", name))
	return d, notFound(err, "data set "+name)
}

// ListDataSets returns every data set by name.
func (tx *Tx) ListDataSets(ctx context.Context) ([]backup.DataSet, error) {
	return queryAll(ctx, tx, scanDataSet, "SELECT "+dataSetColumns+" FROM backup_datasets ORDER BY name")
}

const copyColumns = `c.id, c.dataset_id, d.name, c.name, c.source, c.location, c.offsite, c.password_secret, c.password_sealed, c.added_locally,
	c.created_at, c.created_by, c.collected_at, c.collect_error`

const copyFrom = " FROM backup_copies c JOIN backup_datasets d ON d.id = c.dataset_id"

func scanCopy(sc row) (backup.Copy, error) {
	var c backup.Copy
	var created string
	var collected sql.NullString
	err := sc.Scan(&c.ID, &c.DataSetID, &c.DataSet, &c.Name, &c.Source, &c.Location, &c.Offsite, &c.PasswordSecret, &c.SealedPassword, &c.AddedLocally,
		&created, &c.CreatedBy, &collected, &c.CollectError)
	if err != nil {
		return c, err
	}
	c.PasswordSet = c.SealedPassword != ""
	if c.CreatedAt, err = parseTS(created); err != nil {
		return c, err
	}
	c.CollectedAt, err = parseNullTS(collected)
	return c, err
}

// InsertCopy stores a copy.
func (tx *Tx) InsertCopy(ctx context.Context, c backup.Copy) error {
	_, err := tx.exec(ctx, `INSERT INTO backup_copies (id, dataset_id, name, source, location, offsite, password_secret, password_sealed, added_locally,
		created_at, created_by, collected_at, collect_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.DataSetID, c.Name, c.Source, c.Location, c.Offsite, c.PasswordSecret, c.SealedPassword, c.AddedLocally,
		ts(c.CreatedAt), c.CreatedBy, nullTS(c.CollectedAt), c.CollectError)
	return conflict(err, "data set %s already has a copy named %s", c.DataSet, c.Name)
}

// UpdateCopyCollect stores a copy's last collection.
func (tx *Tx) UpdateCopyCollect(ctx context.Context, c backup.Copy) error {
	_, err := tx.exec(ctx, "UPDATE backup_copies SET collected_at = ?, collect_error = ? WHERE id = ?", nullTS(c.CollectedAt), c.CollectError, c.ID)
	return err
}

// CopyByName returns a data set's copy.
func (tx *Tx) CopyByName(ctx context.Context, dataSetID, name string) (backup.Copy, error) {
	c, err := scanCopy(tx.queryRow(ctx, "SELECT "+copyColumns+copyFrom+" WHERE c.dataset_id = ? AND c.name = ?", dataSetID, name))
	return c, notFound(err, "copy "+name)
}

// ListCopies returns the copies of a data set (of all for ""), by data
// set and name.
func (tx *Tx) ListCopies(ctx context.Context, dataSetID string) ([]backup.Copy, error) {
	return queryAll(ctx, tx, scanCopy, "SELECT "+copyColumns+copyFrom+" WHERE ? = '' OR c.dataset_id = ? ORDER BY d.name, c.name", dataSetID, dataSetID)
}

// LiveSnapshotIDs returns the ids of a copy's snapshots not gone.
func (tx *Tx) LiveSnapshotIDs(ctx context.Context, copyID string) (map[string]bool, error) {
	ids, err := queryAll(ctx, tx, func(r row) (s string, err error) { return s, r.Scan(&s) },
		"SELECT snapshot_id FROM backup_snapshots WHERE copy_id = ? AND gone_at IS NULL", copyID)
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, err
}

const snapshotColumns = "copy_id, snapshot_id, dataset_id, taken_at, taken_unix, type, size_bytes, checksum, host, paths, seen_at, gone_at"

// PutSnapshots stores snapshots, many to a statement; one stored before
// (gone since) is live again.
func (tx *Tx) PutSnapshots(ctx context.Context, ss []backup.Snapshot) error {
	const cols, per = 12, 30000 / 12
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	for len(ss) > 0 {
		n := min(len(ss), per)
		args := make([]any, 0, n*cols)
		for _, s := range ss[:n] {
			args = append(args, s.CopyID, s.ID, s.DataSetID, ts(s.Time), s.Time.Unix(), s.Type, s.SizeBytes, s.Checksum, s.Host,
				mustJSON(nonNil(s.Paths)), ts(s.SeenAt), nullTS(s.GoneAt))
		}
		q := "INSERT INTO backup_snapshots (" + snapshotColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", n), ", ") +
			" ON CONFLICT (copy_id, snapshot_id) DO UPDATE SET gone_at = NULL, seen_at = excluded.seen_at"
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return err
		}
		ss = ss[n:]
	}
	return nil
}

// MarkSnapshotsGone marks a copy's snapshots as no longer listed.
func (tx *Tx) MarkSnapshotsGone(ctx context.Context, copyID string, ids []string, at time.Time) error {
	for len(ids) > 0 {
		n := min(len(ids), 10000)
		args := append([]any{ts(at), copyID}, stringArgs(ids[:n])...)
		if _, err := tx.exec(ctx, "UPDATE backup_snapshots SET gone_at = ? WHERE copy_id = ? AND snapshot_id IN ("+placeholders(n)+")", args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func scanSnapshot(sc row) (backup.Snapshot, error) {
	var s backup.Snapshot
	var taken, seen, paths string
	var unix int64
	var gone sql.NullString
	err := sc.Scan(&s.CopyID, &s.ID, &s.DataSetID, &taken, &unix, &s.Type, &s.SizeBytes, &s.Checksum, &s.Host, &paths, &seen, &gone)
	if err != nil {
		return s, err
	}
	if err := unmarshalAll(paths, &s.Paths); err != nil {
		return s, err
	}
	if s.Time, err = parseTS(taken); err != nil {
		return s, err
	}
	if s.SeenAt, err = parseTS(seen); err != nil {
		return s, err
	}
	s.GoneAt, err = parseNullTS(gone)
	return s, err
}

// ListSnapshots returns a data set's snapshots, newest first.
func (tx *Tx) ListSnapshots(ctx context.Context, dataSetID string, all bool, limit int) ([]backup.Snapshot, error) {
	return queryAll(ctx, tx, scanSnapshot, "SELECT "+snapshotColumns+" FROM backup_snapshots WHERE dataset_id = ? AND (? OR gone_at IS NULL) ORDER BY taken_unix DESC, snapshot_id LIMIT ?",
		dataSetID, all, limit)
}

// CopySummaries sums up every copy's live snapshots: counts, oldest and
// newest per type in one pass, then the 24-hour windows of the last days
// that hold one, through the index on taken time.
func (tx *Tx) CopySummaries(ctx context.Context, now time.Time, days int) ([]backup.CopySummary, error) {
	end := now.Unix()
	type agg struct {
		copyID, typ string
		n           int
		oldest      int64
		newest      int64
	}
	aggs, err := queryAll(ctx, tx, func(r row) (a agg, err error) {
		return a, r.Scan(&a.copyID, &a.typ, &a.n, &a.oldest, &a.newest)
	}, "SELECT copy_id, type, COUNT(*), MIN(taken_unix), MAX(taken_unix) FROM backup_snapshots WHERE gone_at IS NULL AND taken_unix <= ? GROUP BY copy_id, type", end)
	if err != nil {
		return nil, err
	}
	byCopy := map[string]*backup.CopySummary{}
	var order []string
	for _, a := range aggs {
		s := byCopy[a.copyID]
		if s == nil {
			s = &backup.CopySummary{CopyID: a.copyID, Newest: map[string]time.Time{}}
			byCopy[a.copyID] = s
			order = append(order, a.copyID)
		}
		s.Count += a.n
		if old := time.Unix(a.oldest, 0).UTC(); s.Oldest.IsZero() || old.Before(s.Oldest) {
			s.Oldest = old
		}
		s.Newest[a.typ] = time.Unix(a.newest, 0).UTC()
	}
	type day struct {
		copyID string
		d      int
	}
	ds, err := queryAll(ctx, tx, func(r row) (x day, err error) { return x, r.Scan(&x.copyID, &x.d) },
		"SELECT DISTINCT copy_id, (? - taken_unix) / 86400 FROM backup_snapshots WHERE gone_at IS NULL AND taken_unix <= ? AND taken_unix > ?",
		end, end, end-int64(days)*86400)
	for _, x := range ds {
		if s := byCopy[x.copyID]; s != nil {
			s.Days = append(s.Days, x.d)
		}
	}
	out := make([]backup.CopySummary, len(order))
	for i, id := range order {
		out[i] = *byCopy[id]
	}
	return out, err
}

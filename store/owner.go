package store

import (
	"context"

	"github.com/opsguard/opsguard/vuln"
)

var _ vuln.OwnerTx = (*Tx)(nil)

// AssetOwners maps every owned asset's name to its owner.
func (tx *Tx) AssetOwners(ctx context.Context) (map[string]string, error) {
	rows, err := tx.query(ctx, "SELECT name, owner FROM assets WHERE owner <> ''")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, owner string
		if err := rows.Scan(&name, &owner); err != nil {
			return nil, err
		}
		out[name] = owner
	}
	return out, rows.Err()
}

// SetAssetOwner stores an asset's owner.
func (tx *Tx) SetAssetOwner(ctx context.Context, assetID, owner string) error {
	_, err := tx.exec(ctx, "UPDATE assets SET owner = ? WHERE id = ?", owner, assetID)
	return err
}

// ListAssets returns every asset by name with its open findings.
func (tx *Tx) ListAssets(ctx context.Context) ([]vuln.AssetInfo, error) {
	rows, err := tx.query(ctx, `SELECT a.id, a.name, a.kind, a.owner,
		(SELECT COUNT(*) FROM findings f WHERE f.asset_id = a.id AND f.status <> 'closed')
		FROM assets a ORDER BY a.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []vuln.AssetInfo{}
	for rows.Next() {
		var a vuln.AssetInfo
		if err := rows.Scan(&a.ID, &a.Name, &a.Kind, &a.Owner, &a.Open); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

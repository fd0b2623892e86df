package vuln

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// AssetInfo is an asset with its owner and how many findings it has open.
type AssetInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Owner string `json:"owner"`
	Open  int    `json:"open"`
}

// OwnerTx is what asset ownership needs beyond Tx.
type OwnerTx interface {
	Tx
	// AssetOwners maps every owned asset's name to its owner.
	AssetOwners(ctx context.Context) (map[string]string, error)
	SetAssetOwner(ctx context.Context, assetID, owner string) error
	ListAssets(ctx context.Context) ([]AssetInfo, error)
}

func ownerTx(tx Tx) (OwnerTx, error) {
	otx, ok := tx.(OwnerTx)
	if !ok {
		return nil, fmt.Errorf("vuln: the store does not support asset owners")
	}
	return otx, nil
}

// SetOwner names the owner of an asset (a user name; empty clears it).
// Escalation sends each owner one digest of their assets' breaches. The
// caller checks that the owner is a user.
func (s *Service) SetOwner(ctx context.Context, actor, asset, owner string) (AssetInfo, error) {
	owner = strings.TrimSpace(owner)
	var out AssetInfo
	err := s.store.Update(ctx, func(tx Tx) error {
		otx, err := ownerTx(tx)
		if err != nil {
			return err
		}
		a, err := tx.AssetByName(ctx, asset)
		if err != nil {
			return err
		}
		if err := otx.SetAssetOwner(ctx, a.ID, owner); err != nil {
			return err
		}
		out = AssetInfo{ID: a.ID, Name: a.Name, Kind: a.Kind, Owner: owner}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "asset.owner_set", Subject: "asset/" + a.ID,
			Payload: map[string]any{"asset": a.Name, "owner": owner}})
		return err
	})
	if opsguard.ErrorCode(err) == opsguard.ENotFound {
		return out, opsguard.Errorf(opsguard.ENotFound, "no asset %q", asset)
	}
	return out, err
}

// Assets lists the assets with their owners.
func (s *Service) Assets(ctx context.Context) ([]AssetInfo, error) {
	var out []AssetInfo
	err := s.store.View(ctx, func(tx Tx) error {
		otx, err := ownerTx(tx)
		if err != nil {
			return err
		}
		out, err = otx.ListAssets(ctx)
		return err
	})
	return out, err
}

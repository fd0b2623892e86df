-- Who owns an asset: the user whose digest of SLA breaches covers it (VM-4).

ALTER TABLE assets ADD COLUMN owner TEXT NOT NULL DEFAULT '';

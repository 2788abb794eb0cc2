-- ECR's repository settings, resource tags and repository policy live on the repository row,
-- so that authorizing a request reads one row; registry policies per account; and the part
-- bookkeeping of ECR's layer upload API (every part but the last must be at least 5 MiB).
ALTER TABLE repositories ADD COLUMN tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE';
ALTER TABLE repositories ADD COLUMN tag_mutability_exclusions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repositories ADD COLUMN scan_on_push BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE repositories ADD COLUMN encryption_type TEXT NOT NULL DEFAULT 'AES256';
ALTER TABLE repositories ADD COLUMN kms_key TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE repositories ADD COLUMN policy TEXT NOT NULL DEFAULT '';

CREATE TABLE registry_policies (
    account    TEXT   PRIMARY KEY,
    policy     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE uploads ADD COLUMN parts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN last_part_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN short_part BOOLEAN NOT NULL DEFAULT FALSE;

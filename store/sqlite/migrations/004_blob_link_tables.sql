-- Linking a pushed blob writes less. The blobs table goes: it was written at every link and
-- never read (repository_blobs says which repositories hold a blob, the blob store what it
-- is). repository_blobs and gc_review_queue keep their rows in their primary key's b-tree
-- (WITHOUT ROWID) instead of in a rowid b-tree beside it: a link updates four b-trees
-- instead of eight, and its transaction writes fewer pages to the log. Their columns, keys
-- and indexes are unchanged. WITHOUT ROWID is SQLite's: PostgreSQL tables have no rowid,
-- and a PostgreSQL store starts from the schema this one arrives at.
DROP TABLE blobs;

CREATE TABLE repository_blobs_new (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    linked_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
INSERT INTO repository_blobs_new (repository_id, digest, size, linked_at)
    SELECT repository_id, digest, size, linked_at FROM repository_blobs;
DROP TABLE repository_blobs;
ALTER TABLE repository_blobs_new RENAME TO repository_blobs;
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE gc_review_queue_new (
    digest        TEXT    NOT NULL,
    repository_id BIGINT  NOT NULL,
    is_manifest   BOOLEAN NOT NULL,
    review_after  BIGINT  NOT NULL,
    lease_until   BIGINT  NOT NULL,
    PRIMARY KEY (is_manifest, repository_id, digest)
) WITHOUT ROWID;
INSERT INTO gc_review_queue_new (digest, repository_id, is_manifest, review_after, lease_until)
    SELECT digest, repository_id, is_manifest, review_after, lease_until FROM gc_review_queue;
DROP TABLE gc_review_queue;
ALTER TABLE gc_review_queue_new RENAME TO gc_review_queue;
CREATE INDEX gc_review_queue_due ON gc_review_queue (review_after);

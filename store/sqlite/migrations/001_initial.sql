-- Coffer metadata schema, version 1.
-- Portable SQL: it runs unchanged on SQLite and PostgreSQL. Times are unix milliseconds in
-- BIGINT; ids are assigned by the application; no engine-specific types or operators.
-- One exception: PostgreSQL would store payload as BYTEA natively; SQLite accepts the type
-- name (NUMERIC affinity) and keeps the bytes of a BLOB value unchanged.

CREATE TABLE repositories (
    id         BIGINT PRIMARY KEY,
    account    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account, name)
);

CREATE TABLE blobs (
    digest     TEXT   PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    linked_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT   NOT NULL,
    media_type     TEXT   NOT NULL,
    artifact_type  TEXT   NOT NULL,
    size           BIGINT NOT NULL,
    payload        BYTEA  NOT NULL,
    subject        TEXT,
    annotations    TEXT,
    pushed_at      BIGINT NOT NULL,
    last_pulled_at BIGINT,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX manifests_digest ON manifests (digest);
CREATE INDEX manifests_subject ON manifests (repository_id, subject);

-- The descriptors a manifest lists, in order: config and layers (blobs), or index entries
-- (child manifests of the same repository).
CREATE TABLE manifest_references (
    repository_id     BIGINT  NOT NULL,
    parent_digest     TEXT    NOT NULL,
    position          INTEGER NOT NULL,
    child_digest      TEXT    NOT NULL,
    child_is_manifest BOOLEAN NOT NULL,
    media_type        TEXT    NOT NULL,
    size              BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, parent_digest, position),
    FOREIGN KEY (repository_id, parent_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_references_child ON manifest_references (child_digest, repository_id);

CREATE TABLE tags (
    repository_id BIGINT NOT NULL,
    name          TEXT   NOT NULL,
    digest        TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repository_id, digest);

CREATE TABLE uploads (
    id            TEXT   PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    started_at    BIGINT NOT NULL
);
CREATE INDEX uploads_started ON uploads (started_at);

-- Garbage-collection review queue. repository_id is 0 for blobs (they are global).
-- lease_until is 0 when no collector holds the item.
CREATE TABLE gc_review_queue (
    digest        TEXT    NOT NULL,
    repository_id BIGINT  NOT NULL,
    is_manifest   BOOLEAN NOT NULL,
    review_after  BIGINT  NOT NULL,
    lease_until   BIGINT  NOT NULL,
    PRIMARY KEY (is_manifest, repository_id, digest)
);
CREATE INDEX gc_review_queue_due ON gc_review_queue (review_after);

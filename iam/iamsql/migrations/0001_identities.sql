-- Identity store schema. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are unix milliseconds; sealed secrets are base64 text (AES-256-GCM, key outside the database).

CREATE TABLE iam_generation (
    id    INTEGER PRIMARY KEY,
    value BIGINT  NOT NULL
);
INSERT INTO iam_generation (id, value) VALUES (1, 0);

CREATE TABLE iam_organization (
    id                    TEXT   PRIMARY KEY,
    management_account_id TEXT   NOT NULL,
    root_id               TEXT   NOT NULL,
    feature_set           TEXT   NOT NULL,
    created_at            BIGINT NOT NULL
);

CREATE TABLE iam_accounts (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    email_lower   TEXT    NOT NULL UNIQUE,
    org_id        TEXT    NOT NULL,
    management    BOOLEAN NOT NULL,
    status        TEXT    NOT NULL,
    joined_method TEXT    NOT NULL,
    joined_at     BIGINT  NOT NULL
);

-- Users, groups and roles. Names are unique per account and kind regardless of case.
CREATE TABLE iam_entities (
    id                   TEXT    PRIMARY KEY,
    account_id           TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    name_lower           TEXT    NOT NULL,
    path                 TEXT    NOT NULL,
    created_at           BIGINT  NOT NULL,
    boundary_arn         TEXT    NOT NULL DEFAULT '',
    trust_policy         TEXT    NOT NULL DEFAULT '',
    description          TEXT    NOT NULL DEFAULT '',
    max_session_duration INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, kind, name_lower)
);

-- Tags of users, roles, managed policies and MFA devices (owner_id is the owner's unique id or serial).
CREATE TABLE iam_tags (
    owner_id  TEXT NOT NULL,
    key_lower TEXT NOT NULL,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (owner_id, key_lower)
);

CREATE TABLE iam_group_members (
    group_id TEXT   NOT NULL,
    user_id  TEXT   NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX iam_group_members_user ON iam_group_members (user_id);

CREATE TABLE iam_inline_policies (
    owner_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (owner_id, name)
);

CREATE TABLE iam_policies (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    arn             TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    name_lower      TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    default_version TEXT    NOT NULL,
    next_version    INTEGER NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (account_id, name_lower)
);

CREATE TABLE iam_policy_versions (
    policy_id  TEXT   NOT NULL,
    version_id TEXT   NOT NULL,
    document   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, version_id)
);

-- Managed policies attached to users, groups and roles (customer or AWS managed, by ARN).
CREATE TABLE iam_attachments (
    owner_id    TEXT   NOT NULL,
    policy_arn  TEXT   NOT NULL,
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, policy_arn)
);
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn);

-- Long-term access keys; user_id is '' for the root user's keys.
CREATE TABLE iam_access_keys (
    id                TEXT   PRIMARY KEY,
    account_id        TEXT   NOT NULL,
    user_id           TEXT   NOT NULL,
    secret_sealed     TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    last_used_at      BIGINT NOT NULL DEFAULT 0,
    last_used_service TEXT   NOT NULL DEFAULT '',
    last_used_region  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX iam_access_keys_user ON iam_access_keys (account_id, user_id);

-- Virtual MFA devices; user_id is '' until the device is enabled.
CREATE TABLE iam_mfa_devices (
    serial      TEXT   PRIMARY KEY,
    account_id  TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    path        TEXT   NOT NULL,
    seed_sealed TEXT   NOT NULL,
    user_id     TEXT   NOT NULL DEFAULT '',
    enabled_at  BIGINT NOT NULL DEFAULT 0,
    last_step   BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX iam_mfa_devices_user ON iam_mfa_devices (account_id, user_id);

-- Temporary credentials. The token is kept only as its SHA-256 (hex); principal_json is the
-- principal as it was when the session was issued; owner_id is the role or user id ('' for root).
CREATE TABLE iam_sessions (
    access_key_id  TEXT   PRIMARY KEY,
    account_id     TEXT   NOT NULL,
    owner_id       TEXT   NOT NULL,
    principal_json TEXT   NOT NULL,
    secret_sealed  TEXT   NOT NULL,
    token_hash     TEXT   NOT NULL,
    policy         TEXT   NOT NULL,
    policy_arns    TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX iam_sessions_expires ON iam_sessions (expires_at);

-- Repository ids are never reused, even after the newest repository is deleted: a request
-- still holding the old id must not reach a new repository. (PostgreSQL would use a
-- SEQUENCE; this table works on both.)
CREATE TABLE sequences (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO sequences (name, value) SELECT 'repositories', COALESCE(MAX(id), 0) FROM repositories;

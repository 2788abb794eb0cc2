// Package iamsql keeps Coffer's identities in SQL (SQLite via modernc.org/sqlite, portable to PostgreSQL)
// and implements every identity operation, each in one transaction, plus the cached authentication hot path.
package iamsql

// The `file_outcomes` table as the round's contract defines it (the load creates it in
// functions/core/schema.ts); CLI tests create it from here where the load does not yet.
export const FILE_OUTCOMES_DDL = `CREATE TABLE IF NOT EXISTS file_outcomes (
  source_key VARCHAR(1024) NOT NULL,
  source_version VARCHAR(1024),
  source_sha256 VARCHAR(64),
  load_id VARCHAR(64),
  stage VARCHAR(16) NOT NULL,
  outcome VARCHAR(16) NOT NULL,
  reason VARCHAR(1024),
  rows_read INTEGER, transactions_new INTEGER, transactions_duplicate INTEGER,
  rows_rejected INTEGER, warnings INTEGER,
  recorded_at TIMESTAMP NOT NULL)`;

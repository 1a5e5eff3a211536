// Already loaded, or superseded on arrival (docs/design.md §7.3). Keeps: a raw key has at most one
// current load, and the newest version wins. Against its key's current load a file is
// already_loaded (the same load: a redelivered message) or superseded on arrival (an older version
// arriving late: a redriven message, a slower loader); nothing of either is written. A file that
// stays `loaded` notes the current load it supersedes. (One UPDATE: a key has one current load.)
export function arrival(): string[] {
  return [
    `UPDATE stage_files SET
  outcome = CASE WHEN l.load_id = stage_files.load_id THEN 'already_loaded' WHEN stage_files.source_order < l.source_order THEN 'superseded' ELSE 'loaded' END,
  newer_load_id = CASE WHEN l.load_id = stage_files.load_id THEN CAST(NULL AS VARCHAR(64)) WHEN stage_files.source_order < l.source_order THEN l.load_id ELSE CAST(NULL AS VARCHAR(64)) END,
  superseded_load_id = CASE WHEN l.load_id = stage_files.load_id THEN CAST(NULL AS VARCHAR(64)) WHEN stage_files.source_order < l.source_order THEN CAST(NULL AS VARCHAR(64)) ELSE l.load_id END
FROM loads l
WHERE l.source_key = stage_files.source_key AND l.superseded_by IS NULL AND stage_files.outcome = 'loaded'`,
  ];
}

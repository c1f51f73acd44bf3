-- Keep one row per key among the rows of a load (a record repeated inside its file).
DELETE FROM events
WHERE load_id = $load_id
  AND rowid NOT IN (SELECT min(rowid) FROM events WHERE load_id = $load_id GROUP BY source_key)

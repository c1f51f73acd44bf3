-- Drop the rows of a load whose key was loaded before (by an earlier load, in the load's
-- time range): the same record from an overlapping file, a retried webhook, a grown log.
DELETE FROM events
WHERE load_id = $load_id
  AND source_key IN (
      SELECT source_key FROM events
      WHERE ts BETWEEN $lo AND $hi AND load_id IS DISTINCT FROM $load_id
  )

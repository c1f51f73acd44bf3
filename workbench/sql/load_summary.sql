-- The rows a load inserted: their time range, how many, how many distinct keys, whether
-- earlier loads hold rows in that range (then keys may repeat), and how many name the MX
-- that accepted them (then providers of hosted domains may be learned).
WITH s AS (
    SELECT min(ts) AS lo, max(ts) AS hi, count(*) AS n, count(DISTINCT source_key) AS keys,
           count(remote_mta) AS relayed
    FROM events
    WHERE load_id = $load_id
)
SELECT lo, hi, n, keys,
       EXISTS (SELECT 1 FROM events e WHERE e.ts BETWEEN s.lo AND s.hi AND e.load_id IS DISTINCT FROM $load_id) AS older,
       relayed
FROM s

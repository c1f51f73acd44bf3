-- Which load put each event in the store. A file's rows are inserted straight from DuckDB's
-- reader of the file; the loader then finds them by load_id (new rows sit together, so zone
-- maps skip the rest of the table) to drop what was already loaded and to learn from them.
-- load_id is NULL for rows inserted otherwise. loaded_files records the id of each load.
CREATE SEQUENCE load_ids START 1;
ALTER TABLE events ADD COLUMN load_id BIGINT;
ALTER TABLE loaded_files ADD COLUMN load_id BIGINT;

-- The last day with events: the default end of a feedback report's window.
SELECT max(ts)::DATE FROM events

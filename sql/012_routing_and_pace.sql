-- paybatch ledger, version 12 (issue 15): when each phone's operator was last asked, and
-- the request rate learned from the API.
-- Planning reuses a cached operator (mmo-provider-info) only while it is fresh
-- (planning/flow.py ROUTING_FRESH_DAYS); an older one is asked again. Routing cached before
-- this version counts from when the recipient was first recorded (the older time: asked
-- again sooner rather than later).

ALTER TABLE recipients ADD COLUMN routed_at TEXT;
UPDATE recipients SET routed_at = created_at
    WHERE method IS NOT NULL AND provider IS NOT NULL;

-- The request rate the adaptive throttle learned from this API's 429s (requests/s, not
-- money), so the next command starts there instead of finding the limit again (~2.5 s and
-- a 429 each time). Ignored once older than a week.
CREATE TABLE api_pace (
    environment  TEXT PRIMARY KEY,
    learned_rate REAL NOT NULL CHECK (learned_rate > 0),
    learned_at   TEXT NOT NULL
);

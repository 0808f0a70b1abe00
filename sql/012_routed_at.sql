-- paybatch ledger, version 12: when each phone's operator was last asked (issue 15).
-- Planning reuses a cached operator (mmo-provider-info) only while it is fresh
-- (planning/flow.py ROUTING_FRESH_DAYS); an older one is asked again. Routing cached before
-- this version counts from when the recipient was first recorded (the older time: asked
-- again sooner rather than later).

ALTER TABLE recipients ADD COLUMN routed_at TEXT;
UPDATE recipients SET routed_at = created_at
    WHERE method IS NOT NULL AND provider IS NOT NULL;

-- Who holds what: the instance that leased a delivery (in flight) and the feed leases that
-- several instances on one database take (a single SQLite instance keeps its own schedule, so
-- its feed leases stay empty; the columns keep one shape for both stores).
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until INTEGER;

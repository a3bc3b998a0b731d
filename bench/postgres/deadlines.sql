-- The alert queue's input (bench/postgres.sh): :deadlines open obligations of force wessex, all
-- due at the same instant, one second ago, with the counters and the audit chain's head.
-- psql -v deadlines=N -f deadlines.sql (into a database holding schema.sql)
INSERT INTO obligation (force, team, officer, offender_id, kind, risk, due_time, since_time, reason)
SELECT 'wessex', 'team-' || (i % 160) / 20, 'DC ' || (i % 160), i / 3 + 1, (ARRAY[1, 3, 4])[1 + i % 3],
       1 + i % 4, date_trunc('second', now()) - interval '1 second', now() - interval '30 days',
       'derived at import'
  FROM generate_series(1, :deadlines) AS i;
INSERT INTO audit_head (force, seq, hash) VALUES ('wessex', 0, sha256('\x'::bytea));
VACUUM ANALYZE;

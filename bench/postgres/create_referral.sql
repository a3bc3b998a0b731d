-- CreateReferral as one PostgreSQL transaction (pgbench -f; -D clocks=N): insert the referral
-- (received, unallocated) with its subject identifier and link-outbox entry, open its clocks
-- (vigil opens one, triage, for a referral in RECEIVED; clocks=3 opens three), each with its
-- obligation row and indexes, history version and feed event, then the hash-chained audit
-- record and the open counters of the queue's cells. Every new referral counts into the same
-- cell: written after the audit head's lock (see record_visit.sql), it is not a second queue.
\set received random(0, 1999)
\set email random(0, 999999)
\startpipeline
BEGIN;
WITH referral AS (
  INSERT INTO referral (force, source, received_time, subject_display_name, state)
  VALUES ('wessex', 'NCA_CEOP', now() - :received * interval '1 hour', 'Load Subject', 'RECEIVED')
  RETURNING id, force, received_time),
identified AS (
  INSERT INTO referral_identifier (referral_id, type, value)
  SELECT id, 'email', 'load' || :email || '@example.net' FROM referral),
outbox AS (
  INSERT INTO link_outbox (referral_id, revision) SELECT id, 1 FROM referral),
opened AS (
  INSERT INTO obligation (force, team, officer, referral_id, kind, risk, due_time, since_time, reason)
  SELECT r.force, '(queue)', '(unallocated)', r.id, 4 + k, 0,
         r.received_time + (ARRAY[3, 28, 14])[k] * interval '1 day', now(), 'received'
    FROM referral r, generate_series(1, :clocks) AS k
  RETURNING id, force, team, officer, referral_id, kind, risk, due_time, since_time, version),
begun AS (
  INSERT INTO obligation_history (obligation_id, begin_time, force, team, kind, risk, due_time, version)
  SELECT id, since_time, force, team, kind, risk, due_time, version FROM opened)
INSERT INTO obligation_event (force, obligation_id, subject_id, type, kind, due_time)
SELECT force, id, referral_id, 'opened', kind, due_time FROM opened;
SELECT audit_append('wessex', 'Load Driver', 'CreateReferral', currval('referral_id_seq')::text,
                    'referral ' || :email || ' ' || :received || ' ' || now());
UPDATE counter c SET open = c.open + 1 FROM obligation o
 WHERE o.referral_id = (SELECT currval('referral_id_seq'))
   AND (c.force, c.team, c.officer, c.kind, c.risk) = (o.force, o.team, o.officer, o.kind, o.risk);
END;
\endpipeline

-- RecordVisit as one PostgreSQL transaction (pgbench -f; -D offenders=N): read the offender and
-- its latest visits, insert the visit, update the offender, re-time its home-visit clock (the
-- obligation row and its indexes, the history's old version ended and the new one begun), the
-- feed event, the hash-chained audit record, and the open counter of the clock's cell.
-- The audit head's lock serialises every writer from there to its commit; the counter rows are
-- written after it, so that a hot counter cell is never a second queue (as vigil's commit
-- leader writes counters and chains the audit in one place).
\set offender random(1, :offenders)
\set announced random(0, 1)
\startpipeline
BEGIN;
SELECT id, team, officer, risk, status, last_visit_time, last_arms_time, version
  FROM offender WHERE id = :offender FOR UPDATE;
SELECT id, visit_time, outcome FROM visit
 WHERE offender_id = :offender ORDER BY visit_time DESC LIMIT 3;
INSERT INTO visit (offender_id, visit_time, officers, announced, outcome, recorded_by)
  VALUES (:offender, now() - interval '5 minutes', '{DC Load,PC Load}', :announced = 1, 'seen',
          'Load Driver');
UPDATE offender SET last_visit_time = now() - interval '5 minutes', version = version + 1,
                    update_time = now()
 WHERE id = :offender;
WITH retimed AS (
  UPDATE obligation
     SET due_time = now() - interval '5 minutes' + (ARRAY[182, 91, 42, 28])[risk] * interval '1 day',
         since_time = now(), reason = 'home visit on ' || current_date, version = version + 1
   WHERE offender_id = :offender AND kind = 3 AND open
  RETURNING id, force, team, officer, offender_id, kind, risk, due_time, since_time, version),
ended AS (
  UPDATE obligation_history h SET end_time = r.since_time FROM retimed r
   WHERE h.obligation_id = r.id AND h.end_time = 'infinity'),
begun AS (
  INSERT INTO obligation_history (obligation_id, begin_time, force, team, kind, risk, due_time, version)
  SELECT id, since_time, force, team, kind, risk, due_time, version FROM retimed)
INSERT INTO obligation_event (force, obligation_id, subject_id, type, kind, due_time)
SELECT force, id, offender_id, 'retimed', kind, due_time FROM retimed;
SELECT audit_append('wessex', 'Load Driver', 'RecordVisit', :offender::text,
                    'visit ' || :offender || ' ' || now());
-- (A re-time leaves the open count as it was: vigil skips such a net-zero counter write; the
-- row is written here all the same, as the issue's change has a counter.)
UPDATE counter c SET open = c.open + 0 FROM offender o
 WHERE o.id = :offender AND (c.force, c.team, c.officer, c.kind, c.risk) = (o.force, o.team, o.officer, 3, o.risk);
END;
\endpipeline

-- RecordArmsAssessment as one PostgreSQL transaction (pgbench -f; -D offenders=N): read the
-- offender, insert the assessment, re-time every open clock of the offender at the new risk
-- (obligation rows and indexes, history versions ended and begun, a feed event each), the
-- hash-chained audit record, the open counters moved from the old risk's cells to the new
-- one's, and the offender's risk. The audit head's lock serialises every writer from there to
-- its commit; the counter rows are written after it (see record_visit.sql), so that concurrent
-- assessments neither queue twice nor deadlock on them.
\set offender random(1, :offenders)
\set risk random(1, 4)
\startpipeline
BEGIN;
SELECT id, team, officer, risk, status, last_visit_time, last_arms_time, version
  FROM offender WHERE id = :offender FOR UPDATE;
INSERT INTO arms_assessment (offender_id, completed_time, assessor, risk, recorded_by)
  VALUES (:offender, now() - interval '5 minutes', 'DS Load', :risk, 'Load Driver');
WITH retimed AS (
  UPDATE obligation o
     SET risk = :risk,
         due_time = now() - interval '5 minutes' + CASE o.kind
             WHEN 1 THEN (ARRAY[365, 365, 182, 91])[:risk]
             WHEN 3 THEN (ARRAY[182, 91, 42, 28])[:risk]
             ELSE 365 END * interval '1 day',
         since_time = now(), reason = 'ARMS on ' || current_date, version = o.version + 1
   WHERE o.offender_id = :offender AND o.open
  RETURNING o.id, o.force, o.team, o.officer, o.offender_id, o.kind, o.risk, o.due_time,
            o.since_time, o.version),
ended AS (
  UPDATE obligation_history h SET end_time = r.since_time FROM retimed r
   WHERE h.obligation_id = r.id AND h.end_time = 'infinity'),
begun AS (
  INSERT INTO obligation_history (obligation_id, begin_time, force, team, kind, risk, due_time, version)
  SELECT id, since_time, force, team, kind, risk, due_time, version FROM retimed)
INSERT INTO obligation_event (force, obligation_id, subject_id, type, kind, due_time)
SELECT force, id, offender_id, 'retimed', kind, due_time FROM retimed;
SELECT audit_append('wessex', 'Load Driver', 'RecordArmsAssessment', :offender::text,
                    'arms ' || :offender || ' ' || :risk || ' ' || now());
-- Each open clock's count moves from (its cell, the offender's old risk) to the new risk.
UPDATE counter c SET open = c.open + m.delta
  FROM (SELECT ob.force, ob.team, ob.officer, ob.kind, r.risk, r.delta
          FROM obligation ob
          JOIN offender o ON o.id = ob.offender_id
         CROSS JOIN LATERAL (VALUES (o.risk, -1), (:risk, 1)) AS r (risk, delta)
         WHERE ob.offender_id = :offender AND ob.open AND o.risk <> :risk) AS m
 WHERE (c.force, c.team, c.officer, c.kind, c.risk) = (m.force, m.team, m.officer, m.kind, m.risk);
UPDATE offender SET risk = :risk, last_arms_time = now() - interval '5 minutes',
                    version = version + 1, update_time = now()
 WHERE id = :offender;
END;
\endpipeline

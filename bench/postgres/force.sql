-- The synthetic force for the write transactions (bench/postgres.sh): about :obligations open
-- obligations, :obligations * 8 / 21 offenders of force wessex (as bench/scale_lib.sh's
-- load_force) in 8 teams of 20 officers, each with an ARMS and a home-visit clock and three in
-- five a notification clock (2.6 each), due from 60 days ago to 120 days ahead (a third
-- overdue); two earlier visits each; every version's history row; the open counters; the audit
-- chain's head. psql -v obligations=N -f force.sql
\o /dev/null
SELECT setseed(0.21);
\o

INSERT INTO offender (id, force, team, officer, risk, status, display_name, details,
                      last_visit_time, last_arms_time)
SELECT i, 'wessex', 'team-' || (i % 160) / 20, 'DC ' || (i % 160), 1 + (i * 7) % 4, 1,
       'Offender ' || i, repeat(md5(i::text), 9), now() - interval '30 days',
       now() - interval '200 days'
  FROM generate_series(1, :obligations * 8 / 21) AS i;

INSERT INTO obligation (force, team, officer, offender_id, kind, risk, due_time, since_time, reason)
SELECT o.force, o.team, o.officer, o.id, k.kind, o.risk,
       now() + (random() * 180 - 60) * interval '1 day', now() - interval '30 days',
       'derived at import'
  FROM offender o
  CROSS JOIN (VALUES (1), (3), (4)) AS k (kind)
 WHERE k.kind <> 4 OR o.id % 5 < 3;

INSERT INTO obligation_history (obligation_id, begin_time, force, team, kind, risk, due_time, version)
SELECT id, since_time, force, team, kind, risk, due_time, version FROM obligation;

INSERT INTO visit (offender_id, visit_time, officers, announced, outcome, recorded_by)
SELECT o.id, now() - (30 + 60 * v) * interval '1 day', '{DC Import}', true, 'seen', 'import'
  FROM offender o CROSS JOIN generate_series(0, 1) AS v;

-- Every cell a write may move a count into: offenders' kinds at every risk, and the referral
-- queue's clocks (kinds 5-7, grades 0-4) before allocation.
INSERT INTO counter (force, team, officer, kind, risk)
SELECT 'wessex', 'team-' || off / 20, 'DC ' || off, kind, risk
  FROM generate_series(0, 159) AS off, (VALUES (1), (3), (4)) AS k (kind),
       generate_series(1, 4) AS risk;
INSERT INTO counter (force, team, officer, kind, risk)
SELECT 'wessex', '(queue)', '(unallocated)', kind, grade
  FROM generate_series(5, 7) AS kind, generate_series(0, 4) AS grade;
UPDATE counter c SET open = n.open
  FROM (SELECT force, team, officer, kind, risk, count(*) AS open FROM obligation
         GROUP BY 1, 2, 3, 4, 5) AS n
 WHERE (c.force, c.team, c.officer, c.kind, c.risk) = (n.force, n.team, n.officer, n.kind, n.risk);

INSERT INTO audit_head (force, seq, hash) VALUES ('wessex', 0, sha256('\x'::bytea));

VACUUM ANALYZE;

-- vigil's state as a PostgreSQL 15 peer would keep it (bench/postgres.sh): one force's offenders,
-- their open obligations (clocks) with the indexes vigil keeps as keys (the deadline, a team's and
-- an officer's by due time), each obligation's version history, the feed of obligation events,
-- open counters per cell, referrals, visits, ARMS assessments, alerts, and the per-force
-- hash-chained audit log with its three indexes. Loaded into an empty database with
-- psql -v ON_ERROR_STOP=1 -f schema.sql.

CREATE TABLE offender (
  id              bigint PRIMARY KEY,
  force           text NOT NULL,
  team            text NOT NULL,
  officer         text NOT NULL,
  risk            smallint NOT NULL,       -- 1 low .. 4 very high
  status          smallint NOT NULL,       -- 1: in the community
  display_name    text NOT NULL,
  details         text NOT NULL,           -- the rest of the record: about 300 B, as vigil's entity
  last_visit_time timestamptz,
  last_arms_time  timestamptz,
  version         int NOT NULL DEFAULT 1,
  update_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offender_team ON offender (force, team, id);

-- Open and closed clocks, of offenders (rso) or of referrals (ocait). kind: vigil's
-- ObligationKind (1 ARMS, 2 RMP review, 3 home visit, 4 notification, 5 referral action, ...).
CREATE TABLE obligation (
  id             bigserial PRIMARY KEY,
  force          text NOT NULL,
  team           text NOT NULL,
  officer        text NOT NULL,
  offender_id    bigint,
  referral_id    bigint,
  kind           smallint NOT NULL,
  risk           smallint NOT NULL,
  due_time       timestamptz NOT NULL,
  since_time     timestamptz NOT NULL,
  reason         text NOT NULL,
  policy_version int NOT NULL DEFAULT 1,
  version        int NOT NULL DEFAULT 1,
  open           boolean NOT NULL DEFAULT true,
  alerted        boolean NOT NULL DEFAULT false
);
CREATE INDEX obligation_owner ON obligation (offender_id, kind) WHERE offender_id IS NOT NULL;
CREATE INDEX obligation_referral ON obligation (referral_id) WHERE referral_id IS NOT NULL;
-- vigil's deadline index, which the alert scanner walks (the queue below claims from it).
CREATE INDEX obligation_due ON obligation (due_time) WHERE open AND NOT alerted;
-- vigil's rso/due/t/ and rso/due/o/ indexes: a team's and an officer's clocks by due time.
CREATE INDEX obligation_team_due ON obligation (force, team, due_time) WHERE open;
CREATE INDEX obligation_officer_due ON obligation (force, officer, due_time) WHERE open;

-- Every version of every obligation, [begin_time, end_time) (the point-in-time backlog).
CREATE TABLE obligation_history (
  obligation_id bigint NOT NULL,
  begin_time    timestamptz NOT NULL,
  end_time      timestamptz NOT NULL DEFAULT 'infinity',
  force         text NOT NULL,
  team          text NOT NULL,
  kind          smallint NOT NULL,
  risk          smallint NOT NULL,
  due_time      timestamptz NOT NULL,
  version       int NOT NULL,
  PRIMARY KEY (obligation_id, begin_time)
);
CREATE INDEX obligation_history_end ON obligation_history (force, end_time, begin_time);

-- The feed: what the alerts context (and any follower) reads, in commit order.
CREATE TABLE obligation_event (
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  force         text NOT NULL,
  obligation_id bigint NOT NULL,
  subject_id    bigint NOT NULL,
  type          text NOT NULL,           -- opened, retimed, closed, alert-raised
  kind          smallint NOT NULL,
  due_time      timestamptz NOT NULL,
  event_time    timestamptz NOT NULL DEFAULT now()
);

-- Open obligations per cell, as vigil's rso/open/ counters (force, team, officer, kind, risk).
CREATE TABLE counter (
  force   text NOT NULL,
  team    text NOT NULL,
  officer text NOT NULL,
  kind    smallint NOT NULL,
  risk    smallint NOT NULL,
  open    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (force, team, officer, kind, risk)
);

CREATE TABLE visit (
  id          bigserial PRIMARY KEY,
  offender_id bigint NOT NULL,
  visit_time  timestamptz NOT NULL,
  officers    text[] NOT NULL,
  announced   boolean NOT NULL,
  outcome     text NOT NULL,
  recorded_by text NOT NULL,
  record_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_offender ON visit (offender_id, visit_time);

CREATE TABLE arms_assessment (
  id             bigserial PRIMARY KEY,
  offender_id    bigint NOT NULL,
  completed_time timestamptz NOT NULL,
  assessor       text NOT NULL,
  risk           smallint NOT NULL,
  recorded_by    text NOT NULL,
  record_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX arms_assessment_offender ON arms_assessment (offender_id, completed_time);

CREATE TABLE referral (
  id                   bigserial PRIMARY KEY,
  force                text NOT NULL,
  source               text NOT NULL,
  received_time        timestamptz NOT NULL,
  subject_display_name text NOT NULL,
  state                text NOT NULL,
  grade                smallint NOT NULL DEFAULT 0,
  owner                text NOT NULL DEFAULT '(unallocated)',
  revision             int NOT NULL DEFAULT 1,
  create_time          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_queue ON referral (force, state, received_time);
CREATE TABLE referral_identifier (
  referral_id bigint NOT NULL,
  type        text NOT NULL,
  value       text NOT NULL,
  PRIMARY KEY (referral_id, type, value)
);
CREATE INDEX referral_identifier_value ON referral_identifier (type, value);
-- The link outbox: a new referral's identifiers, to be matched against offenders.
CREATE TABLE link_outbox (
  referral_id bigint NOT NULL,
  revision    int NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (referral_id, revision)
);

CREATE TABLE alert (
  id                   bigserial PRIMARY KEY,
  force                text NOT NULL,
  obligation_id        bigint NOT NULL,
  subject_id           bigint NOT NULL,
  team                 text NOT NULL,
  officer              text NOT NULL,
  kind                 smallint NOT NULL,
  risk                 smallint NOT NULL,
  due_time             timestamptz NOT NULL,
  raise_time           timestamptz NOT NULL,
  level                smallint NOT NULL DEFAULT 1,
  next_escalation_time timestamptz NOT NULL,
  state                smallint NOT NULL DEFAULT 1   -- 1 open
);
-- ListAlerts' order, and the next-escalation deadlines (vigil's listing index and deadlines).
CREATE INDEX alert_listing ON alert (force, state, raise_time, id);
CREATE INDEX alert_escalation ON alert (next_escalation_time) WHERE state = 1;

-- The audit log: per force a chain, hash = sha256(previous hash || seq || body), and the
-- indexes vigil keeps as keys: by sequence (the key), by actor, by subject.
CREATE TABLE audit_head (
  force text PRIMARY KEY,
  seq   bigint NOT NULL,
  hash  bytea NOT NULL
);
CREATE TABLE audit (
  force     text NOT NULL,
  seq       bigint NOT NULL,
  actor     text NOT NULL,
  subject   text NOT NULL,
  action    text NOT NULL,
  at        timestamptz NOT NULL,
  body      text NOT NULL,
  prev_hash bytea NOT NULL,
  hash      bytea NOT NULL,
  PRIMARY KEY (force, seq)
);
CREATE INDEX audit_actor ON audit (force, actor, seq);
CREATE INDEX audit_subject ON audit (force, subject, seq);

-- Appends one record to the force's chain. The head row, locked FOR UPDATE until the caller's
-- transaction commits, serialises the chain's writers (vigil's commit leader chains a whole
-- commit group in memory instead). Call it last in a transaction: the lock is held from here
-- to the end of the commit's WAL flush. With bench.audit_lock = 'advisory' (bench/postgres.sh's
-- default) the writers first queue on a transaction-scoped advisory lock, then take the row lock
-- uncontended: one FIFO queue instead of PostgreSQL's row-lock protocol (a tuple lock, then a
-- wait for the holder's transaction id, then a walk to the row's newest version): with 64
-- writers on 2 cores that protocol alone cost half the rate and tripled the CPU per transaction.
CREATE FUNCTION audit_append(p_force text, p_actor text, p_action text, p_subject text,
                             p_request text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_seq  bigint;
  v_prev bytea;
  v_body text;
  v_hash bytea;
BEGIN
  IF coalesce(current_setting('bench.audit_lock', true), '') = 'advisory' THEN
    PERFORM pg_advisory_xact_lock(hashtext('audit ' || p_force));
  END IF;
  SELECT seq, hash INTO STRICT v_seq, v_prev FROM audit_head WHERE force = p_force FOR UPDATE;
  v_seq := v_seq + 1;
  v_body := json_build_object('force', p_force, 'actor', p_actor, 'action', p_action,
                              'subject', p_subject, 'time', clock_timestamp(),
                              'request_sha256',
                              encode(sha256(convert_to(p_request, 'UTF8')), 'hex'))::text;
  v_hash := sha256(v_prev || int8send(v_seq) || convert_to(v_body, 'UTF8'));
  INSERT INTO audit (force, seq, actor, subject, action, at, body, prev_hash, hash)
    VALUES (p_force, v_seq, p_actor, p_subject, p_action, clock_timestamp(), v_body, v_prev, v_hash);
  UPDATE audit_head SET seq = v_seq, hash = v_hash WHERE force = p_force;
  RETURN v_seq;
END $$;

-- Whether a force's chain verifies: every record's hash recomputed from its predecessor's hash,
-- its sequence and its body, and no sequence missing.
CREATE FUNCTION audit_verify(p_force text) RETURNS boolean LANGUAGE sql AS $$
  SELECT coalesce(bool_and(a.hash = sha256(a.prev_hash || int8send(a.seq) || convert_to(a.body, 'UTF8'))
                           AND (p.seq IS NULL OR a.prev_hash = p.hash)), true)
         AND count(*) = coalesce(max(a.seq) - min(a.seq) + 1, 0)
         AND count(*) = count(p.seq) + least(count(*), 1)
    FROM audit a LEFT JOIN audit p ON p.force = a.force AND p.seq = a.seq - 1
   WHERE a.force = p_force
$$;

-- The alert queue: claims up to p_batch due obligations (FOR UPDATE SKIP LOCKED, so workers
-- running it side by side take disjoint batches), marks them alerted, writes an alert and an
-- event per alert and one audit record per batch, commits, and goes on until nothing is due.
CREATE PROCEDURE raise_alerts(p_force text, p_batch int) LANGUAGE plpgsql AS $$
DECLARE
  n int;
BEGIN
  LOOP
    WITH due AS (
      SELECT id FROM obligation
       WHERE open AND NOT alerted AND due_time <= now()
       ORDER BY due_time
       LIMIT p_batch
         FOR UPDATE SKIP LOCKED),
    marked AS (
      UPDATE obligation o SET alerted = true FROM due WHERE o.id = due.id
      RETURNING o.id, o.force, coalesce(o.offender_id, o.referral_id) AS subject_id, o.team,
                o.officer, o.kind, o.risk, o.due_time),
    raised AS (
      INSERT INTO alert (force, obligation_id, subject_id, team, officer, kind, risk, due_time,
                         raise_time, next_escalation_time)
      SELECT force, id, subject_id, team, officer, kind, risk, due_time, clock_timestamp(),
             clock_timestamp() + interval '1 day'
        FROM marked
      RETURNING force, obligation_id, subject_id, kind, due_time)
    INSERT INTO obligation_event (force, obligation_id, subject_id, type, kind, due_time)
    SELECT force, obligation_id, subject_id, 'alert-raised', kind, due_time FROM raised;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    PERFORM audit_append(p_force, 'alerts', 'RaiseAlerts', 'batch',
                         format('%s alerts at %s', n, clock_timestamp()));
    COMMIT;
  END LOOP;
  COMMIT;
END $$;

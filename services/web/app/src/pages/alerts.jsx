// Alerts (AlertService.ListAlerts), oldest raised first or riskiest first, with Acknowledge
// (asks for a note). The list refreshes itself when a live alert event arrives.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, list } from '../api.js';
import {
  ErrorAlert, Loading, PageHeading, Pager, RiskBadge, SubjectLink, useLoad, usePaging, useWrite,
} from '../components.jsx';
import { enumText, formatDateTime, kindOf, kindText, plural } from '../format.js';
import { onAlertEvent } from '../live.js';

const STATES = [
  ['', 'Open and acknowledged'],
  ['ALERT_STATE_OPEN', 'Open'],
  ['ALERT_STATE_ACKNOWLEDGED', 'Acknowledged'],
  ['ALERT_STATE_RESOLVED', 'Resolved'],
];

// ListAlertsRequest.order: its value, the choice's label, and how the list says it.
const ORDERS = [
  ['', 'Oldest raised first', 'oldest raised first'],
  ['ALERT_ORDER_RISK', 'Riskiest first', 'riskiest first (very high to not assessed), oldest raised first within each'],
];

export function AlertsPage({ session }) {
  const [filters, setFilters] = useState({ state: '', team: '', order: '' });
  const [acking, setAcking] = useState('');
  const [notice, setNotice] = useState('');
  const paging = usePaging();
  const alerts = useLoad(
    () =>
      call('AlertService', 'ListAlerts', {
        filters: {
          state: filters.state || undefined,
          team: filters.team || undefined,
          officer: session.role === 'officer' ? session.actor : undefined,
        },
        page: { pageSize: 100, pageToken: paging.token || undefined },
        order: filters.order || undefined,
      }).then((page) => ({ ...page, order: filters.order })),
    [filters, paging.token],
  );

  // Live events: refresh the list (at most once every two seconds).
  const reload = useRef(alerts.reload);
  reload.current = alerts.reload;
  useEffect(() => {
    let timer = null;
    const off = onAlertEvent(() => {
      if (!timer) timer = setTimeout(() => { timer = null; reload.current(); }, 2000);
    });
    return () => { off(); clearTimeout(timer); };
  }, []);

  const rows = list(alerts.data?.alerts);
  // The order the page on show was listed in (the choice may be newer than the page).
  const orderText = (ORDERS.find(([value]) => value === alerts.data?.order) || ORDERS[0])[2];
  return (
    <section aria-labelledby="page-heading">
      <PageHeading>Alerts</PageHeading>
      <form class="filters" aria-label="Alert filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="alert-state">Show</label>
          <select id="alert-state" value={filters.state}
            onChange={(e) => { paging.reset(); setFilters({ ...filters, state: e.currentTarget.value }); }}>
            {STATES.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="alert-order">Order</label>
          <select id="alert-order" value={filters.order}
            onChange={(e) => { paging.reset(); setFilters({ ...filters, order: e.currentTarget.value }); }}>
            {ORDERS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        {session.role !== 'officer' && (
          <div class="field">
            <label for="alert-team">Team</label>
            <input id="alert-team" list="team-suggestions" value={filters.team} placeholder="Every team"
              onChange={(e) => { paging.reset(); setFilters({ ...filters, team: e.currentTarget.value.trim() }); }} />
          </div>
        )}
      </form>
      {notice && <p class="notice" role="status" id="alert-notice">{notice}</p>}
      <ErrorAlert error={alerts.error} />
      {alerts.loading && !alerts.data && <Loading what="Loading alerts" />}
      {alerts.data && (
        <>
          <p class="summary" id="alerts-summary">{plural(rows.length, 'alert')} on this page, {orderText}.</p>
          {rows.length > 0 && (
            <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
              <table class="data stack alerts" id="alerts-table">
                <caption class="visually-hidden">Alerts, {orderText}</caption>
                <thead>
                  <tr>
                    <th scope="col">Subject</th>
                    <th scope="col">Duty</th>
                    <th scope="col">Risk</th>
                    <th scope="col">Raised</th>
                    <th scope="col">Reached</th>
                    <th scope="col">State</th>
                    <th scope="col">Owner</th>
                    <th scope="col">Action</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((a) => (
                    <AlertRow
                      key={a.id}
                      alert={a}
                      session={session}
                      acking={acking === a.id}
                      onAck={() => { setNotice(''); setAcking(a.id); }}
                      onCancel={() => setAcking('')}
                      onAcked={(updated) => {
                        setAcking('');
                        setNotice(`Alert on ${updated.obligation?.subjectId || updated.id} acknowledged.`);
                        alerts.reload();
                      }}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            label="Alert pages"
            hasPrevious={paging.hasPrevious}
            nextToken={alerts.data.nextPageToken}
            onPrevious={paging.previous}
            onNext={() => paging.next(alerts.data.nextPageToken)}
          />
        </>
      )}
    </section>
  );
}

// Who may take an alert on, as vigild decides it (services/alerts/ladder.cc): someone of the
// rung it has climbed to or above, within the alert's team until it reaches the
// superintendent (a superintendent acknowledges force-wide). Shown instead of a button that
// could only be refused; vigild still decides.
const LADDER = ['ESCALATION_LEVEL_OFFICER', 'ESCALATION_LEVEL_SERGEANT', 'ESCALATION_LEVEL_INSPECTOR', 'ESCALATION_LEVEL_SUPERINTENDENT'];
const RANKS = ['officer', 'sergeant', 'inspector', 'superintendent'];

function whyNotAcknowledge(alert, session) {
  const level = alert.escalationLevel || 'ESCALATION_LEVEL_OFFICER';
  const needed = Math.max(0, LADDER.indexOf(level));
  const defaultRank = session.role === 'officer' ? 'officer' : session.role === 'supervisor' ? 'sergeant' : '';
  const have = RANKS.indexOf((session.rank || defaultRank).toLowerCase());
  if (have < 0) return '';
  if (have < needed) return `Needs ${RANKS[needed] === 'inspector' ? 'an' : 'a'} ${RANKS[needed]} or above`;
  const team = alert.obligation?.team || '';
  const forceWide = level === 'ESCALATION_LEVEL_SUPERINTENDENT' || RANKS[have] === 'superintendent';
  if (!forceWide && team && session.team !== team) return `Acknowledged within team ${team}`;
  return '';
}

function AlertRow({ alert: a, session, acking, onAck, onCancel, onAcked }) {
  const o = a.obligation || {};
  const state = a.state || 'ALERT_STATE_UNSPECIFIED';
  const lastAck = list(a.acknowledgements).slice(-1)[0];
  const refusal = whyNotAcknowledge(a, session);
  return (
    <>
      <tr data-alert-id={a.id} data-level={a.escalationLevel || ''} data-risk={o.riskLevel || 'RISK_LEVEL_UNSPECIFIED'} class={`state-${state.slice('ALERT_STATE_'.length).toLowerCase()}`}>
        <th scope="row" data-label="Subject"><SubjectLink obligation={o} /></th>
        <td data-label="Duty">
          {kindText(kindOf(o.kind))}
          {a.cause && a.cause !== 'ALERT_CAUSE_OVERDUE' && <><br /><span class="muted">{enumText(a.cause, 'ALERT_CAUSE_')}</span></>}
          {a.summary && <><br /><span class="muted">{a.summary}</span></>}
        </td>
        <td data-label="Risk"><RiskBadge risk={o.riskLevel} /></td>
        <td data-label="Raised">{formatDateTime(a.raisedTime)}</td>
        <td data-label="Reached">
          {enumText(a.escalationLevel, 'ESCALATION_LEVEL_')}
          {a.nextEscalationTime && <><br /><span class="muted">next {formatDateTime(a.nextEscalationTime)}</span></>}
        </td>
        <td data-label="State">
          {enumText(state, 'ALERT_STATE_')}
          {lastAck && <><br /><span class="muted">by {lastAck.by}: {lastAck.note}</span></>}
        </td>
        <td data-label="Owner">{o.ownerOfficer || 'Unallocated'}{o.team ? ` (${o.team})` : ''}</td>
        <td data-label="Action">
          {state !== 'ALERT_STATE_RESOLVED' && refusal && <span class="muted">{refusal}</span>}
          {state !== 'ALERT_STATE_RESOLVED' && !refusal && !acking && (
            <button type="button" onClick={onAck} aria-label={`Acknowledge the alert on ${o.subjectId}, ${kindText(kindOf(o.kind))}`}>
              Acknowledge
            </button>
          )}
        </td>
      </tr>
      {acking && (
        <tr class="ack-row">
          <td colSpan={8}>
            <AckForm alert={a} onCancel={onCancel} onAcked={onAcked} />
          </td>
        </tr>
      )}
    </>
  );
}

function AckForm({ alert, onCancel, onAcked }) {
  const [note, setNote] = useState('');
  const { error, busy, write } = useWrite();
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);

  const submit = (e) => {
    e.preventDefault();
    if (!note.trim()) return;
    write((requestId) => call('AlertService', 'AcknowledgeAlert', {
      id: alert.id,
      note: note.trim(),
      requestId,
    }), onAcked);
  };

  const id = `ack-note-${alert.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <form class="ack-form" onSubmit={submit}>
      <ErrorAlert error={error} title="The alert was not acknowledged." />
      <label for={id}>What will be done (recorded with the acknowledgement)</label>
      <textarea id={id} ref={input} rows={2} required maxLength={2000} value={note}
        onInput={(e) => setNote(e.currentTarget.value)} />
      <div>
        <button type="submit" class="primary" disabled={busy || !note.trim()}>Acknowledge alert</button>{' '}
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

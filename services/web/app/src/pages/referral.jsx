// A referral in the OCAIT queue: its clocks, the refresh checklist (intelligence refresh,
// CSC check due or done), refreshes, history and deconfliction; with forms to record an
// intelligence refresh (RecordIntelRefresh) and a CSC check (RecordCscCheck).
import { useState } from 'preact/hooks';
import { call, list } from '../api.js';
import {
  DueText, ErrorAlert, Facts, Loading, ObligationTable, PageHeading, RiskBadge, useLoad, useWrite,
} from '../components.jsx';
import { enumText, formatDate, formatDateTime, fromLocalInput, kindOf, riskText, toLocalInput } from '../format.js';
import { CrossTeamForm } from './crossteam.jsx';

const SOURCES = {
  REFERRAL_SOURCE_NCA_CEOP: 'NCA/CEOP',
  REFERRAL_SOURCE_OTHER_FORCE: 'Another force',
  REFERRAL_SOURCE_INTERNAL: 'Internal',
};

export function ReferralPage({ id, session }) {
  const [crossTeam, setCrossTeam] = useState('');
  const [form, setForm] = useState('');
  const [notice, setNotice] = useState('');
  const result = useLoad(() => call('ReferralService', 'GetReferral', { id }, { crossTeam }), [id, crossTeam]);
  const r = result.data;

  const done = (text) => {
    setForm('');
    setNotice(text);
    result.reload();
  };

  return (
    <section aria-labelledby="page-heading">
      <PageHeading>{r ? `Referral ${r.id}: ${r.subjectDisplayName || firstIdentifier(r)}` : `Referral ${id}`}</PageHeading>
      {result.loading && <Loading what="Loading the referral" />}
      <ErrorAlert
        error={result.error}
        title={result.error?.code === 'PERMISSION_DENIED' ? 'Access to this referral was refused.' : undefined}
      />
      {result.error?.code === 'PERMISSION_DENIED' && session.role === 'officer' && !crossTeam && (
        <CrossTeamForm onSubmit={setCrossTeam} />
      )}
      {notice && <p class="notice" role="status">{notice}</p>}
      {r && (
        <>
          <Facts
            items={[
              ['State', enumText(r.state, 'REFERRAL_STATE_')],
              ['Grade', <RiskBadge risk={r.grade} />],
              ['Source', `${SOURCES[r.source] || '—'}${r.sourceReference ? ` (${r.sourceReference})` : ''}`],
              ['Received', formatDateTime(r.receivedTime)],
              ['Team', r.team],
              ['Investigator', r.allocatedOfficer || 'Unallocated'],
              ['Access to children', r.childrenAccess ? 'Yes' : 'Not known to have'],
              ['Immediate escalation', r.immediateEscalation ? 'Yes' : ''],
              ['Linked offender', r.linkedOffenderId ? <a href={`#/offender/${encodeURIComponent(r.linkedOffenderId)}`}>{r.linkedOffenderId}</a> : ''],
              ['Summary', r.summary],
            ]}
          />

          <h2>Refresh checklist</h2>
          <Checklist referral={r} />
          {!form && isOpen(r) && (
            <p class="actions">
              <button type="button" class="primary" onClick={() => { setNotice(''); setForm('refresh'); }}>
                Record an intelligence refresh
              </button>{' '}
              <button type="button" onClick={() => { setNotice(''); setForm('csc'); }}>
                Record a CSC check
              </button>
            </p>
          )}
          {form === 'refresh' && (
            <IntelRefreshForm referral={r} crossTeam={crossTeam} onCancel={() => setForm('')}
              onDone={() => done('Intelligence refresh recorded.')} />
          )}
          {form === 'csc' && (
            <CscCheckForm referral={r} crossTeam={crossTeam} onCancel={() => setForm('')}
              onDone={() => done('CSC check recorded.')} />
          )}

          <h2>Open clocks</h2>
          <ObligationTable obligations={list(r.obligations)} caption="Open clocks, earliest due first" />

          {list(r.identifiers).length > 0 && (
            <>
              <h2>Subject identifiers</h2>
              <ul>
                {list(r.identifiers).map((i, n) => (
                  <li key={n}>{enumText(i.type, 'IDENTIFIER_TYPE_')}: {i.value}</li>
                ))}
              </ul>
            </>
          )}

          {list(r.deconflictionMatches).length > 0 && (
            <>
              <h2>Other open referrals sharing an identifier</h2>
              <ul>
                {list(r.deconflictionMatches).map((m) => (
                  <li key={m.referralId}>
                    <a href={`#/referral/${encodeURIComponent(m.referralId)}`}>{m.referralId}</a>:{' '}
                    {enumText(m.type, 'IDENTIFIER_TYPE_')} {m.normalized}, {enumText(m.state, 'REFERRAL_STATE_')}
                    {m.allocatedOfficer ? `, held by ${m.allocatedOfficer}` : ''}
                  </li>
                ))}
              </ul>
            </>
          )}

          <h2>Intelligence refreshes</h2>
          <Refreshes refreshes={list(r.refreshes)} />

          <h2>History</h2>
          <History history={list(r.history)} />
        </>
      )}
    </section>
  );
}

function firstIdentifier(r) {
  const first = list(r.identifiers)[0];
  return first ? first.value : '';
}

function isOpen(r) {
  return r.state !== 'REFERRAL_STATE_CLOSED' && r.state !== 'REFERRAL_STATE_ACTIONED';
}

function clockOf(r, kind) {
  return list(r.obligations).find((o) => kindOf(o.kind) === kind);
}

function Checklist({ referral: r }) {
  const refresh = clockOf(r, 'OBLIGATION_KIND_INTEL_REFRESH');
  const csc = clockOf(r, 'OBLIGATION_KIND_CSC_CHECK');
  return (
    <ul class="checklist">
      <li class={refresh && new Date(refresh.dueTime) < Date.now() ? 'check-overdue' : ''}>
        <strong>Intelligence refresh:</strong>{' '}
        {r.lastRefreshTime ? `last done ${formatDateTime(r.lastRefreshTime)}` : 'not done yet'}
        {refresh ? (
          <>
            ; next due by {formatDate(refresh.dueTime)} (<DueText due={refresh.dueTime} />). <span class="muted">{refresh.reason}</span>
          </>
        ) : '; no refresh clock running.'}
      </li>
      <li class={csc && new Date(csc.dueTime) < Date.now() ? 'check-overdue' : ''}>
        <strong>CSC check:</strong>{' '}
        {r.cscCheck ? (
          <>done {formatDateTime(r.cscCheck.checkedTime)} by {r.cscCheck.checkedBy}: {r.cscCheck.result}</>
        ) : csc ? (
          <>
            due by {formatDate(csc.dueTime)} (<DueText due={csc.dueTime} />). <span class="muted">{csc.reason}</span>
          </>
        ) : (
          'not done; no CSC clock running.'
        )}
      </li>
    </ul>
  );
}

const CHECKS = [
  ['cscRecord', 'Children’s social care (CSC)'],
  ['householdChildrenRecord', 'Children in the household or with access'],
  ['regulatedActivityRecord', 'Employment or volunteering in regulated activity with children'],
  ['policeSystemsRecord', 'Police systems (PNC, PND, ViSOR)'],
];
const GRADES = ['RISK_LEVEL_VERY_HIGH', 'RISK_LEVEL_HIGH', 'RISK_LEVEL_MEDIUM', 'RISK_LEVEL_LOW'];

function IntelRefreshForm({ referral, crossTeam, onCancel, onDone }) {
  const [when, setWhen] = useState(toLocalInput(new Date()));
  const [checks, setChecks] = useState(
    Object.fromEntries(CHECKS.map(([key]) => [key, { status: 'INTEL_CHECK_STATUS_DONE', text: '' }])),
  );
  const [findings, setFindings] = useState('');
  const [newGrade, setNewGrade] = useState('');
  const [childrenAccessFound, setChildrenAccessFound] = useState(false);
  const [regradeReason, setRegradeReason] = useState('');
  const { error, busy, write } = useWrite();

  const submit = (e) => {
    e.preventDefault();
    const recorded = {};
    for (const [key] of CHECKS) {
      const c = checks[key];
      recorded[key] =
        c.status === 'INTEL_CHECK_STATUS_DONE'
          ? { status: c.status, outcome: c.text }
          : { status: c.status, notPossibleReason: c.text };
    }
    write((requestId) => call('ReferralService', 'RecordIntelRefresh', {
      id: referral.id,
      refreshedTime: fromLocalInput(when),
      checks: recorded,
      findings: findings || undefined,
      newGrade: newGrade || undefined,
      childrenAccessFound,
      regradeReason: regradeReason || undefined,
      requestId,
    }, { crossTeam }), () => onDone());
  };

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="refresh-heading">
      <h3 id="refresh-heading">Record an intelligence refresh</h3>
      <ErrorAlert error={error} title="The refresh was not recorded." />
      <div class="field">
        <label for="refresh-time">When the refresh was done</label>
        <input id="refresh-time" type="datetime-local" required value={when} onInput={(e) => setWhen(e.currentTarget.value)} />
      </div>
      {CHECKS.map(([key, label]) => {
        const c = checks[key];
        const update = (patch) => setChecks({ ...checks, [key]: { ...c, ...patch } });
        return (
          <fieldset class="field check" key={key}>
            <legend>{label}</legend>
            <label class="choice">
              <input type="radio" name={`${key}-status`} checked={c.status === 'INTEL_CHECK_STATUS_DONE'}
                onChange={() => update({ status: 'INTEL_CHECK_STATUS_DONE' })} /> Done
            </label>
            <label class="choice">
              <input type="radio" name={`${key}-status`} checked={c.status === 'INTEL_CHECK_STATUS_NOT_POSSIBLE'}
                onChange={() => update({ status: 'INTEL_CHECK_STATUS_NOT_POSSIBLE' })} /> Not possible
            </label>
            <label for={`${key}-text`}>{c.status === 'INTEL_CHECK_STATUS_DONE' ? 'What it found' : 'Why not'}</label>
            <input id={`${key}-text`} required value={c.text} onInput={(e) => update({ text: e.currentTarget.value })} />
          </fieldset>
        );
      })}
      <div class="field">
        <label for="refresh-findings">Findings</label>
        <textarea id="refresh-findings" rows={3} value={findings} onInput={(e) => setFindings(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label class="choice">
          <input type="checkbox" checked={childrenAccessFound} onChange={(e) => setChildrenAccessFound(e.currentTarget.checked)} />{' '}
          The refresh found new access to children (alerts the supervisor at once)
        </label>
      </div>
      <div class="field">
        <label for="refresh-grade">Grade after the refresh</label>
        <select id="refresh-grade" value={newGrade} onChange={(e) => setNewGrade(e.currentTarget.value)}>
          <option value="">Unchanged ({riskText(referral.grade).toLowerCase()})</option>
          {GRADES.map((g) => <option key={g} value={g}>{riskText(g)}</option>)}
        </select>
      </div>
      {newGrade && (
        <div class="field">
          <label for="refresh-regrade-reason">Why the grade changes (required to lower it)</label>
          <input id="refresh-regrade-reason" value={regradeReason} onInput={(e) => setRegradeReason(e.currentTarget.value)} />
        </div>
      )}
      <button type="submit" class="primary" disabled={busy}>Record the refresh</button>{' '}
      <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function CscCheckForm({ referral, crossTeam, onCancel, onDone }) {
  const [when, setWhen] = useState(toLocalInput(new Date()));
  const [text, setText] = useState('');
  const { error, busy, write } = useWrite();

  const submit = (e) => {
    e.preventDefault();
    write((requestId) => call('ReferralService', 'RecordCscCheck', {
      id: referral.id,
      checkedTime: fromLocalInput(when),
      result: text,
      requestId,
    }, { crossTeam }), () => onDone());
  };

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="csc-heading">
      <h3 id="csc-heading">Record a CSC check</h3>
      <ErrorAlert error={error} title="The CSC check was not recorded." />
      <div class="field">
        <label for="csc-time">When children’s social care was consulted</label>
        <input id="csc-time" type="datetime-local" required value={when} onInput={(e) => setWhen(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="csc-result">What CSC said</label>
        <textarea id="csc-result" rows={3} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <button type="submit" class="primary" disabled={busy}>Record the check</button>{' '}
      <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function Refreshes({ refreshes }) {
  if (refreshes.length === 0) return <p>No intelligence refresh recorded yet.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data">
        <caption>Intelligence refreshes, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">By</th>
            <th scope="col">Checks done</th>
            <th scope="col">Grade</th>
            <th scope="col">Findings</th>
          </tr>
        </thead>
        <tbody>
          {[...refreshes].reverse().map((f, n) => {
            const c = f.checks || {};
            const doneChecks = [c.csc && 'CSC', c.householdChildren && 'household', c.regulatedActivity && 'regulated activity', c.policeSystems && 'police systems'].filter(Boolean);
            return (
              <tr key={n}>
                <th scope="row">{formatDateTime(f.refreshedTime)}</th>
                <td>{f.refreshedBy}</td>
                <td>{doneChecks.join(', ') || 'None possible'}</td>
                <td>
                  {riskText(f.gradeBefore)}
                  {f.gradeAfter !== f.gradeBefore ? ` → ${riskText(f.gradeAfter)}` : ''}
                </td>
                <td>{f.findings}{f.childrenAccessFound ? ' New access to children found.' : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function History({ history }) {
  if (history.length === 0) return <p>No transitions recorded.</p>;
  return (
    <ol class="history">
      {history.map((h, n) => (
        <li key={n}>
          {formatDateTime(h.time)}: {enumText(h.from, 'REFERRAL_STATE_')} → {enumText(h.to, 'REFERRAL_STATE_')}
          {h.by ? ` by ${h.by}` : ''}
          {h.note ? `: ${h.note}` : ''}
        </li>
      ))}
    </ol>
  );
}

// An offender: the open clocks with why each is due, the visit requirements, ARMS assessments,
// the risk management plan, visits and open referrals; and "Record a visit".
import { useState } from 'preact/hooks';
import { call, list, num } from '../api.js';
import {
  ErrorAlert, Facts, Loading, ObligationTable, PageHeading, RiskBadge, useLoad,
} from '../components.jsx';
import { enumText, formatDate, formatDateTime, riskText } from '../format.js';
import { CrossTeamForm } from './crossteam.jsx';
import { RecordVisitForm } from './visitform.jsx';

async function loadOffender(id, crossTeam) {
  const options = { crossTeam };
  const offender = await call('OffenderService', 'GetOffender', { id }, options);
  const orNull = (p) => p.catch((e) => (e.code === 'NOT_FOUND' ? null : Promise.reject(e)));
  const [visits, assessments, plan] = await Promise.all([
    call('VisitService', 'ListVisits', { offenderId: id, page: { pageSize: 20 } }, options),
    call('AssessmentService', 'ListArmsAssessments', { offenderId: id }, options),
    orNull(call('AssessmentService', 'GetRiskManagementPlan', { offenderId: id }, options)),
  ]);
  return { offender, visits: list(visits.visits), assessments: list(assessments.assessments), plan };
}

export function OffenderPage({ id, session }) {
  const [crossTeam, setCrossTeam] = useState('');
  const [recording, setRecording] = useState(false);
  const [notice, setNotice] = useState('');
  const result = useLoad(() => loadOffender(id, crossTeam), [id, crossTeam]);
  const data = result.data;
  const o = data?.offender;

  return (
    <section aria-labelledby="page-heading">
      <PageHeading>{o ? o.displayName : `Offender ${id}`}</PageHeading>
      {result.loading && <Loading what="Loading the offender" />}
      <ErrorAlert
        error={result.error}
        title={result.error?.code === 'PERMISSION_DENIED' ? 'Access to this offender was refused.' : undefined}
      />
      {result.error?.code === 'PERMISSION_DENIED' && session.role === 'officer' && !crossTeam && (
        <CrossTeamForm onSubmit={setCrossTeam} />
      )}
      {notice && <p class="notice" role="status">{notice}</p>}
      {o && (
        <>
          {o.notificationEndedTime && (
            <p class="notice" id="requirement-ended">
              Out of active management: {o.notificationEndedReason}. Every clock is closed; the record
              stays readable.
            </p>
          )}
          <Facts
            items={[
              ['Offender id', o.id],
              ['ViSOR reference', o.visorRef],
              ['Risk (latest ARMS)', <RiskBadge risk={o.riskLevel} />],
              ['Status', enumText(o.status, 'OFFENDER_STATUS_')],
              ['Offender manager', `${o.ownerOfficer} (${o.team})`],
              ['Registered', o.registeredTime ? formatDate(o.registeredTime) : 'awaiting the initial notification'],
              ['Requirement started', o.requirementStartTime ? formatDate(o.requirementStartTime) : ''],
              ['Notification period', enumText(o.notificationPeriod, 'NOTIFICATION_PERIOD_')],
              ...list(o.notificationReviews).map((r, i) => [
                `Review ${i + 1}`,
                `${formatDate(r.decisionTime)}: ${enumText(r.outcome, 'NOTIFICATION_REVIEW_OUTCOME_').toLowerCase()} by ${r.decidedBy}` +
                  (r.nextReviewTime ? `, next review by ${formatDate(r.nextReviewTime)}` : '') + ` (${r.reason})`,
              ]),
              ['MAPPA', num(o.mappaCategory) ? `category ${o.mappaCategory}, level ${num(o.mappaLevel) || '—'}` : 'not recorded'],
              ['Last ARMS', formatDate(o.lastArmsTime)],
              ['Last RMP review', formatDate(o.lastRmpReviewTime)],
              ['Last visit (seen)', formatDate(o.lastVisitTime)],
              ['Visit interval', num(o.visitIntervalDays) ? `${o.visitIntervalDays} days (${enumText(o.visitIntervalSource, 'VISIT_INTERVAL_SOURCE_')})` : ''],
              ['Visit clock', o.visitPaused ? 'paused' : ''],
            ]}
          />

          <h2 id="clocks">Open clocks</h2>
          <ObligationTable obligations={list(o.obligations)} caption="Open clocks, earliest due first" />

          {list(o.openTriggers).length > 0 && (
            <>
              <h2>Reassessment triggers not yet answered</h2>
              <ul>
                {list(o.openTriggers).map((t, i) => (
                  <li key={i}>
                    {enumText(t.type, 'TRIGGER_TYPE_')} on {formatDate(t.time)}
                    {t.note ? `: ${t.note}` : ''} {t.recordedBy ? `(recorded by ${t.recordedBy})` : ''}
                  </li>
                ))}
              </ul>
            </>
          )}

          <h2>Visits</h2>
          <VisitRequirements requirements={o.visitRequirements} />
          {!recording && (
            <p>
              <button type="button" class="primary" onClick={() => { setNotice(''); setRecording(true); }}>
                Record a visit
              </button>
            </p>
          )}
          {recording && (
            <RecordVisitForm
              offenderId={o.id}
              session={session}
              crossTeam={crossTeam}
              onCancel={() => setRecording(false)}
              onRecorded={(visit) => {
                setRecording(false);
                const findings = list(visit.findings);
                setNotice(
                  `Visit recorded (${enumText(visit.outcome, 'VISIT_OUTCOME_').toLowerCase()})` +
                    (findings.length ? `; ${findings.length} compliance finding(s) raised.` : '.'),
                );
                result.reload();
              }}
            />
          )}
          <VisitsTable visits={data.visits} />

          <h2>ARMS assessments</h2>
          <AssessmentsTable assessments={data.assessments} />

          <h2>Risk management plan</h2>
          <Plan plan={data.plan} />

          {list(o.linkedReferrals).length > 0 && (
            <>
              <h2>Open referrals about this offender</h2>
              <ul>
                {list(o.linkedReferrals).map((r) => (
                  <li key={r.referralId}>
                    <a href={`#/referral/${encodeURIComponent(r.referralId)}`}>{r.referralId}</a>:{' '}
                    {enumText(r.state, 'REFERRAL_STATE_')}, graded {riskText(r.grade).toLowerCase()}, received{' '}
                    {formatDate(r.receivedTime)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}

function VisitRequirements({ requirements }) {
  if (!requirements) return <p>No risk management plan sets visit requirements yet: the policy’s interval applies.</p>;
  const r = requirements;
  return (
    <p>
      The plan of {formatDate(r.planReviewedTime)} asks for{' '}
      {num(r.officersRequired) > 1 ? `${r.officersRequired} officers` : 'one officer'} at each visit,{' '}
      {num(r.unannouncedSharePercent)}% unannounced
      {r.deviceCheckRequired ? ', and a device check every visit' : ''}.
      {r.reason ? ` ${r.reason}` : ''}
    </p>
  );
}

function VisitsTable({ visits }) {
  if (visits.length === 0) return <p>No visits recorded.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data">
        <caption>Latest visits, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Outcome</th>
            <th scope="col">Announced</th>
            <th scope="col">Officers</th>
            <th scope="col">Device check</th>
            <th scope="col">Findings</th>
          </tr>
        </thead>
        <tbody>
          {visits.map((v) => (
            <tr key={v.id}>
              <th scope="row">{formatDateTime(v.visitTime)}</th>
              <td>{enumText(v.outcome, 'VISIT_OUTCOME_')}</td>
              <td>{v.announced ? 'Yes' : 'No'}</td>
              <td>{list(v.officers).join(', ')}</td>
              <td>{v.deviceCheckDone ? enumText(v.deviceCheckResult, 'DEVICE_CHECK_RESULT_') : 'Not done'}</td>
              <td>{list(v.findings).map((f) => f.evidence).join('; ') || 'None'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AssessmentsTable({ assessments }) {
  if (assessments.length === 0) return <p>Not assessed: no ARMS assessment recorded.</p>;
  const newestFirst = [...assessments].reverse();
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data">
        <caption>ARMS assessments, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Completed</th>
            <th scope="col">Risk</th>
            <th scope="col">Assessor</th>
            <th scope="col">Risk factors present</th>
            <th scope="col">Protective factors present</th>
          </tr>
        </thead>
        <tbody>
          {newestFirst.map((a) => (
            <tr key={a.id}>
              <th scope="row">{formatDate(a.completedTime)}</th>
              <td><RiskBadge risk={a.riskLevel} /></td>
              <td>{a.assessor}</td>
              <td>{list(a.riskFactors).map((f) => enumText(f, 'ARMS_RISK_FACTOR_')).join(', ') || 'None'}</td>
              <td>{list(a.protectiveFactors).map((f) => enumText(f, 'ARMS_PROTECTIVE_FACTOR_')).join(', ') || 'None'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Plan({ plan }) {
  if (!plan) return <p>No risk management plan recorded.</p>;
  return (
    <Facts
      items={[
        ['Reviewed', `${formatDate(plan.reviewedTime)} by ${plan.author || '—'}`],
        ['Visit interval', num(plan.visitIntervalDays) ? `${plan.visitIntervalDays} days` : 'the policy’s for the risk tier'],
        ['Officers at each visit', String(num(plan.officersRequired) || 1)],
        ['Unannounced visits', `${num(plan.unannouncedSharePercent)}%`],
        ['Device check at visits', plan.deviceCheckRequired ? 'Required' : 'Not required'],
        ['Supervision', plan.supervision],
        ['Monitoring and control', plan.monitoringAndControl],
        ['Interventions and treatment', plan.interventionsAndTreatment],
        ['Victim safety', plan.victimSafety],
        ['Contingency', plan.contingency],
        ['Why', plan.reason],
      ]}
    />
  );
}

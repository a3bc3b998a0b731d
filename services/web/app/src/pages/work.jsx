// My work (BacklogService.ListMyWork): overdue, due today and due soon, riskiest first, each
// with the subject's name, why it is due and the policy version that set the date.
// A supervisor's list is their team's, or another officer's or team's when named.
import { useState } from 'preact/hooks';
import { call, list, num } from '../api.js';
import {
  ErrorAlert, Loading, PageHeading, Pager, PolicyNote, RiskBadge, SubjectLink, useLoad, usePaging,
} from '../components.jsx';
import { formatDate, formatDateTime, kindOf, kindText, plural } from '../format.js';

export const WORK_PAGE_SIZE = 100;

const BUCKETS = [
  ['WORK_BUCKET_OVERDUE', 'Overdue'],
  ['WORK_BUCKET_DUE_TODAY', 'Due today'],
  ['WORK_BUCKET_DUE_SOON', 'Due soon'],
];

export function WorkPage({ session }) {
  const supervising = session.role !== 'officer';
  const [scope, setScope] = useState({ officer: '', team: '', horizonDays: 7 });
  const paging = usePaging();

  const work = useLoad(
    () =>
      call('BacklogService', 'ListMyWork', {
        officer: scope.officer || undefined,
        team: scope.team || undefined,
        horizonDays: scope.horizonDays,
        page: { pageSize: WORK_PAGE_SIZE, pageToken: paging.token || undefined },
      }),
    [scope, paging.token],
  );

  const data = work.data;
  const items = list(data?.items);
  const whose = data
    ? data.officer
      ? data.officer === session.actor ? 'your' : `${data.officer}’s`
      : `team ${data.team}’s`
    : '';

  return (
    <section aria-labelledby="page-heading">
      <PageHeading>{supervising ? 'Team work' : 'My work'}</PageHeading>
      <ScopeForm
        supervising={supervising}
        scope={scope}
        onChange={(s) => {
          paging.reset();
          setScope(s);
        }}
      />
      <ErrorAlert error={work.error} />
      {work.loading && <Loading what="Loading the work list" />}
      {data && (
        <>
          <p class="summary" id="work-summary" data-as-of={data.asOf}>
            Showing {whose} work as of {formatDateTime(data.asOf)}, due by {formatDate(data.horizonEnd)}:{' '}
            {plural(items.length, 'item')} on this page, riskiest first.
          </p>
          {items.length === 0 && <p>Nothing is overdue or due in this period.</p>}
          {BUCKETS.map(([bucket, label]) => {
            const rows = items.filter((i) => i.bucket === bucket);
            return rows.length > 0 && <WorkTable key={bucket} bucket={bucket} label={label} rows={rows} />;
          })}
          <Pager
            label="Work list pages"
            hasPrevious={paging.hasPrevious}
            nextToken={data.nextPageToken}
            onPrevious={paging.previous}
            onNext={() => paging.next(data.nextPageToken)}
          />
        </>
      )}
    </section>
  );
}

function ScopeForm({ supervising, scope, onChange }) {
  const [draft, setDraft] = useState(scope);
  const set = (field) => (e) => setDraft({ ...draft, [field]: e.currentTarget.value });
  return (
    <form
      class="filters"
      aria-label="Whose work"
      onSubmit={(e) => {
        e.preventDefault();
        onChange({ ...draft, horizonDays: Number(draft.horizonDays) });
      }}
    >
      {supervising && (
        <>
          <div class="field">
            <label for="work-officer">Officer</label>
            <input id="work-officer" list="officer-suggestions" value={draft.officer} onInput={set('officer')} placeholder="Your team" />
          </div>
          <div class="field">
            <label for="work-team">Team</label>
            <input id="work-team" list="team-suggestions" value={draft.team} onInput={set('team')} placeholder="Your team" />
          </div>
        </>
      )}
      <div class="field">
        <label for="work-horizon">Due soon means within</label>
        <select id="work-horizon" value={String(draft.horizonDays)} onChange={set('horizonDays')}>
          {[0, 3, 7, 14, 28].map((d) => (
            <option key={d} value={String(d)}>{d === 0 ? 'today only' : `${d} days`}</option>
          ))}
        </select>
      </div>
      <button type="submit">Show</button>
    </form>
  );
}

function WorkTable({ bucket, label, rows }) {
  const id = `bucket-${bucket.toLowerCase()}`;
  return (
    <section aria-labelledby={id} class="bucket">
      <h2 id={id}>
        {label} <span class="count">({rows.length})</span>
      </h2>
      <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
        <table class="data stack work" data-bucket={bucket}>
          <caption class="visually-hidden">{label}: riskiest first, then earliest due</caption>
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col">Duty</th>
              <th scope="col">Risk</th>
              <th scope="col">{bucket === 'WORK_BUCKET_OVERDUE' ? 'Overdue' : 'Due'}</th>
              <th scope="col">Owner</th>
              <th scope="col">Why is this due</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((item) => {
              const o = item.obligation || {};
              return (
                <tr key={o.id} data-obligation-id={o.id}>
                  <th scope="row" data-label="Subject"><SubjectLink obligation={o} name={item.subjectDisplayName} /></th>
                  <td data-label="Duty">{kindText(kindOf(o.kind))}</td>
                  <td data-label="Risk"><RiskBadge risk={o.riskLevel} /></td>
                  <td data-label="When">
                    {bucket === 'WORK_BUCKET_OVERDUE' && (
                      <span class="overdue">{plural(num(item.daysOverdue), 'day')} overdue</span>
                    )}
                    {bucket === 'WORK_BUCKET_DUE_TODAY' && 'Today'}
                    {bucket === 'WORK_BUCKET_DUE_SOON' && `In ${plural(num(item.daysUntilDue), 'day')}`}
                    <br />
                    <span class="muted">{formatDate(o.dueTime)}</span>
                  </td>
                  <td data-label="Owner">{o.ownerOfficer || 'Unallocated'}</td>
                  <td data-label="Why">
                    {o.reason}
                    <PolicyNote obligation={o} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// The supervisor's backlog: a heat map of overdue work by kind × risk × age band
// (GetBacklogSummary), each cell opening the list of those items (ListBacklogItems, names not
// ids), and the trend with its clearance forecast (GetBacklogTrend).
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, list, num } from '../api.js';
import {
  ErrorAlert, Loading, PageHeading, Pager, PolicyNote, RiskBadge, SubjectLink, useLoad, usePaging,
} from '../components.jsx';
import {
  AGE_BANDS, KINDS, RISKS, bandText, formatDate, formatDateTime, kindOf, kindText, plural, riskOf, riskText,
} from '../format.js';
import { TrendSection } from './trend.jsx';

export function BacklogPage({ session }) {
  const [scope, setScope] = useState({ team: '', officer: '' });
  const [cell, setCell] = useState(null);
  const summary = useLoad(
    () => call('BacklogService', 'GetBacklogSummary', { team: scope.team || undefined, officer: scope.officer || undefined }),
    [scope],
  );

  return (
    <section aria-labelledby="page-heading">
      <PageHeading>Backlog</PageHeading>
      <ScopeForm
        scope={scope}
        onChange={(s) => {
          setCell(null);
          setScope(s);
        }}
      />
      <ErrorAlert error={summary.error} />
      {summary.loading && <Loading what="Loading the backlog" />}
      {summary.data && (
        <>
          <SummaryLine summary={summary.data} />
          <HeatMap summary={summary.data} selected={cell} onSelect={setCell} />
          {cell && (
            <DrillDown
              key={`${cell.kind}|${cell.risk}|${cell.band}|${scope.team}|${scope.officer}|${summary.data.asOf}`}
              cell={cell}
              scope={scope}
              asOf={summary.data.asOf}
              onClose={() => setCell(null)}
            />
          )}
          <DueSoon summary={summary.data} />
        </>
      )}
      {/* After the heat map: the trend's call and chart.js would compete with it. */}
      {session.role !== 'officer' && (summary.data || summary.error) && <TrendSection team={scope.team} />}
    </section>
  );
}

function ScopeForm({ scope, onChange }) {
  const [draft, setDraft] = useState(scope);
  return (
    <form
      class="filters"
      aria-label="Backlog filters"
      onSubmit={(e) => {
        e.preventDefault();
        onChange({ team: draft.team.trim(), officer: draft.officer.trim() });
      }}
    >
      <div class="field">
        <label for="backlog-team">Team</label>
        <input id="backlog-team" list="team-suggestions" value={draft.team} placeholder="Every team"
          onInput={(e) => setDraft({ ...draft, team: e.currentTarget.value })} />
      </div>
      <div class="field">
        <label for="backlog-officer">Officer</label>
        <input id="backlog-officer" list="officer-suggestions" value={draft.officer} placeholder="Every officer"
          onInput={(e) => setDraft({ ...draft, officer: e.currentTarget.value })} />
      </div>
      <button type="submit">Show</button>
    </form>
  );
}

function SummaryLine({ summary: s }) {
  const oldest = s.oldest;
  const scope = [`force ${s.force}`, s.team && `team ${s.team}`, s.officer && `officer ${s.officer}`].filter(Boolean).join(', ');
  return (
    <div class="summary-cards">
      <p class="card">
        <span class="card-number" id="backlog-total">{num(s.total)}</span> overdue
        <span class="card-sub">of {num(s.totalOpen)} open</span>
      </p>
      <p class="card-text">
        Backlog of {scope} as of {formatDateTime(s.asOf)}.
        {oldest && oldest.dueTime && (
          <>
            {' '}Oldest: {kindText(kindOf(oldest.kind)).toLowerCase()} for{' '}
            <SubjectLink obligation={oldest} name={oldest.subjectId} />, {riskText(oldest.riskLevel).toLowerCase()} risk,
            due {formatDate(oldest.dueTime)} ({oldest.ownerOfficer || 'unallocated'}, {oldest.team}).
          </>
        )}
      </p>
    </div>
  );
}

// counts[kind][risk][band] from the summary's rows.
function gridOf(summary) {
  const grid = new Map();
  for (const row of list(summary.rows)) {
    const key = `${kindOf(row.kind)}|${riskOf(row.riskLevel)}|${row.ageBand || ''}`;
    grid.set(key, (grid.get(key) || 0) + num(row.count));
  }
  return grid;
}

function HeatMap({ summary, selected, onSelect }) {
  const grid = gridOf(summary);
  const count = (k, r, b) => grid.get(`${k}|${r}|${b}`) || 0;
  const max = Math.max(1, ...grid.values());
  const rows = [];
  for (const kind of KINDS) {
    const risks = RISKS.filter((r) => AGE_BANDS.some(([b]) => count(kind, r, b) > 0));
    risks.forEach((risk, i) => rows.push({ kind, risk, first: i === 0, span: risks.length }));
  }
  const bandTotal = (b) => rows.reduce((sum, { kind, risk }) => sum + count(kind, risk, b), 0);

  if (rows.length === 0) return <p id="heatmap-empty">Nothing is overdue.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data heatmap" id="heatmap" data-as-of={summary.asOf}>
        <caption>
          Overdue work by kind, risk and how long overdue. Darker cells hold more items; choose a number to list
          those items.
        </caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Risk</th>
            {AGE_BANDS.map(([b, label]) => <th scope="col" key={b}>{label}</th>)}
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ kind, risk, first, span }) => {
            const total = AGE_BANDS.reduce((sum, [b]) => sum + count(kind, risk, b), 0);
            return (
              <tr key={`${kind}|${risk}`} class={first ? 'group-start' : ''}>
                {first && <th scope="rowgroup" rowSpan={span}>{kindText(kind)}</th>}
                <th scope="row"><RiskBadge risk={risk} /></th>
                {AGE_BANDS.map(([band, label]) => {
                  const n = count(kind, risk, band);
                  const level = n === 0 ? 0 : Math.min(5, Math.ceil((5 * n) / max));
                  const isSelected = selected && selected.kind === kind && selected.risk === risk && selected.band === band;
                  return (
                    <td key={band} class={`heat heat-${level}`} data-kind={kind} data-risk={risk} data-band={band} data-count={n}>
                      {n === 0 ? (
                        <span class="zero">0</span>
                      ) : (
                        <button
                          type="button"
                          class="cell-button"
                          aria-pressed={isSelected ? 'true' : 'false'}
                          aria-label={`${n} ${kindText(kind)}, ${riskText(risk).toLowerCase()} risk, ${label} overdue: list them`}
                          onClick={() => onSelect({ kind, risk, band, count: n })}
                        >
                          {n}
                        </button>
                      )}
                    </td>
                  );
                })}
                <td class="total">{total}</td>
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={2}>Total</th>
            {AGE_BANDS.map(([b]) => <td key={b} class="total">{bandTotal(b)}</td>)}
            <td class="total" id="heatmap-total">{num(summary.total)}</td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

// Drill-down pages: a heat-map cell at 1M obligations holds thousands of items. A hundred fill
// a screen many times over and come back quickly; the pager goes on with the API's page tokens.
// sessionStorage 'vigil.cellPageSize' sets another size (the browser test pages through the demo
// force's small cells with it).
function cellPageSize() {
  const asked = Number(sessionStorage.getItem('vigil.cellPageSize'));
  return Number.isInteger(asked) && asked > 0 && asked <= 1000 ? asked : 100;
}

// One page of one cell's items: ListBacklogItems filtered server side by the cell's kind, risk
// level and age band at the summary's as_of, so that the listing matches the cell's count.
function loadCellPage(cell, scope, asOf, pageSize, pageToken) {
  return call('BacklogService', 'ListBacklogItems', {
    asOf,
    team: scope.team || undefined,
    officer: scope.officer || undefined,
    kinds: [cell.kind],
    riskLevels: [cell.risk],
    ageBands: [cell.band],
    page: { pageSize, pageToken },
  });
}

// Keyed by its cell and scope (see BacklogPage), so that another cell starts at its first page.
function DrillDown({ cell, scope, asOf, onClose }) {
  const paging = usePaging();
  const [pageIndex, setPageIndex] = useState(0);
  const [pageSize] = useState(cellPageSize);
  const result = useLoad(() => loadCellPage(cell, scope, asOf, pageSize, paging.token || undefined), [cell, scope, asOf, paging.token]);
  const heading = useRef(null);
  useEffect(() => heading.current?.focus(), [cell]);
  const title = `${kindText(cell.kind)}, ${riskText(cell.risk).toLowerCase()} risk, ${bandText(cell.band)} overdue`;
  const items = result.data ? list(result.data.items) : [];
  const first = pageIndex * pageSize + 1;
  const paged = paging.hasPrevious || (result.data && result.data.nextPageToken);
  return (
    <section class="panel drilldown" aria-labelledby="drilldown-heading" id="drilldown">
      <h2 id="drilldown-heading" ref={heading} tabIndex={-1}>{title}</h2>
      <button type="button" class="secondary close" onClick={onClose}>Close<span class="visually-hidden"> the list</span></button>
      <ErrorAlert error={result.error} />
      {result.loading && <Loading what="Loading the items" />}
      {result.data && (
        <>
          <p role="status" id="drilldown-count">
            {paged
              ? `Items ${num(first)}–${num(first + items.length - 1)} of ${plural(cell.count, 'item')}, oldest first.`
              : `${plural(items.length, 'item')}, oldest first.`}
          </p>
          <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
            <table class="data stack" id="drilldown-table">
              <caption class="visually-hidden">{title}</caption>
              <thead>
                <tr>
                  <th scope="col">Subject</th>
                  <th scope="col">Overdue</th>
                  <th scope="col">Due by</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Team</th>
                  <th scope="col">Why it was due</th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => {
                  const o = item.obligation || {};
                  return (
                    <tr key={o.id} data-obligation-id={o.id}>
                      <th scope="row" data-label="Subject"><SubjectLink obligation={o} name={item.subjectDisplayName} /></th>
                      <td data-label="Overdue">{plural(num(item.daysOverdue), 'day')}</td>
                      <td data-label="Due by">{formatDate(o.dueTime)}</td>
                      <td data-label="Owner">{o.ownerOfficer || 'Unallocated'}</td>
                      <td data-label="Team">{o.team}</td>
                      <td data-label="Why">{o.reason}<PolicyNote obligation={o} /></td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pager
            label="Pages of these items"
            hasPrevious={paging.hasPrevious}
            nextToken={result.data.nextPageToken}
            onPrevious={() => {
              setPageIndex(pageIndex - 1);
              paging.previous();
            }}
            onNext={() => {
              setPageIndex(pageIndex + 1);
              paging.next(result.data.nextPageToken);
            }}
          />
        </>
      )}
    </section>
  );
}

function DueSoon({ summary }) {
  const rows = list(summary.dueSoon).filter((r) => num(r.within7Days) || num(r.within28Days));
  if (rows.length === 0) return null;
  const sorted = [...rows].sort(
    (a, b) => KINDS.indexOf(kindOf(a.kind)) - KINDS.indexOf(kindOf(b.kind)) ||
      RISKS.indexOf(riskOf(a.riskLevel)) - RISKS.indexOf(riskOf(b.riskLevel)),
  );
  return (
    <>
      <h2>Falling due soon</h2>
      <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
        <table class="data">
          <caption>Open work not yet overdue, falling due within 7 and 28 days</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Risk</th>
              <th scope="col">Within 7 days</th>
              <th scope="col">Within 28 days</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr key={`${r.kind}|${r.riskLevel}`}>
                <th scope="row">{kindText(kindOf(r.kind))}</th>
                <td><RiskBadge risk={r.riskLevel} /></td>
                <td>{num(r.within7Days)}</td>
                <td>{num(r.within28Days)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

// Shared pieces of every page.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, list, newRequestId } from './api.js';
import {
  daysOverdue, formatDate, kindOf, kindText, plural, riskOf, riskText, subjectHref,
} from './format.js';

// The page's h1; takes focus when the page changes within the app, so a screen reader
// announces the new page. The first page after loading leaves focus at the start of the
// document, so that the skip link is the first thing Tab reaches.
let firstPage = true;
export function PageHeading({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    if (firstPage) {
      firstPage = false;
      return;
    }
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} id="page-heading">
      {children}
    </h1>
  );
}

// A server refusal or failure, in the words the server gave, in an alert region.
export function ErrorAlert({ error, title }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'ERROR';
  return (
    <div class="error" role="alert">
      <p class="error-title">{title || headline(code)}</p>
      <p>
        <span class="error-code">{code}</span> {error.message}
      </p>
    </div>
  );
}

function headline(code) {
  switch (code) {
    case 'PERMISSION_DENIED': return 'You are not allowed to see or do this.';
    case 'NOT_FOUND': return 'Not found.';
    case 'INVALID_ARGUMENT': return 'The server did not accept what was entered.';
    case 'FAILED_PRECONDITION': return 'This cannot be done in the record’s current state.';
    case 'RESOURCE_EXHAUSTED': return 'Too many requests: wait a moment and try again.';
    case 'UNAVAILABLE': return 'The service is unavailable: try again shortly.';
    case 'UNAUTHENTICATED': return 'Your session has ended: sign in again.';
    default: return 'Something went wrong.';
  }
}

export function Loading({ what = 'Loading' }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

export function RiskBadge({ risk }) {
  const r = riskOf(risk);
  return <span class={`risk risk-${r.slice('RISK_LEVEL_'.length).toLowerCase()}`}>{riskText(r)}</span>;
}

// Runs an async loader whenever deps change; returns {data, error, loading, reload}.
export function useLoad(loader, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    loader().then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (error) => mine === generation.current && setState({ data: null, error, loading: false }),
    );
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(run, [run]);
  return { ...state, reload: run };
}

// Previous / next for a listing with page tokens; `tokens` is the stack of tokens of the pages
// before the current one.
export function Pager({ label, hasPrevious, nextToken, onPrevious, onNext }) {
  if (!hasPrevious && !nextToken) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={!hasPrevious} onClick={onPrevious}>
        Previous page
      </button>
      <button type="button" disabled={!nextToken} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

// Page-token paging state for a listing.
export function usePaging() {
  const [tokens, setTokens] = useState(['']);
  const current = tokens[tokens.length - 1];
  return {
    token: current,
    hasPrevious: tokens.length > 1,
    next: (token) => setTokens((t) => [...t, token]),
    previous: () => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)),
    reset: () => setTokens(['']),
  };
}

// "12 days overdue" / "due in 3 days" / "due today" for a due time.
export function DueText({ due }) {
  if (!due) return '—';
  const days = daysOverdue(due);
  const past = new Date(due).getTime() < Date.now();
  if (past) return <span class="overdue">{plural(Math.max(days, 0), 'day')} overdue</span>;
  const until = Math.ceil((new Date(due).getTime() - Date.now()) / 86400000);
  return <span>{until <= 1 ? 'due within a day' : `due in ${until} days`}</span>;
}

// The open clocks of an offender or referral, each with why it is due then.
export function ObligationTable({ obligations, caption }) {
  const rows = [...obligations].sort((a, b) => new Date(a.dueTime) - new Date(b.dueTime));
  if (rows.length === 0) return <p>No open clocks.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Duty</th>
            <th scope="col">Due by</th>
            <th scope="col">Status</th>
            <th scope="col">Risk</th>
            <th scope="col">Owner</th>
            <th scope="col">Why is this due</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((o) => (
            <tr key={o.id} data-obligation-id={o.id}>
              <th scope="row">{kindText(kindOf(o.kind))}</th>
              <td>{formatDate(o.dueTime)}</td>
              <td><DueText due={o.dueTime} /></td>
              <td><RiskBadge risk={o.riskLevel} /></td>
              <td>{o.ownerOfficer || 'Unallocated'}{o.team ? ` (${o.team})` : ''}</td>
              <td>
                {o.reason || '—'}
                <PolicyNote obligation={o} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SubjectLink({ obligation, name }) {
  return <a href={subjectHref(obligation)}>{name || obligation.subjectId}</a>;
}

// A definition list of label/value pairs, skipping empty values.
export function Facts({ items }) {
  return (
    <dl class="facts">
      {items
        .filter(([, value]) => value !== undefined && value !== null && value !== '')
        .map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}

// The policy version that set the due date, unless the reason already names it.
export function PolicyNote({ obligation: o }) {
  if (!o.policyVersion || (o.reason || '').includes(`policy ${o.policyVersion}`)) return null;
  return <span class="policy"> (policy {o.policyVersion})</span>;
}

// Suggestions for team and officer filters (supervisors): the teams and officers with open
// work, from GetWorkload, asked once per page load, when a field that suggests them is first
// focused (not with the page: at national size GetWorkload is a large answer, and the heat map
// should not wait behind it).
let knownPeople = null;
function loadKnownPeople() {
  if (!knownPeople) {
    knownPeople = call('BacklogService', 'GetWorkload', {}).then(
      (reply) => {
        const officers = list(reply.officers);
        return {
          teams: [...new Set(officers.map((w) => w.team).filter(Boolean))].sort(),
          officers: [...new Set(officers.map((w) => w.officer).filter(Boolean))].sort(),
        };
      },
      () => {
        knownPeople = null;
        return { teams: [], officers: [] };
      },
    );
  }
  return knownPeople;
}

export function PeopleSuggestions() {
  const [people, setPeople] = useState({ teams: [], officers: [] });
  useEffect(() => {
    let live = true;
    const onFocus = (e) => {
      const list = e.target?.getAttribute?.('list');
      if (list !== 'team-suggestions' && list !== 'officer-suggestions') return;
      document.removeEventListener('focusin', onFocus);
      loadKnownPeople().then((p) => live && setPeople(p));
    };
    document.addEventListener('focusin', onFocus);
    return () => {
      live = false;
      document.removeEventListener('focusin', onFocus);
    };
  }, []);
  return (
    <>
      <datalist id="team-suggestions">
        {people.teams.map((t) => <option key={t} value={t} />)}
      </datalist>
      <datalist id="officer-suggestions">
        {people.officers.map((o) => <option key={o} value={o} />)}
      </datalist>
    </>
  );
}

// A write the person may retry: busy and error state, and its request id (vigild writes once
// per id). The id is kept when the request never reached vigil-web (status 0), so that a retry
// cannot write twice; it is renewed after any answer, and after a success for the next write.
export function useWrite() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const requestId = useRef(newRequestId());
  const write = async (send, onDone) => {
    setBusy(true);
    setError(null);
    try {
      const result = await send(requestId.current);
      requestId.current = newRequestId();
      onDone(result);
    } catch (err) {
      if (err.status !== 0) requestId.current = newRequestId();
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, write };
}

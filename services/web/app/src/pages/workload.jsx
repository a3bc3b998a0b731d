// Workload against capacity (BacklogService.GetWorkload): per officer, open and overdue work
// by risk, the weighted load and the share of capacity it uses.
import { useState } from 'preact/hooks';
import { call, list, num } from '../api.js';
import { ErrorAlert, Loading, PageHeading, useLoad } from '../components.jsx';

export function WorkloadPage() {
  const [team, setTeam] = useState('');
  const [draft, setDraft] = useState('');
  const workload = useLoad(() => call('BacklogService', 'GetWorkload', { team: team || undefined }), [team]);
  const officers = [...list(workload.data?.officers)].sort(
    (a, b) => (a.team || '').localeCompare(b.team || '') || num(b.capacityUsedPercent) - num(a.capacityUsedPercent),
  );
  return (
    <section aria-labelledby="page-heading">
      <PageHeading>Workload against capacity</PageHeading>
      <form class="filters" aria-label="Workload filters" onSubmit={(e) => { e.preventDefault(); setTeam(draft.trim()); }}>
        <div class="field">
          <label for="workload-team">Team</label>
          <input id="workload-team" list="team-suggestions" value={draft} placeholder="Every team" onInput={(e) => setDraft(e.currentTarget.value)} />
        </div>
        <button type="submit">Show</button>
      </form>
      <ErrorAlert error={workload.error} />
      {workload.loading && <Loading what="Loading workloads" />}
      {workload.data && officers.length === 0 && <p>No open work in this scope.</p>}
      {officers.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
          <table class="data workload" id="workload-table">
            <caption>
              Open and overdue work per officer, weighted by kind and risk
              {workload.data.policyVersion ? ` (weights of policy ${workload.data.policyVersion})` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Officer</th>
                <th scope="col">Team</th>
                <th scope="col">Open</th>
                <th scope="col">Overdue</th>
                <th scope="col">Very high / high / medium / low / not assessed (open)</th>
                <th scope="col">Weighted load</th>
                <th scope="col">Capacity used</th>
                <th scope="col">Team share</th>
              </tr>
            </thead>
            <tbody>
              {officers.map((w) => {
                const used = num(w.capacityUsedPercent);
                const byRisk = list(w.openByRisk).map(num);
                if (w.unallocatedQueue) {
                  // Work waiting for an officer: a queue, with no capacity or share.
                  return (
                    <tr key={`${w.team}|queue`} class="unallocated-queue">
                      <th scope="row">Unallocated queue</th>
                      <td>{w.team}</td>
                      <td>{num(w.open)}</td>
                      <td>{num(w.overdue)}</td>
                      <td>{[4, 3, 2, 1, 0].map((r) => byRisk[r] || 0).join(' / ')}</td>
                      <td>{num(w.weightedLoad).toFixed(1)}</td>
                      <td>not an officer</td>
                      <td>–</td>
                    </tr>
                  );
                }
                return (
                  <tr key={`${w.team}|${w.officer}`} class={used > 100 ? 'over-capacity' : ''}>
                    <th scope="row">{w.officer}</th>
                    <td>{w.team}</td>
                    <td>{num(w.open)}</td>
                    <td>{num(w.overdue)}</td>
                    <td>{[4, 3, 2, 1, 0].map((r) => byRisk[r] || 0).join(' / ')}</td>
                    <td>{num(w.weightedLoad).toFixed(1)}</td>
                    <td>
                      <span class="bar" aria-hidden="true">
                        <span class={`bar-fill${used > 100 ? ' bar-over' : ''}`} style={{ width: `${Math.min(used, 100)}%` }} />
                      </span>
                      {used.toFixed(0)}%{used > 100 ? ' (over capacity)' : ''}
                    </td>
                    <td>{num(w.teamSharePercent).toFixed(0)}%</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

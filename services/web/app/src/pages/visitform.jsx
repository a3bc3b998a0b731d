// Record a visit (VisitService.RecordVisit). The request id makes a retry safe: it is kept
// while a submission's fate is unknown (no answer), and renewed once the server has answered.
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ErrorAlert, useWrite } from '../components.jsx';
import { fromLocalInput, toLocalInput } from '../format.js';

const OUTCOMES = [
  ['VISIT_OUTCOME_SEEN', 'Seen'],
  ['VISIT_OUTCOME_NO_ACCESS', 'No access'],
  ['VISIT_OUTCOME_REFUSED', 'Entry refused'],
];
const DEVICE_RESULTS = [
  ['DEVICE_CHECK_RESULT_NOTHING_FOUND', 'Nothing found'],
  ['DEVICE_CHECK_RESULT_CONCERNS_FOUND', 'Concerns found'],
  ['DEVICE_CHECK_RESULT_REFUSED', 'Refused'],
  ['DEVICE_CHECK_RESULT_NOT_POSSIBLE', 'Not possible'],
];

export function RecordVisitForm({ offenderId, session, crossTeam, onCancel, onRecorded }) {
  const [form, setForm] = useState({
    visitTime: toLocalInput(new Date()),
    announced: false,
    officers: session.actor,
    outcome: 'VISIT_OUTCOME_SEEN',
    deviceCheckDone: false,
    deviceCheckResult: 'DEVICE_CHECK_RESULT_NOTHING_FOUND',
    notes: '',
  });
  const { error, busy, write } = useWrite();
  const set = (field, value) => setForm((f) => ({ ...f, [field]: value }));

  const submit = (e) => {
    e.preventDefault();
    const officers = form.officers.split(',').map((s) => s.trim()).filter(Boolean);
    write(
      (requestId) => call(
        'VisitService',
        'RecordVisit',
        {
          offenderId,
          visitTime: fromLocalInput(form.visitTime),
          announced: form.announced,
          officers,
          outcome: form.outcome,
          deviceCheckDone: form.deviceCheckDone,
          deviceCheckResult: form.deviceCheckDone ? form.deviceCheckResult : undefined,
          notes: form.notes || undefined,
          requestId,
        },
        { crossTeam },
      ),
      onRecorded,
    );
  };

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="visit-form-heading">
      <h3 id="visit-form-heading">Record a visit</h3>
      <ErrorAlert error={error} title="The visit was not recorded." />
      <div class="field">
        <label for="visit-time">When the visit happened</label>
        <input id="visit-time" type="datetime-local" required value={form.visitTime}
          max={toLocalInput(new Date())} onInput={(e) => set('visitTime', e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="visit-officers">Officers present</label>
        <input id="visit-officers" required value={form.officers} aria-describedby="visit-officers-hint"
          onInput={(e) => set('officers', e.currentTarget.value)} />
        <p class="hint" id="visit-officers-hint">Separate names with commas, e.g. “DC 100, PC 312”.</p>
      </div>
      <fieldset class="field">
        <legend>Outcome</legend>
        {OUTCOMES.map(([value, label]) => (
          <label class="choice" key={value}>
            <input type="radio" name="visit-outcome" value={value} checked={form.outcome === value}
              onChange={() => set('outcome', value)} /> {label}
          </label>
        ))}
      </fieldset>
      <div class="field">
        <label class="choice">
          <input type="checkbox" checked={form.announced} onChange={(e) => set('announced', e.currentTarget.checked)} />{' '}
          The offender was told of the visit beforehand (announced)
        </label>
      </div>
      <div class="field">
        <label class="choice">
          <input type="checkbox" id="visit-device-check" checked={form.deviceCheckDone}
            onChange={(e) => set('deviceCheckDone', e.currentTarget.checked)} />{' '}
          The offender’s devices were checked
        </label>
      </div>
      {form.deviceCheckDone && (
        <div class="field">
          <label for="visit-device-result">What the device check found</label>
          <select id="visit-device-result" value={form.deviceCheckResult}
            onChange={(e) => set('deviceCheckResult', e.currentTarget.value)}>
            {DEVICE_RESULTS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
      )}
      <div class="field">
        <label for="visit-notes">Notes</label>
        <textarea id="visit-notes" rows={3} value={form.notes} onInput={(e) => set('notes', e.currentTarget.value)} />
      </div>
      <button type="submit" class="primary" disabled={busy}>Record the visit</button>{' '}
      <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
    </form>
  );
}

// The purpose of access, asked once per browser session: sent with every call that reads
// personal data and recorded in the audit log with it.
import { useState } from 'preact/hooks';
import { PageHeading } from '../components.jsx';

const SUGGESTIONS = [
  'Daily caseload review',
  'Supervisory backlog review',
  'Preparing a home visit',
  'Referral investigation',
  'Performance meeting',
];

// Header values must be printable ASCII (fetch refuses others).
const ALLOWED = /^[\x20-\x7e]+$/;

export function PurposeForm({ current, onSubmit, onCancel }) {
  const [text, setText] = useState(current || '');
  const [problem, setProblem] = useState('');

  const submit = (e) => {
    e.preventDefault();
    const value = text.trim();
    if (value.length < 3) return setProblem('Say why you are accessing these records (at least 3 characters).');
    if (!ALLOWED.test(value)) return setProblem('Use letters, digits and ordinary punctuation only.');
    if (value.length > 200) return setProblem('Keep it under 200 characters.');
    onSubmit(value);
  };

  return (
    <section aria-labelledby="page-heading">
      <PageHeading>Purpose of access</PageHeading>
      <form class="panel" onSubmit={submit} noValidate>
        <p>
          The records in vigil are sensitive law-enforcement data. Say why you are using them in this
          session: it is recorded with every record you open.
        </p>
        <div class={`field${problem ? ' field-error' : ''}`}>
          <label for="purpose">Purpose of access</label>
          <input
            id="purpose"
            list="purpose-suggestions"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-describedby={problem ? 'purpose-problem' : 'purpose-hint'}
            aria-invalid={problem ? 'true' : undefined}
            required
          />
          <datalist id="purpose-suggestions">
            {SUGGESTIONS.map((s) => <option key={s} value={s} />)}
          </datalist>
          <p class="hint" id="purpose-hint">For example “Daily caseload review”.</p>
          {problem && <p class="problem" id="purpose-problem" role="alert">{problem}</p>}
        </div>
        <button type="submit" class="primary">Continue</button>{' '}
        {onCancel && <button type="button" class="secondary" onClick={onCancel}>Keep the current purpose</button>}
      </form>
    </section>
  );
}

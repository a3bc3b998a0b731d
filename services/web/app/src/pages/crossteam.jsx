// An officer refused a record outside their team's caseload may give a reason and try again:
// the reason goes in X-Vigil-Cross-Team and is audited with every access.
import { useState } from 'preact/hooks';

export function CrossTeamForm({ onSubmit }) {
  const [reason, setReason] = useState('');
  return (
    <form
      class="panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (reason.trim()) onSubmit(reason.trim());
      }}
    >
      <h2>Need this record for your work?</h2>
      <p>
        If you have a reason to open a record outside your team’s caseload, give it here. It is recorded
        with every access you make to the record.
      </p>
      <div class="field">
        <label for="cross-team-reason">Reason for access outside your team</label>
        <input id="cross-team-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
      </div>
      <button type="submit">Open with this reason</button>
    </form>
  );
}

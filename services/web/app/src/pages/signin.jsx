// Sign in: with the force's identity provider (OpenID Connect), or, on a development server,
// by naming an identity (dev form).
import { useState } from 'preact/hooks';
import { devSignIn, getAuthConfig } from '../api.js';
import { ErrorAlert, Loading, PageHeading, useLoad } from '../components.jsx';

export function SignInPage({ returnHash, onSignedIn }) {
  const config = useLoad(() => getAuthConfig(), []);
  const back = returnHash && returnHash.startsWith('#/') ? returnHash : '#/';
  return (
    <section class="signin" aria-labelledby="page-heading">
      <PageHeading>Sign in to vigil</PageHeading>
      {config.loading && <Loading what="Finding out how to sign in" />}
      <ErrorAlert error={config.error} />
      {config.data && config.data.oidc && (
        <p>
          <a class="button primary" href={`/auth/login?return=${encodeURIComponent(back)}`} id="oidc-sign-in">
            Sign in with your force account
          </a>
        </p>
      )}
      {config.data && config.data.devSignIn && <DevSignIn onSignedIn={onSignedIn} />}
      {config.data && !config.data.oidc && !config.data.devSignIn && (
        <p>This server offers no way to sign in. Ask your force’s vigil administrator.</p>
      )}
    </section>
  );
}

function DevSignIn({ onSignedIn }) {
  const [form, setForm] = useState({ actor: '', role: 'officer', force: 'wessex', team: '', rank: '' });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await devSignIn(form);
      onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="dev-heading">
      <h2 id="dev-heading">Development sign-in</h2>
      <p class="hint">This server trusts the identity you name. It is never offered in production.</p>
      <ErrorAlert error={error} />
      <div class="field">
        <label for="dev-actor">Actor</label>
        <input id="dev-actor" required value={form.actor} onInput={set('actor')} autocomplete="username" placeholder="DC 100" />
      </div>
      <div class="field">
        <label for="dev-role">Role</label>
        <select id="dev-role" value={form.role} onChange={set('role')}>
          <option value="officer">Officer</option>
          <option value="supervisor">Supervisor</option>
          <option value="force-admin">Force admin</option>
          <option value="auditor">Auditor</option>
        </select>
      </div>
      <div class="field">
        <label for="dev-force">Force</label>
        <input id="dev-force" required value={form.force} onInput={set('force')} />
      </div>
      <div class="field">
        <label for="dev-team">Team</label>
        <input id="dev-team" value={form.team} onInput={set('team')} placeholder="north" />
      </div>
      <div class="field">
        <label for="dev-rank">Rank</label>
        <select id="dev-rank" value={form.rank} onChange={set('rank')}>
          <option value="">Not given</option>
          <option value="officer">Officer</option>
          <option value="sergeant">Sergeant</option>
          <option value="inspector">Inspector</option>
          <option value="superintendent">Superintendent</option>
        </select>
      </div>
      <button type="submit" class="primary" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}

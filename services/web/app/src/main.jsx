// The vigil web app: session, purpose of access, navigation, live alerts, and the pages.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { callEarly, getPurpose, getSession, onUnauthorized, setPurpose, signOut } from './api.js';
import { ErrorAlert, Loading, PeopleSuggestions } from './components.jsx';
import { kindText, kindOf, enumText } from './format.js';
import { forgetAlertCursor, onAlertEvent, startLiveAlerts, stopLiveAlerts } from './live.js';
import { navigate, useRoute } from './router.js';
import { AlertsPage } from './pages/alerts.jsx';
import { BacklogPage } from './pages/backlog.jsx';
import { OffenderPage } from './pages/offender.jsx';
import { PurposeForm } from './pages/purpose.jsx';
import { ReferralPage } from './pages/referral.jsx';
import { SignInPage } from './pages/signin.jsx';
import { WorkPage } from './pages/work.jsx';
import { WorkloadPage } from './pages/workload.jsx';

const SUPERVISING = new Set(['supervisor', 'force-admin']);

function homeFor(session) {
  return SUPERVISING.has(session.role) ? '#/backlog' : '#/work';
}

function navFor(session) {
  const links = [['#/work', SUPERVISING.has(session.role) ? 'Team work' : 'My work']];
  if (SUPERVISING.has(session.role)) links.push(['#/backlog', 'Backlog']);
  links.push(['#/alerts', 'Alerts']);
  if (SUPERVISING.has(session.role)) links.push(['#/workload', 'Workload']);
  return links;
}

// The first page load asks for the session at once, not after the first render; with a purpose
// already given, the dashboard's summary is asked for beside it (BacklogPage takes it).
let firstSession = getSession();
firstSession.catch(() => {});
if (getPurpose() && /^#\/backlog\/?$/.test(location.hash)) {
  callEarly('BacklogService', 'GetBacklogSummary', {});
}
function takeFirstSession() {
  const session = firstSession || getSession();
  firstSession = null;
  return session;
}

function App() {
  // undefined: not known yet; null: signed out.
  const [session, setSession] = useState(undefined);
  const [sessionError, setSessionError] = useState(null);
  const [purpose, setPurposeState] = useState(getPurpose());
  const [changingPurpose, setChangingPurpose] = useState(false);
  const route = useRoute();

  const loadSession = () =>
    takeFirstSession().then(
      (s) => {
        setSessionError(null);
        setSession(s);
      },
      (e) => setSessionError(e),
    );

  useEffect(() => {
    onUnauthorized(() => {
      stopLiveAlerts();
      setSession(null);
    });
    loadSession();
  }, []);

  // Live alerts while signed in with a purpose.
  useEffect(() => {
    if (session && purpose) startLiveAlerts();
    else stopLiveAlerts();
    return stopLiveAlerts;
  }, [session, purpose]);

  useEffect(() => {
    if (session && route.name === '') navigate(homeFor(session));
  }, [session, route.name]);

  useEffect(() => {
    document.title = session ? `${titleOf(route)} – vigil` : 'Sign in – vigil';
  }, [session, route.hash]);

  const choosePurpose = (text) => {
    setPurpose(text);
    setPurposeState(text);
    setChangingPurpose(false);
  };

  const doSignOut = async () => {
    let endSessionUrl = '';
    try {
      endSessionUrl = await signOut();
    } catch {
      // Signed out either way.
    }
    setPurpose('');
    setPurposeState('');
    forgetAlertCursor();
    stopLiveAlerts();
    setSession(null);
    // On to the provider, to end the session there too; it sends the browser back here.
    if (endSessionUrl) window.location.assign(endSessionUrl);
  };

  let content;
  if (sessionError) {
    content = <ErrorAlert error={sessionError} />;
  } else if (session === undefined) {
    content = <Loading what="Checking your session" />;
  } else if (session === null) {
    content = <SignInPage returnHash={route.hash} onSignedIn={loadSession} />;
  } else if (!purpose || changingPurpose) {
    content = (
      <PurposeForm
        current={purpose}
        onSubmit={choosePurpose}
        onCancel={purpose ? () => setChangingPurpose(false) : null}
      />
    );
  } else {
    content = (
      <>
        {SUPERVISING.has(session.role) && <PeopleSuggestions />}
        <Page route={route} session={session} />
      </>
    );
  }

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to main content
      </a>
      <header class="masthead">
        <div class="masthead-inner">
          <p class="brand">
            <a href="#/">vigil</a>
            <span class="brand-sub">obligations and backlog</span>
          </p>
          {session && purpose && !changingPurpose && (
            <nav aria-label="Main" class="main-nav">
              <ul>
                {navFor(session).map(([href, label]) => (
                  <li key={href}>
                    <a href={href} aria-current={route.hash.startsWith(href) ? 'page' : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {session && (
            <div class="who">
              <p>
                <span class="who-actor">{session.actor}</span>{' '}
                <span class="who-detail">
                  {session.role}
                  {session.team ? `, ${session.team}` : ''}, {session.force}
                </span>
              </p>
              {purpose && !changingPurpose && (
                <p class="who-purpose">
                  Purpose: <span id="current-purpose">{purpose}</span>{' '}
                  <button type="button" class="link-button" onClick={() => setChangingPurpose(true)}>
                    Change<span class="visually-hidden"> purpose of access</span>
                  </button>
                </p>
              )}
              <button type="button" class="secondary" onClick={doSignOut}>
                Sign out
              </button>
            </div>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
      {session && <LiveAlerts />}
      <footer class="site-footer">
        <p>Every record you open is logged with your purpose of access (DPA 2018 s.62).</p>
      </footer>
    </>
  );
}

function titleOf(route) {
  switch (route.name) {
    case 'work': return 'Work';
    case 'offender': return `Offender ${route.params[0] || ''}`;
    case 'referral': return `Referral ${route.params[0] || ''}`;
    case 'backlog': return 'Backlog';
    case 'alerts': return 'Alerts';
    case 'workload': return 'Workload';
    default: return 'vigil';
  }
}

function Page({ route, session }) {
  // key: a new page instance (fresh state, heading focus) for every route.
  switch (route.name) {
    case 'work':
      return <WorkPage key={route.hash} session={session} />;
    case 'offender':
      return <OffenderPage key={route.hash} id={route.params[0] || ''} session={session} />;
    case 'referral':
      return <ReferralPage key={route.hash} id={route.params[0] || ''} session={session} />;
    case 'backlog':
      return <BacklogPage key={route.name} session={session} />;
    case 'alerts':
      return <AlertsPage key={route.name} session={session} />;
    case 'workload':
      return <WorkloadPage key={route.name} session={session} />;
    case '':
      return <Loading />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no page at <code>{route.hash}</code>. <a href={homeFor(session)}>Go to the start page</a>.
          </p>
        </>
      );
  }
}

// Toasts for alert events as they happen, announced politely to screen readers.
function LiveAlerts() {
  const [toasts, setToasts] = useState([]);
  useEffect(() => {
    const openedAt = Date.now();
    let next = 0;
    return onAlertEvent((event) => {
      // Replayed history (older than this page) refreshes lists but is not announced.
      const when = event.eventTime ? new Date(event.eventTime).getTime() : Date.now();
      if (when < openedAt - 60000) return;
      const text = describeEvent(event);
      if (!text) return;
      const id = ++next;
      setToasts((t) => [...t.slice(-2), { id, text }]);
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 20000);
    });
  }, []);
  return (
    <aside class="toasts" aria-label="Live alerts">
      <div aria-live="polite" aria-atomic="false" role="status" class="toast-list">
        {toasts.map((t) => (
          <div class="toast" key={t.id}>
            <p>{t.text}</p>
            <button
              type="button"
              class="link-button"
              onClick={() => setToasts((all) => all.filter((x) => x.id !== t.id))}
            >
              Dismiss<span class="visually-hidden"> this notification</span>
            </button>
          </div>
        ))}
      </div>
    </aside>
  );
}

function describeEvent(event) {
  const type = event.type || '';
  if (type === 'ALERT_EVENT_TYPE_DIGEST' || !event.alert) return '';
  const alert = event.alert;
  const o = alert.obligation || {};
  const what = enumText(type, 'ALERT_EVENT_TYPE_');
  const subject = `${kindText(kindOf(o.kind))} for ${o.subjectId || 'a record'}`;
  if (type === 'ALERT_EVENT_TYPE_DUE_SOON') return `Due soon: ${subject}. ${alert.summary || ''}`;
  if (type === 'ALERT_EVENT_TYPE_REMINDER') {
    const acks = alert.acknowledgements || [];
    const by = acks.length ? acks[acks.length - 1].by : 'someone';
    return `Reminder: ${subject} is still open; ${by} took its alert on.`;
  }
  return `Alert ${what.toLowerCase()}: ${kindText(kindOf(o.kind))} for ${o.subjectId || 'a record'}` +
    `${o.ownerOfficer ? ` (${o.ownerOfficer})` : ''}, ${enumText(alert.escalationLevel, 'ESCALATION_LEVEL_').toLowerCase()} level.`;
}

render(<App />, document.getElementById('root'));

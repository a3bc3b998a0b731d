// Live alert events: EventSource on /api/events/alerts (Server-Sent Events bridged from
// AlertService.Subscribe). The browser resumes by itself with Last-Event-ID after a dropped
// connection; when the server closes the stream for good (a refusal, a restart) we open a new
// one after a pause, resuming after the last event seen. Listeners get each AlertEvent.
import { getPurpose, getSession } from './api.js';

const CURSOR_KEY = 'vigil.alerts.after';
let source = null;
let retryTimer = null;
const listeners = new Set();

export function onAlertEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function startLiveAlerts() {
  stopLiveAlerts();
  const purpose = getPurpose();
  if (!purpose) return;
  const params = new URLSearchParams({ purpose });
  const after = sessionStorage.getItem(CURSOR_KEY);
  if (after) params.set('after', after);
  source = new EventSource(`/api/events/alerts?${params}`);
  source.addEventListener('alert', (message) => {
    if (message.lastEventId) sessionStorage.setItem(CURSOR_KEY, message.lastEventId);
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    for (const listener of listeners) listener(event);
  });
  source.addEventListener('error', () => {
    // CONNECTING: the browser is already retrying (with Last-Event-ID). CLOSED: it gave up.
    if (source && source.readyState === EventSource.CLOSED) {
      clearTimeout(retryTimer);
      // Signed out? Asking for the session says so to the app (a 401 shows the sign-in page,
      // which stops the stream); otherwise try again shortly.
      getSession().catch(() => {});
      retryTimer = setTimeout(startLiveAlerts, 15000);
    }
  });
}

export function stopLiveAlerts() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
}

export function forgetAlertCursor() {
  sessionStorage.removeItem(CURSOR_KEY);
}

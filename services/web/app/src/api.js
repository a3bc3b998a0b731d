// The one place the app talks to vigil-web. Every /api call is a POST of the request message
// in protobuf's JSON mapping; responses omit fields at their default (missing number: 0,
// missing list: []). Errors come back as JSON {code, message}.

const PURPOSE_KEY = 'vigil.purpose';

// Why the user is reading personal data; asked once per browser session (sessionStorage) and
// sent with every /api call as X-Vigil-Purpose.
export function getPurpose() {
  return sessionStorage.getItem(PURPOSE_KEY) || '';
}
export function setPurpose(text) {
  if (text) sessionStorage.setItem(PURPOSE_KEY, text);
  else sessionStorage.removeItem(PURPOSE_KEY);
}

// A refusal or failure the server explained (or a network failure: status 0).
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called on any 401: the app shows the sign-in page.
let unauthorizedHandler = () => {};
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

async function errorFrom(response) {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || 'The server refused the request.';
  try {
    const body = await response.json();
    if (body && body.code) code = body.code;
    if (body && body.message) message = body.message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...init });
  } catch (e) {
    throw new ApiError(0, 'UNAVAILABLE', `vigil-web could not be reached (${e.message}).`);
  }
  if (response.status === 401) {
    const error = await errorFrom(response);
    unauthorizedHandler(error);
    throw error;
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return {};
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

// Calls started before the page that wants them has rendered (callEarly), by service, method
// and request; each is taken by the first call() that asks the same within EARLY_MS.
const early = new Map();
const EARLY_MS = 10000;

// Starts a call now, for a page about to ask for it: main.jsx starts the dashboard's summary
// beside the session check, so the heat map does not wait for the session's round trip and a
// render first. A failure is the page's to report, when it asks.
export function callEarly(service, method, request = {}) {
  const key = `${service}/${method}/${JSON.stringify(request)}`;
  const promise = call(service, method, request);
  promise.catch(() => {});
  early.set(key, { promise, at: Date.now() });
}

// Calls vigil.v1.<service>/<method>. options.crossTeam: an officer's reason to open a record
// outside their team's caseload (X-Vigil-Cross-Team, audited with the access).
export function call(service, method, request = {}, options = {}) {
  const key = `${service}/${method}/${JSON.stringify(request)}`;
  const started = early.get(key);
  if (started) {
    early.delete(key);
    if (Date.now() - started.at < EARLY_MS && !options.crossTeam) return started.promise;
  }
  const headers = {
    'Content-Type': 'application/json',
    'X-Vigil-Web': '1',
  };
  const purpose = getPurpose();
  if (purpose) headers['X-Vigil-Purpose'] = purpose;
  if (options.crossTeam) headers['X-Vigil-Cross-Team'] = options.crossTeam;
  return send(`/api/vigil.v1.${service}/${method}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(request),
  });
}

// The signed-in user, or null when signed out.
export async function getSession() {
  try {
    return await send('/api/session', { method: 'GET' });
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function getAuthConfig() {
  return send('/auth/config', { method: 'GET' });
}

export async function devSignIn(identity) {
  return send('/auth/dev', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Vigil-Web': '1' },
    body: JSON.stringify(identity),
  });
}

// Ends the session here; for a person signed in at the force's provider, the answer names the
// provider's end-session address (with the ID token as hint), where the browser goes next so that
// the provider's session ends too. The provider sends the browser back to this app.
export async function signOut() {
  const answer = await send('/auth/logout', { method: 'POST', headers: { 'X-Vigil-Web': '1' } });
  return answer.endSessionUrl || '';
}

// An idempotency key for a write (docs/api.md): the same key on a retry returns the first
// result. crypto.randomUUID needs a secure context (https or loopback).
export function newRequestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// int64 fields arrive as strings, and default values not at all.
export function num(value) {
  if (value === undefined || value === null || value === '') return 0;
  return Number(value);
}
export function list(value) {
  return Array.isArray(value) ? value : [];
}

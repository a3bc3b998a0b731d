// Words and numbers for the enums and times of vigil's API (protobuf JSON: enum names, RFC 3339).

export const RISKS = [
  'RISK_LEVEL_VERY_HIGH',
  'RISK_LEVEL_HIGH',
  'RISK_LEVEL_MEDIUM',
  'RISK_LEVEL_LOW',
  'RISK_LEVEL_UNSPECIFIED',
]; // riskiest first, "not assessed" last (as the backlog orders them)

export const RISK_BY_NUMBER = [
  'RISK_LEVEL_UNSPECIFIED',
  'RISK_LEVEL_LOW',
  'RISK_LEVEL_MEDIUM',
  'RISK_LEVEL_HIGH',
  'RISK_LEVEL_VERY_HIGH',
];

export const KINDS = [
  'OBLIGATION_KIND_ARMS_ASSESSMENT',
  'OBLIGATION_KIND_RMP_REVIEW',
  'OBLIGATION_KIND_HOME_VISIT',
  'OBLIGATION_KIND_NOTIFICATION',
  'OBLIGATION_KIND_REFERRAL_ACTION',
  'OBLIGATION_KIND_INTEL_REFRESH',
  'OBLIGATION_KIND_CSC_CHECK',
  'OBLIGATION_KIND_RMP_SIGN_OFF',
  'OBLIGATION_KIND_NOTIFICATION_REVIEW',
]; // in ObligationKind number order (1..9)

export const AGE_BANDS = [
  ['AGE_BAND_0_7_DAYS', '0–7 days'],
  ['AGE_BAND_8_30_DAYS', '8–30 days'],
  ['AGE_BAND_31_90_DAYS', '31–90 days'],
  ['AGE_BAND_91_180_DAYS', '91–180 days'],
  ['AGE_BAND_181_365_DAYS', '181–365 days'],
  ['AGE_BAND_OVER_365_DAYS', 'over 365 days'],
];

const KIND_WORDS = {
  OBLIGATION_KIND_ARMS_ASSESSMENT: 'ARMS assessment',
  OBLIGATION_KIND_RMP_REVIEW: 'RMP review',
  OBLIGATION_KIND_HOME_VISIT: 'Home visit',
  OBLIGATION_KIND_NOTIFICATION: 'Notification',
  OBLIGATION_KIND_REFERRAL_ACTION: 'Referral action',
  OBLIGATION_KIND_INTEL_REFRESH: 'Intelligence refresh',
  OBLIGATION_KIND_CSC_CHECK: 'CSC check',
  OBLIGATION_KIND_RMP_SIGN_OFF: 'RMP sign-off',
  OBLIGATION_KIND_NOTIFICATION_REVIEW: 'Notification review',
};

const RISK_WORDS = {
  RISK_LEVEL_VERY_HIGH: 'Very high',
  RISK_LEVEL_HIGH: 'High',
  RISK_LEVEL_MEDIUM: 'Medium',
  RISK_LEVEL_LOW: 'Low',
  RISK_LEVEL_UNSPECIFIED: 'Not assessed',
};

// Enum values at their default are omitted from the JSON.
export const riskOf = (value) => value || 'RISK_LEVEL_UNSPECIFIED';
export const kindOf = (value) => value || 'OBLIGATION_KIND_UNSPECIFIED';

export function kindText(kind) {
  return KIND_WORDS[kind] || enumText(kind, 'OBLIGATION_KIND_');
}
export function riskText(risk) {
  return RISK_WORDS[riskOf(risk)];
}
export function bandText(band) {
  const found = AGE_BANDS.find(([b]) => b === band);
  return found ? found[1] : '';
}

// "REFERRAL_STATE_AWAITING_ALLOCATION" -> "Awaiting allocation".
export function enumText(value, prefix) {
  if (!value) return '—';
  let text = value.startsWith(prefix) ? value.slice(prefix.length) : value;
  if (text === 'UNSPECIFIED') return '—';
  text = text.replace(/_/g, ' ').toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Referral clocks live in the OCAIT queue; the others on the offender's record.
const REFERRAL_KINDS = new Set([
  'OBLIGATION_KIND_REFERRAL_ACTION',
  'OBLIGATION_KIND_INTEL_REFRESH',
  'OBLIGATION_KIND_CSC_CHECK',
]);
export function subjectHref(obligation) {
  const id = encodeURIComponent(obligation.subjectId || '');
  return REFERRAL_KINDS.has(kindOf(obligation.kind)) ? `#/referral/${id}` : `#/offender/${id}`;
}

const LONDON = 'Europe/London';
const dateFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: LONDON, day: 'numeric', month: 'short', year: 'numeric',
});
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: LONDON, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
});

export function formatDate(rfc3339) {
  return rfc3339 ? dateFormat.format(new Date(rfc3339)) : '—';
}
export function formatDateTime(rfc3339) {
  return rfc3339 ? dateTimeFormat.format(new Date(rfc3339)) : '—';
}
export function isoDate(rfc3339) {
  return rfc3339 ? new Date(rfc3339).toISOString() : '';
}

// Whole days since (positive) or until (negative) a time, as the server counts overdue days.
export function daysOverdue(rfc3339, now = Date.now()) {
  return Math.floor((now - new Date(rfc3339).getTime()) / 86400000);
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// A value for <input type="datetime-local"> from a Date (local time of the browser), and back.
export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
export function fromLocalInput(value) {
  return new Date(value).toISOString();
}

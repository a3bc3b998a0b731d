// The supervisor's dashboard driven and timed in Chromium, shared by the browser test
// (tests/web/browser.test.mjs, against the demo force) and the web scale benchmark
// (bench/web_scale.mjs, against bench/web_scale.sh's national-size force). Each function takes
// a playwright page; none checks what the page shows against vigild (the test does that).
import { chromium } from 'playwright-core';

// Debian's chromium, headless (playwright's own browser downloads are not used).
export function launchChromium(executablePath) {
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}

// Fills and sends the app's development sign-in form (vigil-web --dev-sign-in): who is
// { actor, team }; role, force and rank as the form names them.
export async function devSignIn(page, { actor, role, force, team, rank }) {
  await page.fill('#dev-actor', actor);
  await page.selectOption('#dev-role', role);
  await page.fill('#dev-force', force);
  await page.fill('#dev-team', team);
  await page.selectOption('#dev-rank', rank);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// Gives the purpose of access the app asks for after sign-in (the page must be showing it).
export async function givePurpose(page, purpose) {
  await page.fill('#purpose', purpose);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#current-purpose');
}

// Loads the dashboard afresh (from about:blank, as a hash change alone would not load the page
// again) with the session and purpose already in place. Returns, in ms from the navigation:
// heatMapShown (the heat map's cells are in the page), firstContentfulPaint (Chromium's),
// domContentLoaded (the page and its script loaded and run), and requests: each request the page
// made ({ path, start, duration }, the app's files and its /api calls), in the order they started.
export async function timeDashboard(page, webUrl) {
  await page.goto('about:blank');
  const started = Date.now();
  await page.goto(`${webUrl}/#/backlog`);
  await page.waitForSelector('#heatmap td.heat');
  const heatMapShown = Date.now() - started;
  const timing = await page.evaluate(() => ({
    firstContentfulPaint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
    domContentLoaded: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? -1,
    requests: performance.getEntriesByType('resource')
      .map((e) => ({ path: new URL(e.name).pathname, start: e.startTime, duration: e.duration })),
  }));
  return {
    heatMapShown,
    firstContentfulPaint: Math.round(timing.firstContentfulPaint),
    domContentLoaded: Math.round(timing.domContentLoaded),
    requests: timing.requests,
  };
}

// The heat map's busiest cell: { kind, risk, band, count }.
export async function busiestCell(page) {
  return page.$$eval('#heatmap td.heat', (tds) =>
    tds.map((td) => ({ kind: td.dataset.kind, risk: td.dataset.risk, band: td.dataset.band, count: Number(td.dataset.count) }))
      .sort((a, b) => b.count - a.count)[0]);
}

// Opens a cell's drill-down; returns the ms until its items are listed.
export async function timeDrillDown(page, cell) {
  const started = Date.now();
  await page.click(`#heatmap td[data-kind="${cell.kind}"][data-risk="${cell.risk}"][data-band="${cell.band}"] button`);
  await page.waitForSelector('#drilldown-count');
  return Date.now() - started;
}

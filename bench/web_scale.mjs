// Times the supervisor's dashboard of a running vigil-web (--dev-sign-in) in Chromium: each run
// is a new browser context that signs in as a force-wide supervisor, gives a purpose, then loads
// the dashboard afresh (first contentful paint; the heat map shown; each /api call) and opens the
// busiest heat-map cell (its first page of items listed). Prints each run and the medians.
// bench/web_scale.sh starts what it needs; the helpers are the browser test's
// (tests/web/dashboard.mjs, whose playwright-core `npm ci` in tests/web installs).
//
//   node bench/web_scale.mjs --url http://127.0.0.1:PORT [--runs 5] [--force wessex]
import { parseArgs } from 'node:util';
import {
  busiestCell, devSignIn, givePurpose, launchChromium, timeDashboard, timeDrillDown,
} from '../tests/web/dashboard.mjs';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    runs: { type: 'string', default: '5' },
    force: { type: 'string', default: 'wessex' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});
if (!args.url) {
  console.error('usage: node bench/web_scale.mjs --url http://127.0.0.1:PORT [--runs N] [--force F]');
  process.exit(2);
}
const runs = Number(args.runs);
// A sergeant of team north, as in the browser test; the dashboard opens force-wide.
const SUPERVISOR = { actor: 'DS Holt', role: 'supervisor', force: args.force, team: 'north', rank: 'sergeant' };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
// The app names its calls /api/vigil.v1.<Service>/<Method>: keep the method (or the file).
const requestName = (path) => path.replace(/^\/api\/(vigil\.v1\.[A-Za-z]+\/)?/, '').replace(/^.*\//, '');

const browser = await launchChromium(args.chromium);
const results = [];
try {
  for (let run = 1; run <= runs; run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${args.url}/#/backlog`);
    await devSignIn(page, SUPERVISOR);
    await page.waitForSelector('#purpose');
    await givePurpose(page, 'Backlog review (web scale benchmark)');
    await page.waitForSelector('#heatmap td.heat');

    const paint = await timeDashboard(page, args.url);
    const cell = await busiestCell(page);
    const drillDown = await timeDrillDown(page, cell);
    const listed = await page.locator('#drilldown-table tbody tr').count();
    // The drill-down's call, to tell the server's and the gateway's part from the page's.
    const itemsCall = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => e.name.endsWith('/ListBacklogItems')).map((e) => Math.round(e.duration)).pop() ?? -1);
    const total = await page.textContent('#heatmap-total');
    if (errors.length) throw new Error(`run ${run}: script errors: ${errors.join('; ')}`);
    const requests = paint.requests
      .map((r) => `${requestName(r.path)} ${Math.round(r.start)}+${Math.round(r.duration)}`).join(', ');
    console.log(`run ${run}: first contentful paint ${paint.firstContentfulPaint} ms, heat map shown ` +
      `${paint.heatMapShown} ms (${total} overdue; DOMContentLoaded ${paint.domContentLoaded} ms; ` +
      `requests start+duration ms: ${requests}); drill-down ${drillDown} ms ` +
      `(${cell.kind} ${cell.risk} ${cell.band}: ${cell.count} items, ${listed} listed; ListBacklogItems ` +
      `${itemsCall} ms)`);
    results.push({ ...paint, drillDown });
    await context.close();
  }
} finally {
  await browser.close();
}
const m = (key) => median(results.map((r) => r[key]));
console.log(`median of ${runs}: first contentful paint ${m('firstContentfulPaint')} ms, ` +
  `heat map shown ${m('heatMapShown')} ms, drill-down ${m('drillDown')} ms`);

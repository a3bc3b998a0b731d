// Browser test of vigil-web and its app, end to end with real processes:
//   the test OpenID provider (tests/support/oidc), vigild (--auth=jwt, the provider's keys),
//   the demo force loaded with `vigil demo seed`, vigil-web (OIDC sign-in, the built app),
//   and Chromium driven by playwright-core.
// It signs in as an officer and as a supervisor through the provider's login form and checks
// the pages against what the CLI reads from vigild with the same identities:
//   the officer's work list = `vigil work`; another team's offender is refused on the page (and
//   opens with a cross-team reason, audited); the purpose given is in the audit log;
//   the heat map = `vigil backlog` (GetBacklogSummary); a cell's drill-down = `vigil backlog
//   items`; an alert acknowledged in the browser shows in `vigil alerts show`, and the live
//   event reaches the page; axe-core finds no WCAG 2.1 A/AA violation on any page; no CSP
//   violation. Screenshots at 1280 and 375 px go to ARTIFACTS_DIR; the dashboard's first paint
//   and a drill-down's time are printed.
//
//   node --test tests/web/browser.test.mjs
//
// Paths (defaults relative to the repository root):
//   VIGILD            build/services/vigild/vigild
//   VIGIL_CLI         build/clients/cli/vigil
//   VIGIL_WEB         build/services/web/vigil-web
//   VIGIL_WEB_STATIC  services/web/app/dist   (npm ci && npm run build in services/web/app)
//   OIDC_PROVIDER_DIR tests/support/oidc      (npm ci is run there when node_modules is missing)
//   CHROMIUM          /usr/bin/chromium
//   ARTIFACTS_DIR     screenshots and logs (default: a new temporary directory)
//   VIGIL_WEB_AUTH    oidc (default: the provider, vigild --auth=jwt) or dev (vigild --auth=dev,
//                     vigil-web --dev-sign-in, the app's development form; no provider)
// Every child process is killed at the end, also on failure.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { busiestCell, devSignIn, givePurpose, launchChromium, timeDashboard, timeDrillDown } from './dashboard.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const env = (name, fallback) => process.env[name] || fallback;

const VIGILD = env('VIGILD', join(root, 'build/services/vigild/vigild'));
const VIGIL_CLI = env('VIGIL_CLI', join(root, 'build/clients/cli/vigil'));
const VIGIL_WEB = env('VIGIL_WEB', join(root, 'build/services/web/vigil-web'));
const STATIC_DIR = env('VIGIL_WEB_STATIC', join(root, 'services/web/app/dist'));
const PROVIDER_DIR = env('OIDC_PROVIDER_DIR', join(root, 'tests/support/oidc'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const work = mkdtempSync(join(env('VIGIL_TEST_TMPDIR', tmpdir()), 'vigil-web-browser.'));
const ARTIFACTS = env('ARTIFACTS_DIR', join(work, 'artifacts'));
mkdirSync(ARTIFACTS, { recursive: true });

const AUTH = env('VIGIL_WEB_AUTH', 'oidc');
assert.ok(AUTH === 'oidc' || AUTH === 'dev', `VIGIL_WEB_AUTH: oidc or dev, not ${AUTH}`);
const FORCE = 'wessex';
const PURPOSE = 'Daily caseload review';
// The demo's officers are "DC <team><nn>" (team north = 1, south = 2, ...), see
// clients/cli/demo_data.cc; DC 100 is in team north.
const OFFICER = { username: 'dc100', password: 'dc100-password', actor: 'DC 100', team: 'north' };
const SUPERVISOR = { username: 'holt', password: 'holt-password', actor: 'DS Holt', team: 'north' };

const children = [];
let browser = null;

// ---------------------------------------------------------------------------------------------
// Processes

function startProcess(name, command, args, options = {}) {
  const log = join(ARTIFACTS, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], ...options });
  child.on('error', (e) => {
    child.spawnError = e;
  });
  child.logPath = log;
  child.label = name;
  children.push(child);
  return child;
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(timer);
}

function killAllNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { killAllNow(); process.exit(130); });
}

async function waitFor(what, predicate, { timeoutMs = 60000, child = null } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (child && child.spawnError) throw new Error(`${what}: ${child.spawnError.message}`);
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: exited (${child.exitCode ?? child.signalCode}); see ${child.logPath}`);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms${child ? `; see ${child.logPath}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readIfExists(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The OpenID provider

let issuer = '';
let discovery = null;
const CLIENT_SECRETS = {};

function providerConfig(webUrl) {
  // Machine clients carry the same identities as the people, so that the CLI reads vigild as
  // the browser's user does (vigild takes the actor from preferred_username).
  const identity = (who, role, rank) => ({
    preferred_username: who.actor, vigil_role: role, vigil_force: FORCE, vigil_team: who.team, vigil_rank: rank,
  });
  const clients = [
    { client_id: 'wessex-ppu', claims: { preferred_username: 'wessex-ppu', vigil_role: 'system', vigil_force: FORCE } },
    { client_id: 'wessex-admin', claims: { preferred_username: 'Admin Reyes', vigil_role: 'force-admin', vigil_force: FORCE } },
    { client_id: 'officer-cli', claims: identity(OFFICER, 'officer', 'officer') },
    { client_id: 'supervisor-cli', claims: identity(SUPERVISOR, 'supervisor', 'sergeant') },
  ];
  for (const c of clients) {
    c.client_secret = `${c.client_id}-secret`;
    CLIENT_SECRETS[c.client_id] = c.client_secret;
  }
  clients.push({
    client_id: 'vigil-web',
    redirect_uris: [`${webUrl}/auth/callback`],
    post_logout_redirect_uris: [`${webUrl}/`],
    grant_types: ['authorization_code', 'refresh_token'],
  });
  return {
    audience: 'vigil',
    accessTokenTtlSeconds: 3600,
    clients,
    users: [
      { username: OFFICER.username, password: OFFICER.password, claims: identity(OFFICER, 'officer', 'officer') },
      { username: SUPERVISOR.username, password: SUPERVISOR.password, claims: identity(SUPERVISOR, 'supervisor', 'sergeant') },
    ],
  };
}

async function startProvider(webUrl) {
  if (!existsSync(join(PROVIDER_DIR, 'node_modules'))) {
    const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PROVIDER_DIR, encoding: 'utf8' });
    assert.equal(ci.status, 0, `npm ci in ${PROVIDER_DIR}: ${ci.stdout}${ci.stderr}`);
  }
  const config = join(work, 'provider.json');
  writeFileSync(config, JSON.stringify(providerConfig(webUrl), null, 2));
  const ready = join(work, 'provider.ready');
  const child = startProcess('provider', process.execPath, [
    join(PROVIDER_DIR, 'provider.mjs'), '--config', config, '--port', '0', '--ready-file', ready,
  ]);
  const info = await waitFor('the OpenID provider', () => {
    const text = readIfExists(ready);
    try {
      return text && JSON.parse(text);
    } catch {
      return null;
    }
  }, { child });
  issuer = info.issuer;
  discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = await (await fetch(discovery.jwks_uri)).text();
  const jwksPath = join(work, 'jwks.json');
  writeFileSync(jwksPath, jwks);
  return jwksPath;
}

// The identity each client id stands for, for the CLI on a dev-mode vigild.
const DEV_IDENTITY = {
  'wessex-ppu': ['--actor', 'wessex-ppu', '--role', 'system', '--force', FORCE],
  'wessex-admin': ['--actor', 'Admin Reyes', '--role', 'force-admin', '--force', FORCE],
  'officer-cli': ['--actor', OFFICER.actor, '--role', 'officer', '--force', FORCE, '--team', OFFICER.team, '--rank', 'officer'],
  'supervisor-cli': ['--actor', SUPERVISOR.actor, '--role', 'supervisor', '--force', FORCE, '--team', SUPERVISOR.team, '--rank', 'sergeant'],
};

const tokens = {};
async function token(clientId) {
  if (tokens[clientId]) return tokens[clientId];
  const basic = Buffer.from(`${clientId}:${CLIENT_SECRETS[clientId]}`).toString('base64');
  const reply = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const body = await reply.json();
  assert.ok(body.access_token, `token for ${clientId}: ${JSON.stringify(body)}`);
  tokens[clientId] = body.access_token;
  return body.access_token;
}

// ---------------------------------------------------------------------------------------------
// vigild, the CLI and vigil-web

let vigildAddress = '';
let webUrl = '';

async function startVigild(jwksPath) {
  const portFile = join(work, 'vigild.port');
  const auth = AUTH === 'oidc'
    ? ['--auth=jwt', '--jwks', jwksPath, '--jwt-issuer', issuer, '--jwt-audience', 'vigil']
    : ['--auth=dev'];
  const child = startProcess('vigild', VIGILD, [
    '--data-dir', join(work, 'data'), '--listen', '127.0.0.1:0', '--port-file', portFile,
    ...auth, '--read-rate', '0',
  ]);
  const port = await waitFor('vigild', () => readIfExists(portFile).trim(), { child });
  vigildAddress = `127.0.0.1:${port}`;
}

// Runs the CLI as a client (by its client-credentials token); -o json output parsed.
async function cli(clientId, args, { json = true } = {}) {
  const identity = AUTH === 'oidc' ? ['--token', await token(clientId)] : DEV_IDENTITY[clientId];
  const run = spawnSync(VIGIL_CLI, [
    '--server', vigildAddress, ...identity, '--purpose', 'browser test check',
    ...(json ? ['-o', 'json'] : []), ...args,
  ], { encoding: 'utf8', timeout: 300000, maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) {
    throw new Error(`vigil ${args.join(' ')} exited ${run.status}: ${run.stdout}${run.stderr}`);
  }
  return json ? JSON.parse(run.stdout) : run.stdout;
}

async function startWeb(port) {
  assert.ok(existsSync(join(STATIC_DIR, 'index.html')),
    `${STATIC_DIR}/index.html is missing: run npm ci && npm run build in services/web/app`);
  webUrl = `http://127.0.0.1:${port}`;
  const portFile = join(work, 'web.port');
  const auth = AUTH === 'oidc'
    ? ['--oidc-issuer', issuer, '--oidc-client-id', 'vigil-web', '--public-url', webUrl]
    : ['--dev-sign-in'];
  const child = startProcess('vigil-web', VIGIL_WEB, [
    '--listen', `127.0.0.1:${port}`, '--port-file', portFile, '--vigild', vigildAddress,
    '--static-dir', STATIC_DIR, ...auth,
  ]);
  await waitFor('vigil-web', () => readIfExists(portFile).trim(), { child });
  await waitFor('vigil-web /auth/config', async () => {
    try {
      return (await fetch(`${webUrl}/auth/config`)).ok;
    } catch {
      return false;
    }
  }, { child });
}

// ---------------------------------------------------------------------------------------------
// The browser

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const cspViolations = [];
const pageErrors = [];

async function newUserPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return page;
}

// Sign in through the app's link and the provider's login form (or, in dev mode, the app's
// development form), then give the purpose.
async function signIn(page, who, role, rank, startHash) {
  await page.goto(`${webUrl}/${startHash}`);
  if (AUTH === 'oidc') {
    await page.getByRole('link', { name: 'Sign in with your force account' }).click();
    await page.waitForSelector('#login');
    await page.fill('#username', who.username);
    await page.fill('#password', who.password);
    await page.click('#submit');
    await page.waitForURL((url) => url.origin === webUrl && url.hash.startsWith(startHash));
  } else {
    await devSignIn(page, { actor: who.actor, role, force: FORCE, team: who.team, rank });
  }
  await page.waitForSelector('#purpose');
  if (who === OFFICER) await checkPage(page, 'purpose');
  await givePurpose(page, PURPOSE);
}

async function assertAccessible(page, name) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
  const violations = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
  }));
  assert.deepEqual(violations, [], `axe-core on ${name}: ${JSON.stringify(violations, null, 2)}`);
}

async function screenshots(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: join(ARTIFACTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(300); // layout and the chart's resize
  await assertAccessible(page, `${name} at 375 px`);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-375.png`), fullPage: true });
  await page.setViewportSize(size);
}

// Each page: accessible at 1280 px and 375 px, with screenshots of both.
async function checkPage(page, name) {
  await assertAccessible(page, name);
  await screenshots(page, name);
}

// ---------------------------------------------------------------------------------------------

const KIND_FLAG = {
  OBLIGATION_KIND_ARMS_ASSESSMENT: 'arms-assessment',
  OBLIGATION_KIND_RMP_REVIEW: 'rmp-review',
  OBLIGATION_KIND_HOME_VISIT: 'home-visit',
  OBLIGATION_KIND_NOTIFICATION: 'notification',
  OBLIGATION_KIND_REFERRAL_ACTION: 'referral-action',
  OBLIGATION_KIND_INTEL_REFRESH: 'intel-refresh',
  OBLIGATION_KIND_CSC_CHECK: 'csc-check',
  OBLIGATION_KIND_RMP_SIGN_OFF: 'rmp-sign-off',
  OBLIGATION_KIND_NOTIFICATION_REVIEW: 'notification-review',
};
const figures = {};

before(async () => {
  console.log(`# working directory ${work}; artifacts ${ARTIFACTS}`);
  for (const [name, path] of [['VIGILD', VIGILD], ['VIGIL_CLI', VIGIL_CLI], ['VIGIL_WEB', VIGIL_WEB]]) {
    assert.ok(existsSync(path), `${name}: ${path} does not exist (build it, or set ${name})`);
  }
  const webPort = await freePort();
  const jwksPath = AUTH === 'oidc' ? await startProvider(`http://127.0.0.1:${webPort}`) : '';
  await startVigild(jwksPath);
  // The demo force, loaded by the force's system client (client credentials, role system);
  // then today's snapshot for the trend.
  writeFileSync(join(ARTIFACTS, 'seed.log'),
    (await cli('wessex-ppu', ['demo', 'seed'], { json: false })) +
    (await cli('wessex-ppu', ['backlog', 'snapshot'], { json: false })));
  await startWeb(webPort);
  browser = await launchChromium(CHROMIUM);
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    for (const child of [...children].reverse()) await stopProcess(child).catch(() => {});
    killAllNow();
    console.log(`# screenshots and logs: ${ARTIFACTS}`);
    for (const [name, value] of Object.entries(figures)) console.log(`# ${name}: ${value}`);
    // The logs and screenshots stay (in ARTIFACTS_DIR); the store and the rest of the working
    // directory go.
    rmSync(process.env.ARTIFACTS_DIR ? work : join(work, 'data'), { recursive: true, force: true });
  }
});

describe('officer', () => {
  let page;
  let crossTeamOffender = '';
  const CROSS_TEAM_REASON = 'Covering for DC 200 on leave';

  test('signs in and sees the same work list as `vigil work`', async () => {
    page = await newUserPage();
    await signIn(page, OFFICER, 'officer', 'officer', '#/work');
    await page.waitForSelector('#work-summary');
    const shown = await page.$$eval('table.work', (tables) =>
      tables.map((t) => ({
        bucket: t.dataset.bucket,
        ids: [...t.querySelectorAll('tbody tr[data-obligation-id]')].map((r) => r.dataset.obligationId),
      })));
    // The same instant as the page's list, so that nothing moves between buckets in between.
    const asOf = await page.getAttribute('#work-summary', 'data-as-of');
    const expected = await cli('officer-cli', ['work', '--page-size', '100', '--as-of', asOf]);
    for (const bucket of ['WORK_BUCKET_OVERDUE', 'WORK_BUCKET_DUE_TODAY', 'WORK_BUCKET_DUE_SOON']) {
      const want = expected.items.filter((i) => i.bucket === bucket).map((i) => i.obligation.id);
      const got = shown.find((s) => s.bucket === bucket)?.ids ?? [];
      assert.deepEqual(got, want, `${bucket}: the page lists what ListMyWork returns, in its order`);
    }
    assert.ok(expected.items.length > 0, 'the demo gives DC 100 some work');
    // The names are shown, not ids, and why each is due.
    const first = expected.items[0];
    const row = page.locator(`tr[data-obligation-id="${first.obligation.id}"]`);
    await assert.doesNotReject(row.getByText(first.subject_display_name, { exact: true }).waitFor());
    await assert.doesNotReject(row.getByText(first.obligation.reason, { exact: false }).first().waitFor());
    await checkPage(page, 'officer-work');

    // The skip link is the first thing a keyboard reaches, and moves focus to the content.
    await page.goto('about:blank');
    await page.goto(`${webUrl}/#/work`);
    await page.waitForSelector('#work-summary');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to main content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  });

  test('opens an offender of their own caseload, with why each clock is due', async () => {
    const link = page.locator('table.work a[href^="#/offender/"]').first();
    const name = (await link.textContent()).trim();
    await link.click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    await page.getByRole('heading', { name: 'Open clocks' }).waitFor();
    await page.getByRole('columnheader', { name: 'Why is this due' }).first().waitFor();
    await checkPage(page, 'officer-offender');

    // Record a visit through the form.
    await page.getByRole('button', { name: 'Record a visit' }).click();
    await page.getByRole('heading', { name: 'Record a visit' }).waitFor();
    await checkPage(page, 'officer-record-visit');
    await page.getByRole('button', { name: 'Record the visit' }).click();
    await page.getByText(/^Visit recorded/).waitFor();
  });

  test("is refused another team's offender, and the page says so; a reason opens it", async () => {
    const south = await cli('wessex-admin', ['offender', 'list', '--team', 'south', '--page-size', '1']);
    const other = south.offenders[0];
    assert.ok(other, 'the demo has offenders in team south');
    await page.goto(`${webUrl}/#/offender/${encodeURIComponent(other.id)}`);
    const refusal = page.getByRole('alert').filter({ hasText: 'PERMISSION_DENIED' });
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /refused/i);
    assert.equal(await page.getByText(other.display_name, { exact: true }).count(), 0,
      'the refused offender’s name is not shown');
    await checkPage(page, 'officer-refused');

    // With a reason for access outside the team (X-Vigil-Cross-Team, audited), it opens.
    crossTeamOffender = other.id;
    await page.getByLabel('Reason for access outside your team').fill(CROSS_TEAM_REASON);
    await page.getByRole('button', { name: 'Open with this reason' }).click();
    await page.getByRole('heading', { level: 1, name: other.display_name }).waitFor();
    await page.getByRole('heading', { name: 'Open clocks' }).waitFor();
  });

  test('the purpose of access is recorded with every read the pages made', async () => {
    const records = [];
    let pageToken = '';
    for (let pages = 0; pages < 20; pages++) {
      const reply = await cli('wessex-admin', ['audit', 'list', '--actor', OFFICER.actor, '--page-size', '1000',
        ...(pageToken ? ['--page-token', pageToken] : [])]);
      records.push(...(reply.records || []));
      pageToken = reply.next_page_token;
      if (!pageToken) break;
    }
    const reads = records.filter((r) => /GetOffender|ListMyWork|ListVisits|RecordVisit/.test(r.rpc || ''));
    assert.ok(reads.length >= 3, `the officer's reads are audited: ${JSON.stringify(records.slice(0, 3))}`);
    for (const r of reads) assert.equal(r.purpose, PURPOSE, `${r.rpc} carries the purpose given in the browser`);
    const crossTeam = reads.filter((r) => (r.subject_ids || []).includes(crossTeamOffender) && r.cross_team_reason);
    assert.ok(crossTeam.length > 0, 'the read outside the team is audited');
    for (const r of crossTeam) assert.equal(r.cross_team_reason, CROSS_TEAM_REASON);
  });

  test('signing out returns to the sign-in page, and a signed-out page asks to sign in', async () => {
    await page.goto(`${webUrl}/#/work`);
    await page.waitForSelector('#work-summary');
    await page.getByRole('button', { name: 'Sign out' }).click();
    if (AUTH === 'oidc') {
      // The provider's session ends too (RP-initiated logout): it asks to confirm, then sends the
      // browser back to the app.
      await page.waitForURL((url) => url.href.startsWith(`${issuer}/session/end`));
      await page.click('#logout');
      await page.waitForURL(`${webUrl}/`);
    }
    await page.getByRole('heading', { level: 1, name: 'Sign in to vigil' }).waitFor();
    await page.goto('about:blank');
    await page.goto(`${webUrl}/#/offender/anything`);
    await page.getByRole('heading', { level: 1, name: 'Sign in to vigil' }).waitFor();
    const session = await page.evaluate(async () => (await fetch('/api/session')).status);
    assert.equal(session, 401);
    await checkPage(page, 'signed-out');
  });
});

// The heat map's non-zero cells, by kind|risk|band, checking each shows its number.
async function heatMapCells(page) {
  const cells = await page.$$eval('#heatmap td.heat', (tds) =>
    tds.map((td) => ({ key: `${td.dataset.kind}|${td.dataset.risk}|${td.dataset.band}`, count: Number(td.dataset.count), text: td.textContent.trim() })));
  for (const c of cells) assert.equal(c.text, String(c.count), `cell ${c.key} shows its number`);
  return Object.fromEntries(cells.filter((c) => c.count > 0).map((c) => [c.key, c.count]).sort());
}

// GetBacklogSummary's rows (as the CLI prints them) in the same shape.
function summaryCells(summary) {
  const want = new Map();
  for (const row of summary.rows) {
    const key = `${row.kind}|${row.risk_level}|${row.age_band}`;
    want.set(key, (want.get(key) || 0) + Number(row.count));
  }
  return Object.fromEntries([...want].sort());
}

describe('supervisor', () => {
  let page;

  test('signs in; the heat map shows GetBacklogSummary’s numbers', async () => {
    page = await newUserPage();
    await signIn(page, SUPERVISOR, 'supervisor', 'sergeant', '#/backlog');
    await page.waitForSelector('#heatmap');

    // First paint of the dashboard, a fresh load with a session and a purpose already in place.
    const paint = await timeDashboard(page, webUrl);
    figures['dashboard: heat map shown (ms)'] = paint.heatMapShown;
    figures['dashboard: first contentful paint (ms)'] = paint.firstContentfulPaint;

    const summary = await cli('supervisor-cli', ['backlog', '--as-of', await page.getAttribute('#heatmap', 'data-as-of')]);
    assert.deepEqual(await heatMapCells(page), summaryCells(summary),
      'every non-zero cell of the heat map equals GetBacklogSummary');
    assert.equal(await page.textContent('#heatmap-total'), String(summary.total));
    assert.equal(await page.textContent('#backlog-total'), String(summary.total));
    await checkPage(page, 'supervisor-backlog');

    // Printable: the navigation is left out of print, and the page prints (PDF kept).
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('nav.main-nav').isVisible(), false, 'no navigation in print');
    assert.equal(await page.locator('#heatmap').isVisible(), true);
    await page.pdf({ path: join(ARTIFACTS, 'supervisor-backlog.pdf'), format: 'A4', landscape: true, printBackground: true });
    await page.emulateMedia({ media: 'screen' });
  });

  test('a heat-map cell lists the right items, by name', async () => {
    const cell = await busiestCell(page);
    const asOf = await page.getAttribute('#heatmap', 'data-as-of');
    // The app lists a hundred to a page; the demo's cells are smaller, so the test asks for
    // pages of a third of the cell to follow the page tokens through it.
    const pageSize = Math.max(1, Math.ceil(cell.count / 3));
    await page.evaluate((n) => sessionStorage.setItem('vigil.cellPageSize', String(n)), pageSize);
    figures['drill-down: items listed (ms)'] = await timeDrillDown(page, cell);

    // The drill-down pages through the cell: every page's items, in order.
    const rowIds = () => page.$$eval('#drilldown-table tbody tr', (rows) => rows.map((r) => r.dataset.obligationId));
    const ids = await rowIds();
    assert.equal(ids.length, Math.min(cell.count, pageSize), 'the first page is full');
    const next = page.locator('#drilldown').getByRole('button', { name: 'Next page' });
    while ((await next.count()) > 0 && (await next.isEnabled())) {
      assert.ok(ids.length < cell.count, 'no page after the last of the cell’s items');
      const before = await page.textContent('#drilldown-count');
      const firstBefore = ids[ids.length - Math.min(ids.length, pageSize)];
      await next.click();
      // The count line changes with the page number at once; the rows only once the next page
      // has come: wait for both, or the rows read would still be the last page's.
      await page.waitForFunction(([text, first]) => {
        const row = document.querySelector('#drilldown-table tbody tr');
        return document.querySelector('#drilldown-count')?.textContent !== text &&
          !document.querySelector('#drilldown .loading') && row && row.dataset.obligationId !== first;
      }, [before, firstBefore]);
      ids.push(...await rowIds());
    }
    await page.evaluate(() => sessionStorage.removeItem('vigil.cellPageSize'));
    figures['drill-down: pages followed'] = Math.ceil(ids.length / pageSize);
    assert.ok(cell.count < 2 || figures['drill-down: pages followed'] >= 2, 'the page tokens were followed');
    const listed = [];
    let pageToken = '';
    do {
      const reply = await cli('supervisor-cli', ['backlog', 'items', '--kind', KIND_FLAG[cell.kind],
        '--risk', cell.risk, '--age-band', cell.band, '--as-of', asOf, '--page-size', '1000',
        ...(pageToken ? ['--page-token', pageToken] : [])]);
      listed.push(...reply.items);
      pageToken = reply.next_page_token;
    } while (pageToken);
    // The CLI asks for the cell by the same server-side filters; check it did not widen them.
    const want = listed.filter((i) => i.obligation.risk_level === cell.risk && i.age_band === cell.band);
    assert.equal(want.length, listed.length, 'ListBacklogItems filters by risk level and age band');
    assert.equal(ids.length, cell.count, 'the drill-down lists as many items as the cell counts');
    assert.deepEqual(ids, want.map((i) => i.obligation.id), 'the drill-down lists ListBacklogItems’ items');
    const lastName = want[want.length - 1].subject_display_name;
    assert.ok(lastName, 'items have subject names');
    // The page on show is the last: its last row is the cell's last item, by name.
    await page.locator('#drilldown-table tbody tr').last().getByText(lastName, { exact: true }).waitFor();
    await checkPage(page, 'supervisor-drilldown');
  });

  test('the team filter narrows the heat map as GetBacklogSummary does', async () => {
    await page.getByLabel('Team').fill('north');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText(/Backlog of force wessex, team north/).waitFor();
    const summary = await cli('supervisor-cli', ['backlog', '--team', 'north', '--as-of', await page.getAttribute('#heatmap', 'data-as-of')]);
    assert.deepEqual(await heatMapCells(page), summaryCells(summary), 'team north’s heat map');
    assert.equal(await page.textContent('#backlog-total'), String(summary.total));
  });

  test('the trend and the clearance forecast are shown with a data table', async () => {
    await page.getByRole('heading', { name: /^Trend and forecast/ }).waitFor();
    await page.waitForSelector('#trend-table', { state: 'attached' });
    assert.equal(await page.locator('canvas[role="img"]').count(), 1, 'the chart');
    // chart.js (a chunk of its own, loaded on demand) has drawn on the canvas.
    await page.waitForFunction(() => {
      const c = document.querySelector('canvas[role="img"]');
      return c && c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((x) => x !== 0);
    }, null, { timeout: 10000 });
  });

  test('acknowledges an alert; the CLI sees it, and the live event reaches the page', async () => {
    await page.goto(`${webUrl}/#/alerts`);
    await page.waitForSelector('#alerts-table');
    await checkPage(page, 'supervisor-alerts');
    // An alert the sergeant may take on (one that has not climbed above the sergeant), paging on
    // until one is listed.
    const row = page.locator('#alerts-table tr[data-alert-id]').filter({ has: page.getByRole('button', { name: /^Acknowledge/ }) }).first();
    for (let pages = 0; (await row.count()) === 0; pages++) {
      const next = page.getByRole('button', { name: 'Next page' });
      assert.ok(pages < 50 && (await next.count()) > 0 && (await next.isEnabled()), 'an alert a sergeant may acknowledge is listed');
      await next.click();
      await page.waitForSelector('#alerts-table');
      await page.waitForFunction(() => !document.querySelector('main .loading'));
    }
    const id = await row.getAttribute('data-alert-id');
    await row.getByRole('button', { name: /^Acknowledge/ }).click();
    const note = `Visit booked for Friday (browser test ${Date.now()})`;
    await page.getByLabel('What will be done').fill(note);
    await page.getByRole('button', { name: 'Acknowledge alert' }).click();
    await page.locator('#alert-notice').waitFor();

    const shown = await cli('supervisor-cli', ['alerts', 'show', id]);
    assert.equal(shown.state, 'ALERT_STATE_ACKNOWLEDGED');
    const last = shown.acknowledgements[shown.acknowledgements.length - 1];
    assert.equal(last.note, note);
    assert.equal(last.by, SUPERVISOR.actor);

    // The acknowledgement is an event on the alerts feed: the page's EventSource gets it.
    await page.locator('.toast').filter({ hasText: /acknowledged/i }).first().waitFor({ timeout: 20000 });
  });

  test('alerts listed riskiest first, as `vigil alerts list --order risk` lists them', async () => {
    await page.goto(`${webUrl}/#/alerts`);
    await page.waitForSelector('#alerts-table');
    await page.getByLabel('Order').selectOption({ label: 'Riskiest first' });
    await page.getByText(/on this page, riskiest first/).waitFor();
    const rows = await page.$$eval('#alerts-table tr[data-alert-id]', (trs) =>
      trs.map((tr) => ({ id: tr.dataset.alertId, risk: tr.dataset.risk })));
    const listed = await cli('supervisor-cli', ['alerts', 'list', '--order', 'risk', '--page-size', '100']);
    assert.ok(rows.length > 0, 'the demo has open alerts');
    assert.deepEqual(rows.map((r) => r.id), listed.alerts.map((a) => a.id),
      'the page lists ListAlerts’ riskiest-first page');
    const RANK = ['RISK_LEVEL_VERY_HIGH', 'RISK_LEVEL_HIGH', 'RISK_LEVEL_MEDIUM', 'RISK_LEVEL_LOW', 'RISK_LEVEL_UNSPECIFIED'];
    const ranks = rows.map((r) => RANK.indexOf(r.risk));
    assert.ok(ranks.every((r) => r >= 0), 'every row names its risk');
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), 'very high first, not assessed last');
    assert.ok(new Set(ranks).size > 1, 'the demo’s alerts span more than one risk level');
    await checkPage(page, 'supervisor-alerts-by-risk');
  });

  test('workload against capacity', async () => {
    await page.goto(`${webUrl}/#/workload`);
    await page.waitForSelector('#workload-table');
    const workload = await cli('supervisor-cli', ['backlog', 'workload']);
    assert.equal(await page.locator('#workload-table tbody tr').count(), workload.officers.length);
    await checkPage(page, 'supervisor-workload');
  });

  test('an offender past their notification period is shown out of active management', async () => {
    const expired = await cli('wessex-admin', ['offender', 'list', '--status', 'expired', '--page-size', '1']);
    const past = expired.offenders[0];
    assert.ok(past, 'the demo has offenders past their notification period');
    assert.equal((past.obligations || []).length, 0, 'an expired offender has no open clock');
    await page.goto(`${webUrl}/#/offender/${encodeURIComponent(past.id)}`);
    const ended = page.locator('#requirement-ended');
    await ended.waitFor();
    assert.match(await ended.textContent(), /notification period ended on \d{4}-\d{2}-\d{2}/);
    assert.ok((await ended.textContent()).includes(past.notification_ended_reason));
    await checkPage(page, 'supervisor-offender-expired');
  });

  test('a referral page with its refresh checklist', async () => {
    const referrals = await cli('wessex-admin', ['referral', 'list', '--page-size', '1']);
    const referral = referrals.referrals[0];
    assert.ok(referral, 'the demo has referrals');
    await page.goto(`${webUrl}/#/referral/${encodeURIComponent(referral.id)}`);
    await page.getByRole('heading', { name: 'Refresh checklist' }).waitFor();
    await checkPage(page, 'supervisor-referral');

    // Record a CSC check and an intelligence refresh from the checklist; the CLI sees both.
    await page.getByRole('button', { name: 'Record a CSC check' }).click();
    await page.getByLabel('What CSC said').fill('No open case; no children known (browser test)');
    await page.getByRole('button', { name: 'Record the check' }).click();
    await page.getByText('CSC check recorded.').waitFor();
    await page.getByRole('button', { name: 'Record an intelligence refresh' }).click();
    for (const id of ['cscRecord-text', 'householdChildrenRecord-text', 'regulatedActivityRecord-text', 'policeSystemsRecord-text']) {
      await page.fill(`#${id}`, 'Checked: nothing new (browser test)');
    }
    await page.getByLabel('Findings').fill('No change (browser test)');
    await checkPage(page, 'supervisor-referral-refresh-form');
    await page.getByRole('button', { name: 'Record the refresh' }).click();
    await page.getByText('Intelligence refresh recorded.').waitFor();
    const after = await cli('wessex-admin', ['referral', 'show', referral.id]);
    assert.equal(after.csc_check.result, 'No open case; no children known (browser test)');
    assert.equal(after.csc_check.checked_by, SUPERVISOR.actor);
    const refresh = after.refreshes[after.refreshes.length - 1];
    assert.equal(refresh.findings, 'No change (browser test)');
    assert.equal(refresh.refreshed_by, SUPERVISOR.actor);
  });

  test('no Content-Security-Policy violation and no script error on any page', () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});

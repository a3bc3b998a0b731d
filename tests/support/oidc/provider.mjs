// An OpenID provider for vigil's tests: oidc-provider (the certified implementation) on
// 127.0.0.1, issuing RS256 JWT access tokens for vigild (audience `vigil`) whose claims carry
// the identity configured per client (client-credentials grant) and per user (authorization-code
// grant with PKCE, logged in without a person). TEST INFRASTRUCTURE ONLY: the users' passwords
// sit in a JSON file, consent is granted without asking, and the keys live in memory.
//
//   node provider.mjs --config CONFIG.json [--port N] [--ready-file FILE]
//
// See README.md for the configuration and the endpoints.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// Claims the provider sets itself; a configured identity may not name them.
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'scope',
  'client_id', 'cnf', 'auth_time', 'acr', 'amr', 'authorization_details']);

function usage(message) {
  process.stderr.write(`provider.mjs: ${message}\n` +
    'usage: node provider.mjs --config CONFIG.json [--port N] [--ready-file FILE]\n');
  process.exit(2);
}

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(1);
}

function checkClaims(where, claims) {
  if (claims === undefined) return {};
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    fail(`${where}.claims: must be an object of claim names to values`);
  }
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) fail(`${where}.claims.${name}: set by the provider itself`);
  }
  return claims;
}

/** The configuration file, checked: every mistake names its place in the file. */
function loadConfig(file) {
  let config;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`${file}: ${err.message}`);
  }
  const clients = config.clients ?? [];
  const users = config.users ?? [];
  if (!Array.isArray(clients) || !Array.isArray(users)) fail(`${file}: clients and users are lists`);
  const usersByName = new Map();
  users.forEach((user, i) => {
    if (typeof user.username !== 'string' || !user.username) fail(`users[${i}].username: required`);
    if (usersByName.has(user.username)) fail(`users[${i}].username: '${user.username}' twice`);
    checkClaims(`users[${i}]`, user.claims);
    usersByName.set(user.username, user);
  });
  const clientClaims = new Map();
  const metadata = clients.map((client, i) => {
    const where = `clients[${i}]`;
    if (typeof client.client_id !== 'string' || !client.client_id) fail(`${where}.client_id: required`);
    const redirectUris = client.redirect_uris ?? [];
    const grantTypes = client.grant_types
      ?? (redirectUris.length ? ['authorization_code'] : ['client_credentials']);
    if (grantTypes.includes('client_credentials') && !client.client_secret) {
      fail(`${where}: the client-credentials grant needs a client_secret`);
    }
    if (grantTypes.includes('authorization_code') && !redirectUris.length) {
      fail(`${where}: the authorization-code grant needs redirect_uris`);
    }
    clientClaims.set(client.client_id, checkClaims(where, client.claims));
    return {
      client_id: client.client_id,
      ...(client.client_secret
        ? { client_secret: client.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
        : { token_endpoint_auth_method: 'none' }),
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: redirectUris,
      ...(client.post_logout_redirect_uris
        ? { post_logout_redirect_uris: client.post_logout_redirect_uris } : {}),
    };
  });
  if (config.autoLogin !== undefined && !usersByName.has(config.autoLogin)) {
    fail(`autoLogin: no user '${config.autoLogin}'`);
  }
  return {
    audience: config.audience ?? 'vigil',
    resource: config.resource ?? 'urn:vigil',
    accessTokenTtl: config.accessTokenTtlSeconds ?? 600,
    autoLogin: config.autoLogin,
    clients: metadata,
    clientClaims,
    users: usersByName,
  };
}

/** A fresh RS256 signing key as a private JWK, `kid` its RFC 7638 thumbprint. */
function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const thumbprint = crypto.createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');
  return { ...jwk, kid: thumbprint, alg: 'RS256', use: 'sig' };
}

function htmlEscape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(uid, clientId, error) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in (test provider)</title></head>
<body>
<h1>Sign in to ${htmlEscape(clientId)}</h1>
<p>vigil's test OpenID provider: test users only.</p>
${error ? `<p id="error" role="alert">${htmlEscape(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${htmlEscape(uid)}/login">
<label>Username <input id="username" name="username" autocomplete="username" autofocus></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button>
</form>
</body></html>`;
}

// The sign-in and consent steps (oidc-provider's devInteractions are off). Login: a user named
// by the request's login_hint, else the configured autoLogin, is signed in at once; otherwise a
// form asks for a configured username and password. Consent is granted for everything asked.
async function interaction(provider, config, req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'POST' && url.pathname.endsWith('/login')) {
    const form = await readForm(req);
    const user = config.users.get(form.get('username') ?? '');
    if (!user || (user.password !== undefined && user.password !== form.get('password'))) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage(uid, params.client_id, 'Unknown user or wrong password.'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.username } },
      { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'login') {
    const hinted = params.login_hint ?? config.autoLogin;
    if (hinted !== undefined && config.users.has(hinted)) {
      await provider.interactionFinished(req, res, { login: { accountId: hinted } },
        { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage(uid, params.client_id, hinted !== undefined ? `No test user '${hinted}'.` : ''));
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(501, { 'content-type': 'text/plain' });
  res.end(`prompt ${prompt.name} is not implemented by the test provider\n`);
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        config: { type: 'string' },
        port: { type: 'string', default: '0' },
        'ready-file': { type: 'string' },
      },
    }));
  } catch (err) {
    usage(err.message);
  }
  if (!args.config) usage('--config is required');
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port ${args.port}: not a port`);
  const config = loadConfig(args.config);

  // Listen first: the issuer names the port.
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  }).catch((err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
  const { port: boundPort } = server.address();
  const issuer = `http://127.0.0.1:${boundPort}`;

  const signingKey = newSigningKey();
  const resourceServer = {
    audience: config.audience,
    scope: 'vigil',
    accessTokenFormat: 'jwt',
    accessTokenTTL: config.accessTokenTtl,
    jwt: { sign: { alg: 'RS256' } },
  };
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'vigil'],
    responseTypes: ['code'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // RP-initiated logout (on by default; spelled out for the page it shows): the end-session
      // endpoint asks to confirm with oidc-provider's form (id="op.logoutForm", hidden fields
      // with its xsrf token) and a button id="logout" (logout=yes), then redirects to the
      // client's registered post_logout_redirect_uri.
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign out (test provider)</title></head>
<body>
<h1>Sign out of the test provider?</h1>
${form}
<button id="logout" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
</body></html>`;
        },
      },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // A client that names no resource gets tokens for vigild.
        defaultResource: () => config.resource,
        // The authorization code's resource carries over to the token request.
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== config.resource) {
            throw new errors.InvalidTarget(`unknown resource; this provider serves ${config.resource}`);
          }
          return resourceServer;
        },
      },
    },
    findAccount: (ctx, id) => {
      const user = config.users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...user.claims }) };
    },
    // The identity goes into every JWT access token: the user's claims for a person, the
    // client's for a machine (client credentials).
    extraTokenClaims: (ctx, token) => {
      if (token.accountId) return { ...(config.users.get(token.accountId)?.claims ?? {}) };
      return { ...(config.clientClaims.get(token.clientId) ?? {}) };
    },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    ttl: {
      AccessToken: config.accessTokenTtl,
      ClientCredentials: config.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 86400,
    },
    renderError: (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err.stack}\n`));
  provider.on('grant.error', (ctx, err) => process.stderr.write(`grant.error: ${err.message}` +
    `${err.error_description ? ` (${err.error_description})` : ''}\n`));

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/interaction/')) {
      interaction(provider, config, req, res, url).catch((err) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${err.message}\n`);
      });
      return;
    }
    callback(req, res);
  });

  const ready = JSON.stringify({ issuer, port: boundPort, pid: process.pid, kid: signingKey.kid });
  if (args['ready-file']) {
    const tmp = path.join(path.dirname(args['ready-file']), `.${path.basename(args['ready-file'])}.tmp`);
    fs.writeFileSync(tmp, `${ready}\n`);
    fs.renameSync(tmp, args['ready-file']);
  }
  process.stdout.write(`${ready}\n`);

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();

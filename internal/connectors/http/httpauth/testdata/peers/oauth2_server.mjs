// An OAuth 2.0 authorization server and a protected resource for Sluice's
// tests, made of oidc-provider (panva/node-oidc-provider, OpenID Certified):
// client authentication (client_secret_basic with RFC 6749 §2.3.1
// form-decoding, client_secret_post), client_credentials, authorization_code
// with PKCE S256 required, and refresh tokens that rotate on every use
// (a reused one is refused and revokes its grant).
//
// Usage: node oauth2_server.mjs CONFIG.json
//   CONFIG.json: {"clients": [oidc-provider client metadata...],
//                 "access_token_ttl": seconds}
//
// The only code of our own is glue: an interaction route that signs in
// "alice" and grants the requested scopes without a page (so the test can
// drive the authorization code flow headlessly), and GET /resource, which
// answers 200 with the token's client, account and scope when
// oidc-provider knows the bearer token and it is unexpired, 401 otherwise.
//
// It listens on 127.0.0.1 on a free port, prints the port on the first line
// of stdout and exits when stdin closes. oidc-provider is installed by
// .ci/run into node_modules beside this file.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ttl = config.access_token_ttl || 3600;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  scopes: ['openid', 'offline_access', 'read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: ttl,
    ClientCredentials: ttl,
    AuthorizationCode: 60,
    RefreshToken: 24 * 3600,
    Grant: 24 * 3600,
    Interaction: 600,
    Session: 600,
  },
  cookies: { keys: ['sluice-test-only-cookie-key'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: 'alice', clientId: details.params.client_id });
  if (details.params.scope) grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: 'alice' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function resource(req, res) {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
  let token;
  if (m) {
    token = (await provider.AccessToken.find(m[1])) || (await provider.ClientCredentials.find(m[1]));
  }
  if (!token || token.isExpired) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"', 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_token' }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ client_id: token.clientId, account: token.accountId || null, scope: token.scope || '' }));
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const done = (err) => {
    if (err) {
      process.stderr.write(`oauth2-server: ${req.method} ${req.url}: ${err.stack || err}\n`);
      if (!res.headersSent) { res.writeHead(500); }
      res.end();
    }
  };
  process.stderr.write(`oauth2-server: ${req.method} ${req.url.split('?')[0]}\n`);
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch(done);
  } else if (req.url.split('?')[0] === '/resource') {
    resource(req, res).catch(done);
  } else {
    callback(req, res);
  }
});
provider.on('server_error', (ctx, err) => process.stderr.write(`oauth2-server: server_error ${err.stack}\n`));
provider.on('grant.error', (ctx, err) => process.stderr.write(`oauth2-server: grant.error ${err.message} ${err.error_description || ''}\n`));

process.stdout.write(`${port}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));

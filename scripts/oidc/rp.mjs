// A relying party written with openid-client (OpenID Certified), signing a person in through
// the service's hosted sign-in page as an app would: discovery from the issuer, the
// authorization request with PKCE (S256), state and nonce, the page's forms posted as a browser
// posts them (its cookies kept, no script), the code redeemed with client_secret_basic, the ID
// token checked by the library (signature against the JWKS too: non-repudiation checks on),
// then a refresh.
//
// Usage: node rp.mjs <issuer> <client_id> <client_secret> <redirect_uri> <login> <password>
//        <post_logout_redirect_uri>
// Prints one JSON line: what the library accepted.
import * as client from 'openid-client';

const [issuer, clientId, clientSecret, redirectUri, login, password] = process.argv.slice(2);
const fail = (why) => {
  console.error(`openid-client: ${why}`);
  process.exit(1);
};

const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  { execute: [client.allowInsecureRequests] },
);
client.enableNonRepudiationChecks(config);

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});

// The browser: cookies kept by name, redirects not followed (the last one leads to the app).
const jar = new Map();
async function browse(target, init = {}) {
  const headers = { accept: 'text/html', ...(init.headers || {}) };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const r = await fetch(target, { ...init, headers, redirect: 'manual' });
  for (const set of r.headers.getSetCookie()) {
    const [pair] = set.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return r;
}
const unescape = (s) =>
  s.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>')
    .replaceAll('&#39;', "'").replaceAll('&amp;', '&');
function hiddenFields(html) {
  const form = html.split('<form')[1]?.split('</form>')[0];
  if (!form) fail(`no form on the page: ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const tag of form.split('<input').slice(1)) {
    if (!tag.includes('type="hidden"')) continue;
    const name = /\sname="([^"]*)"/.exec(tag)?.[1];
    const value = /\svalue="([^"]*)"/.exec(tag)?.[1] ?? '';
    if (name) fields.append(unescape(name), unescape(value));
  }
  return fields;
}

const page = await browse(url);
if (page.status !== 200) fail(`the sign-in page answered ${page.status}`);
const fields = hiddenFields(await page.text());
fields.append('login', login);
fields.append('password', password);
const posted = await browse(new URL('/oauth/authorize', issuer), {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: fields.toString(),
});
const location = posted.headers.get('location');
if (posted.status !== 303 || !location?.startsWith(redirectUri)) {
  fail(`the sign-in did not go back to the app: ${posted.status} ${location}`);
}

const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
// UserInfo, with the expected subject checked by the library.
const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);

// A code presented again: the library hears invalid_grant.
let replay = 'accepted';
try {
  await client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
} catch (e) {
  replay = e.error ?? e.code ?? String(e);
}

// RP-initiated logout: the browser to the end-session URL the library builds.
const [, postLogout] = process.argv.slice(7);
const ended = await browse(client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: postLogout,
  state: 'bye-state',
}));
const logout = `${ended.status} ${ended.headers.get('location')}`;

console.log(JSON.stringify({
  sub: claims.sub,
  iss: claims.iss,
  aud: claims.aud,
  nonce: claims.nonce,
  email: claims.email,
  preferred_username: claims.preferred_username,
  amr: claims.amr,
  auth_time: claims.auth_time,
  scope: tokens.scope,
  refreshed_scope: refreshed.scope,
  refreshed_id_token: Boolean(refreshed.id_token),
  userinfo_email: info.email,
  logout,
  replay,
}));

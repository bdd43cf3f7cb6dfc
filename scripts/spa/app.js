// A single-page app on its own origin signing a person in through the service's hosted page:
// the authorization code flow with PKCE (S256), state and nonce, as a public client; the code
// redeemed from the browser (CORS), the ID token's nonce checked, UserInfo read. What
// scripts/oidc_browser_test.py runs in Chromium. Its settings come from config.json, which the
// test writes: {"issuer", "client_id", "redirect_uri"}.
const config = await (await fetch('config.json')).json();
const meta = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
  .replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const show = (text, data) => {
  document.querySelector('#who').textContent = text;
  document.body.dataset.result = JSON.stringify(data);
};

const params = new URLSearchParams(location.search);
if (params.has('code') || params.has('error')) {
  const saved = JSON.parse(sessionStorage.getItem('pkce') || '{}');
  history.replaceState(null, '', location.pathname);
  if (params.get('state') !== saved.state) {
    show('The answer was not for this app.', { error: 'state' });
  } else if (params.has('error')) {
    show(`Not signed in: ${params.get('error')}`, { error: params.get('error') });
  } else {
    const r = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: config.redirect_uri,
        code_verifier: saved.verifier,
        client_id: config.client_id,
      }),
    });
    const tokens = await r.json();
    const part = tokens.id_token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    const claims = JSON.parse(atob(part));
    if (claims.nonce !== saved.nonce || claims.aud !== config.client_id) {
      show('The ID token was not for this sign-in.', { error: 'id_token' });
    } else {
      const info = await (await fetch(meta.userinfo_endpoint, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })).json();
      show(`Signed in as ${info.preferred_username}.`, {
        username: info.preferred_username, amr: claims.amr, scope: tokens.scope,
      });
    }
  }
}

document.querySelector('#signin').addEventListener('click', async () => {
  const verifier = random(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const state = random(16);
  const nonce = random(16);
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state, nonce }));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  });
  location.assign(url);
});
document.body.dataset.ready = 'yes';

// Passkeys on the hosted sign-in pages (served as /assets/passkey.js; the pages allow script
// from their own origin only, and run none inline).
//
// A page that offers passkeys holds a hidden section `#passkey` (its `data-options` the URL of
// POST /auth/passkey/options), a button `#passkey-button`, a status line `#passkey-status`, and
// a hidden form `#passkey-form` whose fields `credential` (and, for a sign-in, `passkey_token`)
// this script fills before posting it. Without WebAuthn, or without this script, the page is
// the password form it always was.
(function () {
  "use strict";
  var section = document.getElementById("passkey");
  var form = document.getElementById("passkey-form");
  if (!section || !form || !window.PublicKeyCredential ||
      typeof PublicKeyCredential.parseRequestOptionsFromJSON !== "function") {
    return;
  }
  var button = document.getElementById("passkey-button");
  var status = document.getElementById("passkey-status");
  var mfaToken = form.elements.mfa_token ? form.elements.mfa_token.value : null;
  // The request of the username field's autofill (conditional mediation), while it waits.
  var waiting = null;

  function options() {
    return fetch(section.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(mfaToken ? { mfa_token: mfaToken } : {}),
    }).then(function (r) {
      if (!r.ok) {
        throw new Error("options: " + r.status);
      }
      return r.json();
    });
  }

  function post(answer, credential) {
    if (form.elements.passkey_token && answer.passkey_token) {
      form.elements.passkey_token.value = answer.passkey_token;
    }
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  // One ceremony: new options, the browser's prompt (or its autofill), the form posted.
  function ceremony(mediation) {
    var controller = new AbortController();
    var done = options().then(function (answer) {
      var request = {
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(answer.publicKey),
        signal: controller.signal,
      };
      if (mediation) {
        request.mediation = mediation;
      }
      return navigator.credentials.get(request).then(function (credential) {
        if (credential) {
          post(answer, credential);
        }
      });
    });
    return { controller: controller, done: done };
  }

  section.hidden = false;
  button.addEventListener("click", function () {
    if (waiting) {
      waiting.abort();
      waiting = null;
    }
    status.textContent = "";
    ceremony(null).done.catch(function (e) {
      if (e && e.name === "AbortError") {
        return;
      }
      status.textContent = "No passkey was used. Try again, or use your " +
        (mfaToken ? "code." : "password.");
    });
  });

  // The sign-in page: passkeys offered in the username field's autofill too.
  if (!mfaToken && typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) {
        return;
      }
      var started = ceremony("conditional");
      waiting = started.controller;
      document.body.setAttribute("data-autofill", "waiting");
      started.done.catch(function () {
        // Aborted for the button, or refused: the button and the password still work.
      });
    });
  }
})();

// Passkeys on the hosted sign-in pages (served as /assets/passkey.js; the pages allow script
// from their own origin only, and run none inline).
//
// A sign-in page that offers passkeys holds a hidden section `#passkey` (its `data-options` the URL of
// POST /auth/passkey/options), a button `#passkey-button`, a status line `#passkey-status`, and
// a hidden form `#passkey-form` whose fields `credential` (and, for a sign-in, `passkey_token`)
// this script fills before posting it. Without WebAuthn, or without this script, the page is
// the password form it always was.
//
// The page of an account's passkeys holds a form `#passkey-add` (hidden until this script finds
// the browser able; its `data-options` the URL of POST /account/passkeys/options) whose
// `credential` field this script fills with the browser's new passkey before posting it, and a
// note `#passkey-unsupported` it hides.
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

(function () {
  "use strict";
  var add = document.getElementById("passkey-add");
  if (!add || !window.PublicKeyCredential ||
      typeof PublicKeyCredential.parseCreationOptionsFromJSON !== "function") {
    return;
  }
  var status = document.getElementById("passkey-status");
  var unsupported = document.getElementById("passkey-unsupported");
  var password = add.elements.password || null;
  var busy = false;

  // The creation options of this sign-in, with the password where the page asks for it.
  function options() {
    var fields = new URLSearchParams();
    fields.set("csrf", add.elements.csrf.value);
    if (password) {
      fields.set("password", password.value);
    }
    return fetch(add.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: fields.toString(),
    }).then(function (r) {
      return r.json().then(function (answer) {
        if (!r.ok) {
          throw new Error(answer.message || "The passkey could not be started.");
        }
        return answer;
      });
    });
  }

  if (unsupported) {
    unsupported.hidden = true;
  }
  add.hidden = false;
  // The form's own checks (a name, the password) run before this: then the options, the
  // browser's prompt, and the form posted with the credential (and never the password).
  add.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    status.textContent = "";
    options().then(function (answer) {
      return navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(answer.publicKey),
      });
    }).then(function (credential) {
      if (password) {
        password.disabled = true;
      }
      add.elements.credential.value = JSON.stringify(credential.toJSON());
      add.submit();
    }).catch(function (e) {
      busy = false;
      status.textContent = e && e.name === "NotAllowedError"
        ? "No passkey was made. Try again when your device is ready."
        : (e && e.message) || "No passkey was made.";
    });
  });
})();

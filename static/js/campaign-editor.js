/* Campaign editor, and every page that edits an email the same way (a workflow's email
 * step: its form carries data-email-editor-form).
 *
 * Test sends, scheduling and sending act on the saved campaign, so once the form has
 * unsaved changes the page says so beside them, and leaving the page asks first.
 * (The live preview needs no script of ours: htmx posts the form as it changes; with the
 * email builder, the form's hidden `design` input carries the blocks and the builder fires
 * `input` on it after every change.)
 */
(() => {
  "use strict";

  const form = document.getElementById("campaign-form") || document.querySelector("[data-email-editor-form]");
  if (!form) return;

  const notes = document.querySelectorAll("[data-dirty-note]");
  let dirty = false;
  let submitting = false;

  // The builder, when the campaign is a design (templates/_email_builder.html).
  const host = form.querySelector("[data-email-builder]");
  if (host && window.EmailBuilder) {
    const input = document.getElementById(host.dataset.input);
    const config = JSON.parse(document.getElementById(host.dataset.config).textContent);
    let design = null;
    try {
      design = JSON.parse(input.value || "null");
    } catch (_) {
      design = null; // unreadable: the builder starts empty and the error above says why
    }
    window.EmailBuilder.mount(host.querySelector("[data-eb-root]"), {
      ...config, design, input,
      csrfToken: form.querySelector("input[name=csrf_token]").value,
    });
  }

  form.addEventListener("input", () => {
    if (dirty) return;
    dirty = true;
    for (const note of notes) note.hidden = false;
  });
  form.addEventListener("submit", () => {
    submitting = true;
  });
  // Converting to HTML leaves the page on purpose, once its confirmation said yes.
  document.getElementById("convert-html-form")?.addEventListener("submit", (event) => {
    if (!event.defaultPrevented) submitting = true;
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty && !submitting) event.preventDefault();
  });
})();

/* Campaign editor.
 *
 * Test sends, scheduling and sending act on the saved campaign, so once the form has
 * unsaved changes the page says so beside them, and leaving the page asks first.
 * (The live preview needs no script of ours: htmx posts the form as it changes.)
 */
(() => {
  "use strict";

  const form = document.getElementById("campaign-form");
  if (!form) return;

  const notes = document.querySelectorAll("[data-dirty-note]");
  let dirty = false;
  let submitting = false;

  form.addEventListener("input", () => {
    if (dirty) return;
    dirty = true;
    for (const note of notes) note.hidden = false;
  });
  form.addEventListener("submit", () => {
    submitting = true;
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty && !submitting) event.preventDefault();
  });
})();

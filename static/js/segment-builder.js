/* The segment page's builder: mounts the condition rows (static/js/segment-builder/) on the
 * JSON definition in the form's hidden `conditions` input, writes every edit back into it,
 * and keeps two counts up to date:
 *
 * - the live preview (htmx, on `segment-change`, debounced there): the total and a sample.
 *   A new row that is not finished yet is not sent: the preview keeps its last count and
 *   says "(finish the new row to update)". A finished row the server refuses comes back as
 *   422 with the error's field path, shown beside that row.
 * - what each top-level condition keeps on its own, one request for all of them
 *   (segments.condition_counts, JSON), shown as "keeps 3,210" on the rows.
 */
(() => {
  "use strict";

  const form = document.getElementById("segment-form");
  const mount = document.getElementById("segment-builder");
  if (!form || !mount || !window.SegmentBuilder) return;

  const parts = window.SegmentBuilderParts;
  const schema = JSON.parse(document.getElementById("condition-schema").textContent);
  const hidden = document.getElementById("segment-conditions");
  const rootMatch = form.elements.namedItem("match");
  const preview = document.getElementById("segment-preview");
  const countsUrl = mount.dataset.countsUrl;
  const STALE = "(finish the new row to update)";

  function readDefinition(text) {
    try {
      const parsed = JSON.parse(text || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  const builder = window.SegmentBuilder.mount(mount, {
    schema, conditions: readDefinition(hidden.value), matchInput: rootMatch, onChange: changed, counts: Boolean(countsUrl),
  });

  function changed() {
    hidden.value = JSON.stringify(builder.definition());
    if (builder.unfinished()) markStale();
    else form.dispatchEvent(new CustomEvent("segment-change", { bubbles: true }));
    scheduleCounts();
  }

  // --- the preview: keep the last count while a new row is unfinished ----------------------

  function markStale() {
    if (preview.querySelector("[data-testid=preview-stale]")) return;
    const counted = preview.querySelector(".preview-ok .preview-count");
    if (counted) {
      counted.append(parts.el("span", { className: "preview-stale", "data-testid": "preview-stale", text: STALE }));
      return;
    }
    const note = preview.querySelector(".preview-note");
    const stale = parts.el("p", { className: "preview-note", "data-testid": "preview-stale",
                                  text: "Finish the new row to see how many customers match." });
    if (note) note.replaceWith(stale);
    else preview.append(stale);
  }

  // A change sent just before a new row was added must not send that row (its 422 is no error).
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt === preview && builder.unfinished()) {
      event.preventDefault();
      markStale();
    }
  });

  // The preview answers 422 with the error's field path: swap it in anyway, then place it.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === preview && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== preview) return;
    const error = preview.querySelector("[data-error-field]");
    if (error) builder.showError(error.dataset.errorField, error.dataset.errorMessage);
    else builder.clearErrors();
    const saveError = document.getElementById("definition-error");
    if (saveError && !error) saveError.hidden = true;
    if (builder.unfinished()) markStale();
  });

  // --- what each top-level condition keeps ---------------------------------------------------

  let countsTimer = null;
  let countsRequest = null;

  function scheduleCounts() {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(fetchCounts, 400);
  }

  async function fetchCounts() {
    const items = builder.finishedItems();
    if (countsRequest) countsRequest.abort();
    if (!countsUrl || !items.length) {
      builder.setCounts(new Map());
      return;
    }
    const request = (countsRequest = new AbortController());
    const body = new URLSearchParams({ conditions: JSON.stringify(items), match: rootMatch.value });
    try {
      const response = await fetch(countsUrl, {
        method: "POST", body, signal: request.signal, credentials: "same-origin",
        headers: { "X-CSRFToken": parts.csrfToken(), Accept: "application/json" },
      });
      const answer = await response.json();
      if (request !== countsRequest) return;
      // A refused definition is shown by the preview, beside its row: no counts meanwhile.
      const counts = response.ok && Array.isArray(answer.counts) ? answer.counts : null;
      builder.setCounts(counts ? new Map(items.map((item, i) => [item, counts[i]])) : new Map());
    } catch (error) {
      if (error.name !== "AbortError") builder.setCounts(new Map());
    }
  }

  hidden.value = JSON.stringify(builder.definition());  // what the rows show is what gets saved
  scheduleCounts();
  const saveError = document.getElementById("definition-error");
  if (saveError) builder.showError(saveError.dataset.errorField, saveError.dataset.errorMessage);
})();

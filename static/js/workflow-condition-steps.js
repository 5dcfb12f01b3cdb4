/* A workflow's condition steps, edited with the segment builder's condition rows
 * (static/js/segment-builder/, the same modules and the same condition schema as the
 * segment page). Each step's rows write the list, as JSON, into the step form's hidden
 * `conditions` input; the step's own "Customers who match" select is the top-level match.
 * The step list is replaced by htmx after every save, so new lists are mounted on load.
 * A refused save names the field path (`conditions[1].value`): shown beside that row.
 */
(() => {
  "use strict";

  function readDefinition(text) {
    try {
      const parsed = JSON.parse(text || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  function mountAll(root) {
    const schemaNode = document.getElementById("condition-schema");
    if (!schemaNode || !window.SegmentBuilder || !root.querySelectorAll) return;
    const schema = JSON.parse(schemaNode.textContent);
    for (const host of root.querySelectorAll("[data-condition-builder]")) {
      if (host.dataset.mounted) continue;
      const hidden = document.getElementById(host.dataset.input);
      const match = document.getElementById(host.dataset.match);
      if (!hidden || !match) continue;
      host.dataset.mounted = "true";
      const builder = window.SegmentBuilder.mount(host, {
        schema, conditions: readDefinition(hidden.value), matchInput: match,
        onChange: () => { hidden.value = JSON.stringify(builder.definition()); },
      });
      hidden.value = JSON.stringify(builder.definition());  // what the rows show is what gets saved
      if (host.dataset.errorField) {
        builder.showError(host.dataset.errorField, host.dataset.errorMessage || "");
        // The message now sits beside its row; the copy under the rows is for pages without script.
        const copy = host.parentElement.querySelector(":scope > .field-error");
        if (copy) copy.hidden = true;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    mountAll(document);
    htmx.onLoad(mountAll);
  });
})();

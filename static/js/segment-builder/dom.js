/* Segment builder: small DOM helpers shared by its modules (window.SegmentBuilderParts).
 *
 * The DOM is built with createElement and textContent only: tags, event names and other
 * values typed by anyone are never parsed as HTML.
 */
(() => {
  "use strict";

  const parts = (window.SegmentBuilderParts = window.SegmentBuilderParts || {});

  parts.el = function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  };

  parts.selectBox = function selectBox(options, value, attrs) {
    const select = parts.el("select", attrs);
    const known = options.some((o) => o.value === value);
    if (!known && value !== undefined && value !== null) {
      options = [{ value: String(value), label: String(value) }, ...options];
    }
    for (const option of options) select.append(parts.el("option", { value: option.value, text: option.label }));
    if (value !== undefined && value !== null) select.value = String(value);
    return select;
  };

  parts.words = (text) => parts.el("span", { className: "cond-words", text });

  parts.isGroup = (item) => item !== null && typeof item === "object" && Array.isArray(item.conditions);

  /** 1234 -> "1,234", as the server formats counts. */
  parts.formatCount = (n) => Number(n).toLocaleString("en-US");

  /** The CSRF token htmx sends (from <body hx-headers>), for the builder's own fetches. */
  parts.csrfToken = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch {
      return "";
    }
  };
})();

// A table or chart wider than its card scrolls inside it (phones). A keyboard can scroll it only if the
// box takes the focus: each box that overflows becomes a focusable, named region; one that
// fits is left alone (no useless tab stop). Checked on load, after htmx swaps and on resize.
(() => {
  // Boxes styled to scroll sideways (app.css); a new one joins here or carries data-scrolls.
  const SELECTOR = ".table-scroll, .table-card, .chart-figure, [data-scrolls]";

  const nameOf = (box) => {
    const caption = box.querySelector("caption, figcaption");
    if (caption) return caption.textContent.trim();
    const section = box.closest("section, .card");
    const heading = section && section.querySelector("h2, h3");
    if (heading) return heading.textContent.trim();
    const title = document.querySelector("main h1");
    return title ? title.textContent.trim() : "Table";
  };

  const mark = () => {
    for (const box of document.querySelectorAll(SELECTOR)) {
      const overflows = box.scrollWidth > box.clientWidth + 1;
      if (overflows && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", `${nameOf(box)} (scrolls sideways)`);
        box.dataset.scrollRegion = "";
      } else if (!overflows && "scrollRegion" in box.dataset) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.scrollRegion;
      }
    }
  };

  let pending = 0;
  const soon = () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(mark);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark);
  else mark();
  document.addEventListener("htmx:afterSettle", soon);
  window.addEventListener("resize", soon);
})();

// The builder's step list, reordered by dragging a step by its handle or from the keyboard
// (the Move up / Move down buttons, or Alt+ArrowUp / Alt+ArrowDown on a focused handle).
// Either way the list fires "end", on which htmx posts the new order (hx-trigger="end") and
// swaps in the saved list, so the order on screen is the order in the database. A keyboard
// move is announced ("Step 3 moved to position 2") and keeps the focus on the moved step.
(function () {
  var pendingFocus = null;  // {stepId, selector} to focus once the saved list is swapped in

  function init(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("ol.steps.sortable").forEach(function (list) {
      if (list._sortable) return;
      list._sortable = new Sortable(list, {
        // Each path is its own list and group: a step is dragged by its own list's handle
        // (not a handle of a path nested inside it) and stays on its path.
        group: list.id,
        handle: '.drag-handle[data-list="' + list.id + '"]',
        animation: 150,
        // Mouse events rather than HTML5 drag and drop: works the same in every browser.
        forceFallback: true,
        onEnd: function () { list._sortable.option("disabled", true); }
      });
    });
  }

  function announce(text) {
    var region = document.getElementById("steps-announcer");
    if (!region) return;
    region.textContent = "";
    // A fresh text node after a tick: screen readers announce a change, even of the same words.
    setTimeout(function () { region.textContent = text; }, 50);
  }

  /** Move a step one place up (-1) or down (+1), then save the order as a drag does. */
  function move(item, by, selector) {
    var list = item.parentElement;
    if (!list || list.classList.contains("htmx-request")) return;
    var items = Array.prototype.slice.call(list.querySelectorAll(":scope > li.step"));
    var from = items.indexOf(item);
    var to = from + by;
    if (from < 0 || to < 0 || to >= items.length) return;
    if (by < 0) list.insertBefore(item, items[to]);
    else list.insertBefore(item, items[to].nextSibling);
    pendingFocus = { stepId: item.dataset.stepId, selector: selector };
    announce("Step " + (from + 1) + " moved to position " + (to + 1));
    if (list._sortable) list._sortable.option("disabled", true);
    htmx.trigger(list, "end");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("ol.steps [data-move]");
    if (!button || button.disabled) return;
    move(button.closest("li.step"), button.dataset.move === "up" ? -1 : 1,
         '[data-move="' + button.dataset.move + '"]');
  });

  document.addEventListener("keydown", function (event) {
    var handle = event.target.closest && event.target.closest("ol.steps [data-move-handle]");
    if (!handle || !event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    move(handle.closest("li.step"), event.key === "ArrowUp" ? -1 : 1, "[data-move-handle]");
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!pendingFocus) return;
    var item = document.querySelector('ol.steps li.step[data-step-id="' + pendingFocus.stepId + '"]');
    if (item) {
      var target = item.querySelector(pendingFocus.selector);
      if (!target || target.disabled) target = item.querySelector("[data-move-handle]");
      if (target) target.focus();
    }
    pendingFocus = null;
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    htmx.onLoad(init);
  });
})();

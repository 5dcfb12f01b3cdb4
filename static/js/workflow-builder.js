// The builder's step list: drag a step by its handle to reorder it. SortableJS fires an
// "end" event on the list, on which htmx posts the new order (hx-trigger="end") and
// swaps in the saved list, so the order on screen is the order in the database.
(function () {
  function init(root) {
    root.querySelectorAll("ol.steps.sortable").forEach(function (list) {
      if (list._sortable) return;
      list._sortable = new Sortable(list, {
        handle: ".drag-handle",
        animation: 150,
        // Mouse events rather than HTML5 drag and drop: works the same in every browser.
        forceFallback: true,
        onEnd: function () { list._sortable.option("disabled", true); }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    htmx.onLoad(init);
  });
})();

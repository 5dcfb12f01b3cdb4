// On a phone the top bar's links and the user menu fold behind the Menu button. Folding is
// switched on here, so that without JavaScript the navigation simply stays open.
(() => {
  const bar = document.querySelector("[data-nav]");
  const button = bar && bar.querySelector(".nav-toggle");
  if (!button) return;
  const setOpen = (open) => {
    bar.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", String(open));
  };
  bar.classList.add("nav-folds");
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && bar.classList.contains("nav-open")) {
      setOpen(false);
      button.focus();
    }
  });
})();

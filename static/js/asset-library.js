// The image library: "Copy link" puts an image's public address on the clipboard, for
// campaigns written in HTML.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-url]");
  if (!button) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(button.dataset.copyUrl);
    button.textContent = "Copied";
  } catch {
    window.prompt("Copy this link:", button.dataset.copyUrl);
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});

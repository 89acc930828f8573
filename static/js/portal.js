// MLOps Portal: the little behaviour pages need, without a framework.
// - [data-poll-url]: refresh an element's content from a server fragment until the fragment
//   contains [data-poll-done]. Polls send X-Portal-Poll so they do not keep a session alive.
// - form[data-confirm]: ask before a destructive action.
// - button[data-copy-target]: copy an element's text to the clipboard.
"use strict";

function startPolling(element) {
  const url = element.dataset.pollUrl;
  const interval = Number(element.dataset.pollInterval || 2000);
  if (element.querySelector("[data-poll-done]")) return;
  const timer = window.setInterval(async () => {
    try {
      const response = await fetch(url, {
        headers: { "X-Portal-Poll": "1" },
        credentials: "same-origin",
      });
      if (response.redirected || response.status === 401 || response.status === 403) {
        window.clearInterval(timer);  // signed out meanwhile: stop quietly
        return;
      }
      if (!response.ok) return;  // a blip: try again at the next tick
      element.innerHTML = await response.text();
      if (element.querySelector("[data-poll-done]")) {
        window.clearInterval(timer);
        element.dispatchEvent(new CustomEvent("portal:poll-done", { bubbles: true }));
      }
    } catch (error) {
      // Network hiccup: keep polling.
    }
  }, interval);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll-url]").forEach(startPolling);

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copyTarget);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch (error) {
      window.getSelection().selectAllChildren(source);
      button.textContent = "Press Ctrl+C";
    }
  });
});

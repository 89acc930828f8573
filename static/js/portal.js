// MLOps Portal: the little behaviour pages need, without a framework.
// - [data-poll-url]: refresh an element's content from a server fragment until the fragment
//   contains [data-poll-done]. Polls send X-Portal-Poll so they do not keep a session alive,
//   and pause once the user submits a form, so a reload never cancels what they sent.
// - [data-plotly]: draw the Plotly figure held in the JSON script element it names.
// - form[data-confirm], button[data-confirm]: ask before a destructive or governed action, in
//   the portal's own dialog (#confirm-dialog in base.html), which also lists the choices made in
//   the form (the verdict, the environment, the reason), so the person sees what will happen.
// - .menu-toggle: opens and closes the header's menu on narrow screens.
// - the portal_tz cookie: the browser's time zone, so pages show times in the reader's zone.
// - button[data-copy-target]: copy an element's text to the clipboard.
// - form[data-upload-api]: send a file upload to the API with a progress bar; the form still
//   posts normally where this script does not run.
"use strict";

// Runs before the body is drawn (the script is not deferred): the phone menu starts closed.
document.documentElement.classList.add("js");

(function rememberTimeZone() {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    return;
  }
  if (!zone || document.cookie.split("; ").includes(`portal_tz=${encodeURIComponent(zone)}`)) return;
  document.cookie = `portal_tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
})();

// The choices a form carries, as [label, value] pairs, for the confirmation dialog.
function choicesOf(form) {
  const pairs = [];
  const text = (element) => (element?.textContent || "").replace("(required)", "").trim().replace(/:$/, "");
  for (const field of form.elements) {
    if (!field.name || field.disabled || ["hidden", "submit", "button", "file", "password"].includes(field.type)) continue;
    if ((field.type === "radio" || field.type === "checkbox") && !field.checked) continue;
    let label = text(field.labels?.[0]);
    let value = field.tagName === "SELECT" ? text(field.selectedOptions[0]) : field.value.trim();
    if (field.type === "radio") {
      // Django draws a radio group as a label for the group, then one label per choice.
      value = label;
      const group = field.closest("fieldset")?.querySelector("legend")
        || [...(field.closest("div:has(> label)")?.parentElement?.closest("div")?.children || [])].find((c) => c.tagName === "LABEL");
      label = text(group) || field.name;
    }
    if (!label || !value) continue;
    pairs.push([label, value.length > 240 ? `${value.slice(0, 240)}…` : value]);
  }
  return pairs;
}

// Ask in the portal's dialog; resolves true when the person confirms.
function askToConfirm(question, form, submitter) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(question));
  dialog.querySelector("#confirm-question").textContent = question;
  const details = dialog.querySelector("#confirm-details");
  details.replaceChildren();
  for (const [label, value] of choicesOf(form)) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    details.append(dt, dd);
  }
  details.hidden = !details.childElementCount;
  const confirmButton = dialog.querySelector("button[value=confirm]");
  confirmButton.textContent = (submitter?.textContent || "").trim() || "Confirm";
  confirmButton.className = submitter?.classList.contains("danger") ? "danger" : "primary";
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener("close", onClose);
      dialog.removeEventListener("click", onClick);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onClose = () => done(false);  // Escape
    const onClick = (event) => {
      const button = event.target.closest("button");
      if (button) done(button.value === "confirm");
    };
    dialog.addEventListener("close", onClose);
    dialog.addEventListener("click", onClick);
    dialog.showModal();
  });
}

// Set when the user submits a form that leaves the page: polls pause, as a reload then would
// cancel the submission and the user's action would be lost. Cleared if the browser brings the
// page back from its cache, where the paused polls resume.
let leaving = false;

// One poll of an element's fragment; true when polling it should stop.
async function refresh(element) {
  const response = await fetch(element.dataset.pollUrl, {
    headers: { "X-Portal-Poll": "1" },
    credentials: "same-origin",
  });
  if (response.redirected || response.status === 401 || response.status === 403) {
    return true;  // signed out meanwhile: stop quietly
  }
  if (!response.ok) return false;  // a blip: try again at the next tick
  const fragment = await response.text();
  if (leaving) return false;
  element.innerHTML = fragment;
  if (!element.querySelector("[data-poll-done]")) return false;
  // A section that shows a result when its work ends (a validation report) reloads.
  if (element.hasAttribute("data-poll-reload")) window.location.reload();
  return true;
}

function startPolling(element) {
  const interval = Number(element.dataset.pollInterval || 2000);
  if (element.querySelector("[data-poll-done]")) return;
  // One request at a time: the next is scheduled when this one has answered, so a slow server
  // never sees overlapping polls, nor the page two reloads.
  const tick = async () => {
    let stop = false;
    if (!leaving) {
      try {
        stop = await refresh(element);
      } catch (error) {
        // Network hiccup: keep polling.
      }
    }
    if (!stop) window.setTimeout(tick, interval);
  };
  window.setTimeout(tick, interval);
}

function uploadWithProgress(form) {
  const bar = form.querySelector("[data-upload-progress]");
  const progress = bar.querySelector("progress");
  const percent = bar.querySelector("[data-upload-percent]");
  const error = form.querySelector("[data-upload-error]");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.dataset.uploadApi);
    request.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (progressEvent) => {
      if (!progressEvent.lengthComputable) return;
      const done = Math.round((100 * progressEvent.loaded) / progressEvent.total);
      progress.value = done;
      percent.textContent = done < 100 ? `${done}%` : "Checking the files…";
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (parseError) { /* not JSON */ }
      if (request.status === 201 && body.web_url) {
        window.location.assign(body.web_url);
        return;
      }
      fail(body.detail || `The upload failed (HTTP ${request.status}).`);
    });
    request.addEventListener("error", () => fail("The connection broke during the upload; nothing was saved. Try again."));
    error.hidden = true;
    bar.hidden = false;
    button.disabled = true;
    request.send(new FormData(form));
  });
  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    bar.hidden = true;
    button.disabled = false;
    error.focus();
  }
}

function drawCharts() {
  if (typeof window.Plotly === "undefined") return;
  document.querySelectorAll("[data-plotly]").forEach((element) => {
    const figure = JSON.parse(document.getElementById(element.dataset.plotly).textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, { displaylogo: false, responsive: true });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  document.querySelectorAll("[data-poll-url]").forEach(startPolling);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) leaving = false;
  });
  document.querySelectorAll("form[data-upload-api]").forEach(uploadWithProgress);

  document.querySelectorAll(".menu-toggle").forEach((button) => {
    button.addEventListener("click", () => {
      const open = button.closest(".topbar").classList.toggle("open");
      button.setAttribute("aria-expanded", String(open));
    });
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    // A form with several buttons (promote, stop) asks each button's own question.
    const question = event.submitter?.dataset.confirm || (form instanceof HTMLFormElement && form.dataset.confirm);
    if (question && form.dataset.confirmed !== "yes") {
      event.preventDefault();
      const submitter = event.submitter;
      askToConfirm(question, form, submitter).then((confirmed) => {
        if (!confirmed) {
          submitter?.focus();
          return;
        }
        form.dataset.confirmed = "yes";
        // requestSubmit sends the same button's name and value, and runs this listener again.
        form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
        delete form.dataset.confirmed;
      });
      return;
    }
    // An upload sent by script prevents the default and stays on the page; polls go on.
    if (!event.defaultPrevented) leaving = true;
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

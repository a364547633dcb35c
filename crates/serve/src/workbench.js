// The workbench's one script. It sends JSON to the API and writes answers as text, never as
// markup: nothing from a log or an analyst is ever parsed as HTML here.
"use strict";

const $ = (selector) => document.querySelector(selector);
const author = () => localStorage.getItem("sleuth-author") || undefined;

function say(text) {
  const status = $("#status");
  if (status) status.textContent = text;
}

async function send(method, url, body) {
  const answer = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await answer.json();
  } catch (_) {
    data = null;
  }
  if (!answer.ok) throw new Error((data && data.error && data.error.message) || "HTTP " + answer.status);
  return data;
}

// The server's limit on a request that carries an alert (MAX_ALERT_BODY_BYTES), less room
// for the wrapping.
const MAX_ALERT_BYTES = 8 * 1024 * 1024 - 4096;

// An alert export: one JSON document, or JSON lines (a document a line) taken as a list.
function alertJson(text) {
  text = text.replace(/^\uFEFF/, "");
  try {
    return JSON.parse(text);
  } catch (whole) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    try {
      return lines.map((l) => JSON.parse(l));
    } catch (_) {
      throw new Error("the alert file is not JSON: " + whole.message);
    }
  }
}

function investigation(id) {
  location.href = "/investigations/" + encodeURIComponent(id);
}

function results(answer) {
  const out = $("#results");
  out.replaceChildren();
  const rows = answer.rows || [];
  const note = document.createElement("p");
  note.textContent = rows.length + " rows" + (answer.truncated ? " (the first " + answer.max_rows + ")" : "");
  out.append(note);
  if (rows.length === 0) return;
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  const names = Object.keys(rows[0]);
  for (const name of names) head.insertCell().textContent = name;
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const name of names) {
      const value = row[name];
      tr.insertCell().textContent = value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
    }
  }
  out.append(table);
}

document.addEventListener("DOMContentLoaded", () => {
  const name = $("#author");
  if (name) {
    name.value = author() || "";
    name.addEventListener("change", () => localStorage.setItem("sleuth-author", name.value.trim()));
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    event.preventDefault();
    try {
      if (button.dataset.action === "rehunt") {
        say("Hunting…");
        await send("POST", "/api/hunt", {});
        location.reload();
      } else if (button.dataset.action === "investigate-incident") {
        say("Investigating…");
        const report = await send("POST", "/api/investigations", { incident: button.dataset.id, author: author() });
        investigation(report.id);
      }
    } catch (e) {
      say(e.message);
    }
  });

  document.addEventListener("change", async (event) => {
    const select = event.target.closest("select[data-action=incident-status]");
    if (!select) return;
    try {
      await send("POST", "/api/incidents/" + encodeURIComponent(select.dataset.id), { status: select.value, author: author() });
      say("Saved.");
    } catch (e) {
      say(e.message);
    }
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    const value = (field) => (form.elements[field] ? form.elements[field].value : "");
    const holder = form.closest("[data-id]");
    const base = holder ? "/api/investigations/" + encodeURIComponent(holder.dataset.id) : "";
    try {
      switch (form.dataset.action) {
        case "investigate-alert": {
          const file = form.elements.alert.files[0];
          if (!file) break;
          if (file.size > MAX_ALERT_BYTES) throw new Error(file.name + " is larger than an alert export (" + MAX_ALERT_BYTES + " bytes at most)");
          say("Investigating the alert…");
          const report = await send("POST", "/api/investigations", { alert: alertJson(await file.text()), author: author() });
          investigation(report.id);
          break;
        }
        case "investigate-user": {
          say("Investigating…");
          const report = await send("POST", "/api/investigations", { user: value("user").trim(), author: author() });
          investigation(report.id);
          break;
        }
        case "note":
          await send("POST", base + "/notes", { text: value("text"), author: author() });
          location.reload();
          break;
        case "verdict":
          await send("POST", base + "/verdict", { verdict: value("verdict"), reason: value("reason"), author: author() });
          location.reload();
          break;
        case "case": {
          const tags = value("tags").split(",").map((t) => t.trim()).filter(Boolean);
          await send("POST", base + "/case", { status: value("status"), assignee: value("assignee").trim() || null, tags, author: author() });
          location.reload();
          break;
        }
        case "sql":
          say("Running…");
          results(await send("POST", "/api/sql", { sql: value("sql") }));
          say("");
          break;
        case "login":
          await send("POST", "/api/session", { token: value("token") });
          location.href = "/";
          break;
      }
    } catch (e) {
      say(e.message);
    }
  });
});

// The operator dashboard: polls /admin/overview and draws it. Every value is set with textContent, never
// as HTML: error types and request ids come from functions' runtimes, which are untrusted. The browser sends
// the admin cookie (HttpOnly, SameSite=Strict) that the login URL set; this script never sees the token.
"use strict";

const OVERVIEW_URL = "../admin/overview";  // relative, so the dashboard also works behind a path prefix
const POLL_MILLIS = 2000;
const REQUEST_TIMEOUT_MILLIS = 10000;      // a hung request must not stop the polling
const START_PATHS = [["POOL_HIT", "pool hit"], ["RESTORE_ON_DEMAND", "restore on demand"], ["FRESH_START", "fresh start"]];

const $ = (id) => document.getElementById(id);
let lastGoodAt = null;

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

const num = (v) => el("td", v === null || v === undefined ? "–" : v, "n");

// Milliseconds with the precision that matters at their size (restores take about 2 ms, handlers seconds).
function ms(v) {
  if (v === null || v === undefined) return "–";
  return v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0);
}

// The API reports KiB; MiB reads better. The kernel reports no MemAvailable as Long.MAX_VALUE.
function mib(kib) {
  if (kib === null || kib === undefined || kib >= 2 ** 62) return "unknown";
  return (kib / 1024).toFixed(1);
}

function mixCell(startPaths) {
  const td = el("td");
  const total = START_PATHS.reduce((sum, [key]) => sum + (startPaths[key] || 0), 0);
  const bar = el("span", null, "mix");
  bar.title = START_PATHS.map(([key, label]) => `${label}: ${startPaths[key] || 0}`).join(", ");
  for (const [key] of START_PATHS) {
    const n = startPaths[key] || 0;
    if (total > 0 && n > 0) {
      const part = el("span", null, key);
      part.style.width = (100 * n / total) + "%";
      bar.appendChild(part);
    }
  }
  td.appendChild(bar);
  td.appendChild(document.createTextNode(START_PATHS.map(([key]) => startPaths[key] || 0).join(" / ")));
  return td;
}

function windowCells(w) {
  return [num(w.invocations), el("td", w.errors, "n" + (w.errors > 0 ? " errors" : "")), num(ms(w.p50Ms)), num(ms(w.p99Ms)),
    mixCell(w.startPaths)];
}

function drawFunctions(o) {
  const body = $("functions-body");
  const rows = o.functions.map((f) => {
    const state = el("td");
    state.appendChild(el("span", f.state, "state-" + f.state));
    if (f.stateReason) state.appendChild(el("span", f.stateReason, "reason"));
    return row([el("td", f.name), state, num(f.memoryMb), num(f.timeoutSeconds), num(f.reservedConcurrency), num(f.inFlight),
      ...windowCells(f.window)]);
  });
  if (rows.length === 0) {
    const td = el("td", "no functions", "empty");
    td.colSpan = 11;
    rows.push(row([td]));
  }
  body.replaceChildren(...rows);
  const label = el("td", "all functions (deleted ones too)");
  label.colSpan = 5;
  $("functions-total").replaceChildren(row([label, num(o.concurrency.inFlight), ...windowCells(o.allFunctions)]));
  $("window-label").textContent = `(invocations over the last ${o.windowSeconds / 60} min)`;
}

function pairs(id, entries) {
  $(id).replaceChildren(...entries.map(([name, value]) => row([el("th", name), el("td", value)])));
}

function drawPool(o) {
  if (!o.pool) {
    pairs("pool", [["VMs", "none: this host cannot run functions"]]);
    pairs("vm-memory", []);
  } else {
    drawVms(o.pool);
  }
  const j = o.jvm;
  $("vm-memory").append(...[["JVM heap used MiB", mib(j.heapUsedKib)], ["JVM heap committed MiB", mib(j.heapCommittedKib)]]
    .map(([name, value]) => row([el("th", name), el("td", value)])));
  const a = o.async;
  pairs("async", [["queued", a.queued], ["running", a.running], ["succeeded (kept)", a.succeeded],
    ["dead-lettered", a.deadLettered], ["dead letters (kept)", a.deadLetters]]);
}

function drawVms(p) {
  const m = p.processMemory, v = p.vmMemory;
  pairs("pool", [["ready VMs", p.ready], ["restoring", p.restoring], ["leased (running)", p.leased],
    ["being destroyed", p.destroying], ["native heap trims (since start)", p.nativeHeapTrims]]);
  pairs("vm-memory", [["process RSS MiB", mib(m.rssKib)], ["process PSS MiB", mib(m.pssKib)],
    ["process shared clean MiB", mib(m.sharedCleanKib)], ["process private dirty MiB", mib(m.privateDirtyKib)],
    ["host available MiB", mib(m.hostAvailableKib)], ["live VMs", v.count], ["VM guest memory RSS MiB", mib(v.totalRssKib)],
    ["VM guest memory PSS MiB", mib(v.totalPssKib)], ["median PSS per VM KiB", v.medianPssKib],
    ["VM private dirty MiB", mib(v.totalPrivateDirtyKib)]]);
}

function drawRecent(o) {
  const rows = o.recent.map((r) => {
    const status = el("td");
    status.appendChild(el("span", r.status, "status-" + r.status));
    if (r.errorType) status.appendChild(el("span", r.errorType, "reason"));
    // ISO 8601 in UTC from the API: show the time of day to the millisecond.
    const at = r.createdAt ? r.createdAt.replace(/^.*T/, "").replace(/(\.\d{3})\d*/, "$1").replace(/Z$/, "") : "–";
    // The first 8 characters tell requests apart on one screen; the whole id is the cell's tooltip.
    const id = el("td", r.requestId.length > 9 ? r.requestId.slice(0, 8) + "…" : r.requestId, "mono");
    id.title = r.requestId;
    return row([el("td", at, "mono"), id, el("td", r.function + ":" + r.version), status,
      el("td", r.startPath), num(ms(r.queuedMs)), num(ms(r.vmReadyMs)), num(ms(r.initMs)), num(ms(r.deliverMs)),
      num(ms(r.handlerMs)), num(ms(r.responseMs)), num(ms(r.durationMs)), num(r.billedMemoryMb)]);
  });
  if (rows.length === 0) {
    const td = el("td", "no invocations recorded yet", "empty");
    td.colSpan = 13;
    rows.push(row([td]));
  }
  $("recent-body").replaceChildren(...rows);
}

function draw(o) {
  // textContent: the reason is KVM's message, shown as text.
  $("host").textContent = o.host.canRunFunctions ? "" : `This host cannot run functions: ${o.host.cannotRunFunctionsBecause}`;
  $("host").hidden = o.host.canRunFunctions;
  $("concurrency").textContent = `in flight ${o.concurrency.inFlight} / ${o.concurrency.limit}`;
  drawFunctions(o);
  drawPool(o);
  drawRecent(o);
}

async function fetchOverview() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MILLIS);
  try {
    const response = await fetch(OVERVIEW_URL, {headers: {Accept: "application/json"}, cache: "no-store", signal: abort.signal});
    const text = await response.text();
    if (response.status === 401) {
      // No cookie, or one from before the platform restarted (a generated token changes at every start).
      throw new Error("not logged in: open the dashboard login URL that the platform printed when it started "
        + "(/dashboard/login?token=...)");
    }
    if (!response.ok) {
      let message = text;
      try { message = JSON.parse(text).message || text; } catch (e) { /* not JSON: show it as it came */ }
      throw new Error(`HTTP ${response.status}: ${message}`);
    }
    return JSON.parse(text);
  } catch (e) {
    throw abort.signal.aborted ? new Error(`no answer within ${REQUEST_TIMEOUT_MILLIS / 1000} s`) : e;
  } finally {
    clearTimeout(timer);
  }
}

// One request at a time: the next is scheduled when this one ends, so a slow server is never piled on.
async function poll() {
  const status = $("status");
  try {
    const o = await fetchOverview();
    draw(o);
    lastGoodAt = new Date();
    status.textContent = `updated ${lastGoodAt.toLocaleTimeString()} (every ${POLL_MILLIS / 1000} s)`;
    status.classList.remove("error");
    document.querySelector("main").classList.remove("stale");
  } catch (e) {
    const since = lastGoodAt ? `; figures below are from ${lastGoodAt.toLocaleTimeString()}` : "";
    status.textContent = `overview failed: ${e.message}${since}; retrying every ${POLL_MILLIS / 1000} s`;
    status.classList.add("error");
    if (lastGoodAt) document.querySelector("main").classList.add("stale");
  } finally {
    setTimeout(poll, POLL_MILLIS);
  }
}

poll();

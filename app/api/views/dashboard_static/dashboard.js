// The slotbandit dashboard. The API key lives in this tab's sessionStorage and travels only in the
// X-Api-Key header; every value from the API is written with textContent, never parsed as HTML.
"use strict";

const REFRESH_MS = 10000;
const state = { slots: [], slot: null, segment: "global", timer: null };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

const percent = (x, digits = 1) => (x === null || x === undefined ? "-" : (100 * x).toFixed(digits) + "%");
const signedPercent = (x) => (x === null || x === undefined ? "-" : (x >= 0 ? "+" : "") + (100 * x).toFixed(1) + "%");

async function api(path) {
  const key = sessionStorage.getItem("slotbandit.key");
  const answer = await fetch(path, { headers: { "X-Api-Key": key }, cache: "no-store" });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = new Error((body.error && body.error.message) || "HTTP " + answer.status);
    error.status = answer.status;
    throw error;
  }
  return body;
}

function platform() { return sessionStorage.getItem("slotbandit.platform") || "web"; }

async function openBoard() {
  const listing = await api("/slots?platform=" + encodeURIComponent(platform()));
  state.slots = listing.slots;
  $("key-form").hidden = true;
  $("board").hidden = false;
  $("forget").hidden = false;
  $("status").textContent = "platform " + listing.platform + " \u00b7 " + listing.slots.length +
    (listing.slots.length === 1 ? " slot" : " slots");
  renderPlatforms(listing);
  if (!state.slots.some((s) => s.slot_id === state.slot)) state.slot = state.slots.length ? state.slots[0].slot_id : null;
  renderSlotList();
  await renderSlot();
}

function renderPlatforms(listing) {
  // Every platform the tenant has slots on (and the one asked for, even when it has none yet).
  const names = Array.from(new Set([...(listing.platforms || []), listing.platform])).sort();
  const select = $("platform-select");
  select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
  select.value = listing.platform;
  $("platform-switch").hidden = false;
}

async function switchPlatform() {
  sessionStorage.setItem("slotbandit.platform", $("platform-select").value);
  $("platform").value = platform();
  state.slot = null;
  state.segment = "global";
  await openBoard();
}

function renderSlotList() {
  const list = $("slot-list");
  list.replaceChildren();
  for (const slot of state.slots) {
    const button = el("button", { type: "button", "data-slot": slot.slot_id, "aria-current": String(slot.slot_id === state.slot) },
      slot.slot_id);
    button.addEventListener("click", () => { state.slot = slot.slot_id; state.segment = "global"; renderSlotList(); renderSlot(); });
    list.append(el("li", {}, button));
  }
  if (!state.slots.length) list.append(el("li", {}, "No slots on this platform."));
}

async function renderSlot() {
  const view = $("slot-view");
  if (!state.slot) { view.replaceChildren(); return; }
  const overview = await api("/slot/" + encodeURIComponent(state.slot) + "/overview?platform=" + encodeURIComponent(platform()));
  state.zone = overview.timezone ? { timezone: overview.timezone, local_time: overview.local_time } : null;
  const summary = state.slots.find((s) => s.slot_id === state.slot) || {};
  view.replaceChildren(
    el("h2", { id: "slot-title" }, overview.slot_id),
    el("p", { class: "meta" }, "objective " + (summary.objective || "clicks") + " \u00b7 holdout share " +
      percent(summary.holdout_share || 0, 0) + " \u00b7 " + (summary.active_creatives || 0) + " active creatives"),
    trafficCard(overview.traffic),
    liftCard(overview.lift),
    savingsCard(overview.savings),
    posteriorCard(overview.segments, overview.half_life_s),
  );
}

function trafficCard(traffic) {
  const card = el("div", { class: "card", id: "traffic" },
    el("h3", {}, "Live traffic share (last " + Math.round(traffic.window_s / 60) + " min)"),
    el("p", { class: "meta" }, traffic.impressions + " impressions, " + traffic.clicks + " clicks"));
  if (!traffic.creatives.length) card.append(el("p", { class: "lift-none" }, "no impressions in this window"));
  for (const row of traffic.creatives) {
    const bar = el("div", { class: "bar" }, el("div", {}));
    bar.firstChild.style.width = (100 * (row.share || 0)).toFixed(2) + "%";
    card.append(el("div", { class: "share-row", "data-creative": row.creative_id },
      el("span", {}, row.creative_id), bar, el("span", { class: "num" }, percent(row.share)),
      el("span", { class: "num" }, row.impressions + " imp")));
  }
  return card;
}

function liftCard(lift) {
  const card = el("div", { class: "card", id: "lift" }, el("h3", {}, "Lift over holdout"));
  if (!lift) {
    card.append(el("p", { class: "lift-none" }, "no holdout data"));
    return card;
  }
  card.append(
    el("p", {}, el("span", { class: "lift-value" }, signedPercent(lift.lift)),
      lift.ci ? "  (95% interval " + signedPercent(lift.ci[0]) + " to " + signedPercent(lift.ci[1]) + ")" : ""),
    el("p", { class: "meta" }, "bandit " + percent(lift.treated_ctr, 2) + " click-through in " + lift.bandit.impressions +
      " impressions; holdout " + percent(lift.holdout_ctr, 2) + " in " + lift.holdout.impressions));
  return card;
}

function savingsCard(savings) {
  const card = el("div", { class: "card", id: "savings" }, el("h3", {}, "Saved traffic (to date)"));
  if (!savings || savings.saved_share === null) {
    card.append(el("p", { class: "lift-none" }, "no non-performer yet"));
    return card;
  }
  const unit = savings.metric === "revenue" ? " revenue" : " clicks";
  card.append(
    el("p", {}, el("span", { class: "lift-value" }, percent(savings.saved_share, 0)),
      " of a uniform split's traffic to non-performers saved"),
    el("p", { class: "meta" }, "non-performers got " + savings.non_performer_impressions + " of " + savings.impressions +
      " impressions (uniform: " + Math.round(savings.uniform_non_performer_impressions) + "); gain over uniform " +
      savings.gain.value.toFixed(1) + unit + " (95% interval " + savings.gain.ci95[0].toFixed(1) + " to " +
      savings.gain.ci95[1].toFixed(1) + ")"));
  return card;
}

const NOT_SHOWN = { not_started: "flight not started", ended: "flight ended", outside_hours: "outside its hours",
  paused: "paused", other_cities: "other cities", removed: "removed" };

function notShown(c) {
  return "not eligible" + (NOT_SHOWN[c.status] ? " (" + NOT_SHOWN[c.status] + ")" : "");
}

function posteriorCard(segments, halfLife) {
  const card = el("div", { class: "card", id: "posteriors" }, el("h3", {}, "Posteriors (95% credible intervals)"));
  if (!segments.some((s) => s.segment === state.segment)) state.segment = "global";
  const select = el("select", { id: "segment" });
  for (const s of segments) {
    const option = el("option", { value: s.segment }, s.segment);
    if (s.segment === state.segment) option.selected = true;
    select.append(option);
  }
  select.addEventListener("change", () => { state.segment = select.value; renderSlot(); });
  card.append(el("label", {}, "Segment ", select));
  const segment = segments.find((s) => s.segment === state.segment);
  if (!segment) return card;
  card.append(el("p", { class: "meta" }, "decided by " + segment.decided_by));
  if (state.zone && state.zone.timezone !== "UTC") {  // UTC slots: times as everywhere else
    card.append(el("p", { class: "meta", id: "zone" }, "hours and days in " + state.zone.timezone + ", local time " +
      state.zone.local_time.slice(0, 16).replace("T", " ")));
  }
  const top = Math.max(0.01, ...segment.creatives.map((c) => c.ci95[1]));
  // A slot with a half-life decides on discounted counts: show them beside the all-time ones.
  const discounted = halfLife !== null && halfLife !== undefined;
  if (discounted) card.append(el("p", { class: "meta", id: "half-life" }, "half-life " + halfLife +
    " s: evidence of age a counts 0.5^(a / " + halfLife + ")"));
  const effectiveHeads = discounted ? [el("th", { class: "num" }, "effective imp"), el("th", { class: "num" }, "effective clicks")] : [];
  const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "creative"), el("th", { class: "num" }, "impressions"),
    el("th", { class: "num" }, "clicks"), ...effectiveHeads, el("th", { class: "num" }, "mean"), el("th", {}, "interval"),
    el("th", { class: "num" }, "P(best)"))));
  const body = el("tbody", {});
  for (const c of segment.creatives) {
    body.append(el("tr", { "data-creative": c.creative_id }, el("td", {}, c.creative_id), el("td", { class: "num" }, c.impressions),
      el("td", { class: "num" }, c.clicks),
      ...(discounted ? [el("td", { class: "num" }, c.effective_impressions.toFixed(1)),
        el("td", { class: "num" }, c.effective_clicks.toFixed(1))] : []),
      el("td", { class: "num" }, percent(c.mean, 2)),
      el("td", {}, intervalSvg(c, top)), el("td", { class: "num" }, c.p_best === null ? notShown(c) : percent(c.p_best, 1))));
  }
  table.append(body);
  card.append(table);
  return card;
}

function intervalSvg(c, top) {
  const width = 240, x = (v) => 4 + (width - 8) * (v / top);
  const picture = svg("svg", { class: "interval", width, height: 16, role: "img",
    "aria-label": percent(c.ci95[0], 2) + " to " + percent(c.ci95[1], 2) });
  picture.append(svg("line", { x1: 4, x2: width - 4, y1: 8, y2: 8, stroke: "#e3e8ed", "stroke-width": 2 }));
  picture.append(svg("line", { x1: x(c.ci95[0]), x2: x(c.ci95[1]), y1: 8, y2: 8, stroke: "#2f6db5", "stroke-width": 6 }));
  picture.append(svg("line", { x1: x(c.mean), x2: x(c.mean), y1: 1, y2: 15, stroke: "#1d2733", "stroke-width": 2 }));
  return picture;
}

function showError(error) {
  if (error.status === 401) { forget(); $("key-error").textContent = "That key is not valid: " + error.message; return; }
  $("status").textContent = "could not load: " + error.message;
}

function forget() {
  sessionStorage.removeItem("slotbandit.key");
  $("board").hidden = true;
  $("forget").hidden = true;
  $("platform-switch").hidden = true;
  $("key-form").hidden = false;
  $("status").textContent = "";
  $("slot-view").replaceChildren();
}

function refresh() {
  if (sessionStorage.getItem("slotbandit.key") && !document.hidden) renderSlot().catch(showError);
}

document.addEventListener("DOMContentLoaded", () => {
  $("platform").value = platform();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("key-error").textContent = "";
    sessionStorage.setItem("slotbandit.key", $("api-key").value.trim());
    sessionStorage.setItem("slotbandit.platform", $("platform").value.trim() || "web");
    $("api-key").value = "";
    openBoard().catch(showError);
  });
  $("forget").addEventListener("click", forget);
  $("platform-select").addEventListener("change", () => switchPlatform().catch(showError));
  if (sessionStorage.getItem("slotbandit.key")) openBoard().catch(showError);
  state.timer = setInterval(refresh, REFRESH_MS);
});

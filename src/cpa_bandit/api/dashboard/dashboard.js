// The dashboard's only script: every REFRESH_MS it asks /dashboard/data for a snapshot and
// redraws the page. Values go into the page as text (textContent), never as markup; the two
// charts are SVG that the service rendered with every label escaped. The chosen source, chart
// range and "show archived" live in the URL's fragment, so that a view can be bookmarked or shared.
"use strict";

const REFRESH_MS = 10_000;

const formats = {
  count: new Intl.NumberFormat("en-US"),
  money: new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  epc: new Intl.NumberFormat("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 }),
  rate: new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  share: new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  signedEpc: new Intl.NumberFormat("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3, signDisplay: "exceptZero" }),
  signedMoney: new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "exceptZero" }),
  time: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
};

const byId = (id) => document.getElementById(id);
let timer = null;
let latest = 0; // number of the latest request: an older answer arriving late is dropped
let lastUpdate = null;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function view() {
  const hash = new URLSearchParams(location.hash.slice(1));
  return {
    source: hash.get("source") || "",
    hours: hash.get("hours") || byId("hours").value,
    archived: hash.get("archived") === "1",
  };
}

function choose() {
  const hash = new URLSearchParams({ hours: byId("hours").value });
  if (byId("source").value) hash.set("source", byId("source").value);
  if (byId("show-archived").checked) hash.set("archived", "1");
  history.replaceState(null, "", `#${hash}`);
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_MS);
  if (document.hidden) return; // nobody is looking: poll again when the tab is shown
  const ticket = ++latest;
  const { source, hours } = view();
  const query = new URLSearchParams({ hours });
  if (source) query.set("source", source);
  try {
    const response = await fetch(`dashboard/data?${query}`, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    if (ticket === latest) render(data);
  } catch (error) {
    if (ticket !== latest) return;
    const since = lastUpdate ? `; showing data of ${formats.time.format(lastUpdate)}` : "";
    setStatus(`Update failed (${error.message})${since}. Retrying every ${REFRESH_MS / 1000} s.`, true);
  }
}

function setStatus(text, failed) {
  const status = byId("status");
  status.textContent = text;
  status.classList.toggle("failed", failed);
}

function render(data) {
  renderControls(data);
  renderTotals(data);
  renderOffers(data);
  renderRefused(data.postbacks.refused);
  renderUplift(data);
  byId("share-chart").innerHTML = data.share_svg;
  byId("revenue-chart").innerHTML = data.revenue_svg;
  lastUpdate = new Date(data.updated_at * 1000);
  setStatus(`Updated ${formats.time.format(lastUpdate)} · refreshes every ${REFRESH_MS / 1000} s`, false);
}

function renderControls(data) {
  const select = byId("source");
  const wanted = [...new Set([...data.sources, ...(data.source ? [data.source] : [])])];
  const shown = [...select.options].slice(1).map((option) => option.value);
  if (wanted.join("\n") !== shown.join("\n")) {
    select.replaceChildren(select.options[0], ...wanted.map((source) => new Option(source, source)));
  }
  select.value = data.source || "";
  byId("hours").value = String(data.hours);
  byId("offers-title").textContent = data.source ? `Offers · source ${data.source}` : "Offers · all sources";
}

function sum(rows, field) {
  return rows.reduce((total, row) => total + row[field], 0);
}

function renderTotals(data) {
  const rows = data.offers;
  const clicks = sum(rows, "clicks");
  const revenue = sum(rows, "reward");
  const refused = Object.values(data.postbacks.refused).reduce((a, b) => a + b, 0);
  byId("total-clicks").textContent = formats.count.format(clicks);
  byId("total-conversions").textContent = formats.count.format(sum(rows, "conversions"));
  byId("total-revenue").textContent = formats.money.format(revenue);
  byId("currency").textContent = data.currency;
  byId("total-epc").textContent = clicks ? formats.epc.format(revenue / clicks) : "–";
  byId("total-pending").textContent = formats.count.format(sum(rows, "pending_conversions"));
  byId("total-refused").textContent = formats.count.format(refused);
  byId("total-postbacks").textContent =
    `${formats.count.format(data.postbacks.applied)} applied · ${formats.count.format(data.postbacks.duplicate)} duplicate`;
}

function number(text) {
  return element("td", text, "num");
}

function meter(fraction) {
  // a bar beside the percentage: P(best) and traffic share compare at a glance
  const track = element("span", undefined, "meter");
  const fill = element("span");
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  track.append(fill);
  const cell = number();
  cell.append(track, element("span", formats.share.format(fraction), "meter-value"));
  return cell;
}

function offerCell(row) {
  const cell = element("td", undefined, "text");
  cell.append(element("span", `#${row.offer_id}`, "offer-id"));
  if (row.name) cell.append(" ", element("span", row.name, "offer-name"));
  if (row.status !== "active") cell.append(" ", statusBadge(row));
  return cell;
}

// --- statuses: a badge for every offer not in rotation; archived ones hidden unless asked

const untilFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const STATUS_TITLES = {
  paused: () => "Paused in the registry: never chosen",
  archived: () => "Archived: never chosen; its counters and history are kept",
  capped: (row) => `At its conversion cap: back in rotation on ${untilFormat.format(new Date(row.capped_until * 1000))}`,
};

function statusBadge(row) {
  const badge = element("span", row.status, `badge badge-${row.status}`);
  const title = STATUS_TITLES[row.status];
  if (title) badge.title = title(row);
  return badge;
}

function shownOffers(data) {
  // archived offers leave the table unless "show archived" is ticked; the totals and charts
  // still count them (their revenue was earned)
  const archived = data.offers.filter((row) => row.status === "archived").length;
  byId("archived-count").textContent = archived ? `(${formats.count.format(archived)})` : "";
  return view().archived ? data.offers : data.offers.filter((row) => row.status !== "archived");
}

function epcCell(row) {
  // the model's estimate, on the basis of its interval beside it; the plain ratio over every
  // click counts pending clicks, which have not converted yet, so it can sit below that interval
  const cell = number(formats.epc.format(row.rpc_mean));
  cell.title = `${formats.epc.format(row.rpc)} approved revenue per click over all ${formats.count.format(row.clicks)} clicks, pending ones included`;
  return cell;
}

function renderOffers(data) {
  const rows = shownOffers(data);
  const best = Math.max(...rows.map((row) => row.p_best));
  byId("offers").querySelector("tbody").replaceChildren(
    ...rows.map((row) => {
      const tr = element("tr", undefined, rows.length > 1 && row.p_best === best ? "best" : undefined);
      tr.dataset.offerId = row.offer_id;
      const pending = number(formats.count.format(row.pending_conversions));
      pending.title = `${formats.money.format(row.pending_reward)} if approved`;
      tr.append(
        offerCell(row),
        number(formats.count.format(row.clicks)),
        number(formats.count.format(row.conversions)),
        number(formats.rate.format(row.cr)),
        epcCell(row),
        number(`${formats.epc.format(row.rpc_low)} – ${formats.epc.format(row.rpc_high)}`),
        meter(row.p_best),
        meter(row.recent_share),
        pending,
      );
      return tr;
    }),
  );
  byId("offers").hidden = rows.length === 0;
  byId("offers-empty").hidden = data.offers.length > 0;
  byId("offers-all-archived").hidden = rows.length > 0 || data.offers.length === 0;
}

function renderRefused(refused) {
  const reasons = Object.entries(refused).sort((a, b) => b[1] - a[1]);
  byId("refused").querySelector("tbody").replaceChildren(
    ...reasons.map(([reason, n]) => {
      const tr = element("tr");
      tr.append(element("td", reason, "text"), number(formats.count.format(n)));
      return tr;
    }),
  );
  byId("refused").hidden = reasons.length === 0;
  byId("refused-empty").hidden = reasons.length > 0;
}

// --- uplift over the holdout: the bandit's revenue per click against random rotation's

function interval(range, confidence, format) {
  return `${Math.round(confidence * 100)} % interval: ${format.format(range.low)} to ${format.format(range.high)}`;
}

function verdict(difference) {
  if (difference.low > 0) return ["The bandit earns more than random rotation: the whole interval is above 0.", "good"];
  if (difference.high < 0) return ["The bandit earns less than random rotation: the whole interval is below 0.", "bad"];
  return ["Not told apart from random rotation yet: the interval holds 0. It narrows as more clicks resolve.", ""];
}

function renderUplift(data) {
  const uplift = data.uplift;
  byId("uplift-window").textContent = `· last ${formats.count.format(data.hours)} hours`;
  byId("uplift-currency").textContent = data.currency;
  byId("uplift-computed").textContent = `Computed ${formats.time.format(new Date(uplift.computed_at * 1000))}, at most once a minute.`;
  const measured = uplift.holdout.clicks > 0;
  const waiting = !measured && uplift.holdout.pending > 0; // a holdout, none of its clicks resolved yet
  byId("uplift-figures").hidden = !measured;
  byId("uplift-verdict").hidden = !measured;
  byId("uplift-empty").hidden = measured || waiting;
  byId("uplift-waiting").hidden = !waiting;
  byId("uplift-waiting").textContent = waiting
    ? `The holdout's ${formats.count.format(uplift.holdout.pending)} ${uplift.holdout.pending === 1 ? "click" : "clicks"} ` +
      "in this window are all still pending: the comparison shows once some are resolved (fed back, or past the attribution window)."
    : "";
  for (const group of ["bandit", "holdout"]) {
    const figures = uplift[group];
    byId(`uplift-${group}-rpc`).textContent = figures.rpc === null ? "–" : formats.epc.format(figures.rpc);
    byId(`uplift-${group}-clicks`).textContent =
      `${formats.count.format(figures.clicks)} resolved ${figures.clicks === 1 ? "click" : "clicks"}` +
      (figures.pending ? ` · ${formats.count.format(figures.pending)} pending` : "");
  }
  const { difference, extra_revenue: extra, confidence } = uplift;
  byId("uplift-difference").textContent = difference ? formats.signedEpc.format(difference.estimate) : "–";
  byId("uplift-difference-interval").textContent = difference
    ? interval(difference, confidence, formats.signedEpc)
    : "needs two resolved clicks in each group";
  byId("uplift-extra").textContent = extra ? formats.signedMoney.format(extra.estimate) : "–";
  byId("uplift-extra-interval").textContent = extra ? interval(extra, confidence, formats.signedMoney) : "";
  const pending = byId("uplift-pending");
  const left = (uplift.bandit.pending || 0) + (uplift.holdout.pending || 0);
  pending.hidden = !measured || left === 0;
  pending.textContent =
    `${formats.count.format(left)} ${left === 1 ? "click is" : "clicks are"} still pending and left out. With postbacks ` +
    "alone a click that does not convert is resolved only when its attribution window passes: until then both RPCs read high.";
  const [text, tone] = difference ? verdict(difference) : ["", ""];
  const line = byId("uplift-verdict");
  line.textContent = text;
  line.className = tone ? `uplift-verdict ${tone}` : "uplift-verdict";
}

document.addEventListener("DOMContentLoaded", () => {
  const { hours, archived } = view();
  byId("hours").value = hours;
  byId("show-archived").checked = archived;
  byId("source").addEventListener("change", choose);
  byId("hours").addEventListener("change", choose);
  byId("show-archived").addEventListener("change", choose);
  document.addEventListener("visibilitychange", () => document.hidden || refresh());
  refresh();
});

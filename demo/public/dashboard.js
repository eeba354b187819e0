// The demo's dashboard: the caller's recent background requests, live. Plain browser JavaScript, no build step.
//
// Each running request is followed over Server-Sent Events (GET /bgrs/<rid>/events: `state`, `detail`, `end`).
// A browser opens at most six HTTP/1.1 connections to one origin and every EventSource holds one, so at most
// MAX_STREAMS requests are streamed at once (the newest); any others are polled with GET /bgrs/<rid> until a
// stream is free, which keeps connections for the page's own fetches.

const MAX_STREAMS = 4;
const POLL_MS = 2000;
const LIST_LIMIT = 20;
const REPORT_PATH = '/v2.5/reports/sales?year=2024&bgrs=yes';
const ENDED = new Set(['finished', 'failed', 'cancelled']);

const list = /** @type {HTMLUListElement} */ (document.getElementById('requests'));
const empty = /** @type {HTMLElement} */ (document.getElementById('empty'));
const loading = /** @type {HTMLElement} */ (document.getElementById('loading'));
const loadError = /** @type {HTMLElement} */ (document.getElementById('load-error'));
const loadErrorText = /** @type {HTMLElement} */ (document.getElementById('load-error-text'));
const retryButton = /** @type {HTMLButtonElement} */ (document.getElementById('retry'));
const announcer = /** @type {HTMLElement} */ (document.getElementById('announcer'));
const template = /** @type {HTMLTemplateElement} */ (document.getElementById('request-template'));
const startButton = /** @type {HTMLButtonElement} */ (document.getElementById('start-report'));
const refreshButton = /** @type {HTMLButtonElement} */ (document.getElementById('refresh'));

/**
 * @typedef {{ id: string, rid: string, name: string, created_dt: string, status_name: string, progress: string,
 *   finished_dt: string | null, status: string | null, content_type: string | null }} BgrsRecord
 * @typedef {{ id: string, rid: string, dt: string, details: string }} BgrsDetail
 * @typedef {{
 *   rid: string, record: BgrsRecord, element: HTMLLIElement,
 *   source: EventSource | null, pollTimer: number | null,
 *   detailsLoaded: boolean, lastDetailId: bigint, detailIds: Set<string>,
 * }} Row
 */

/** @type {Map<string, Row>} */
const rows = new Map();
/** Whether a listing has answered: before that, no rows means "not known yet", not "none". */
let listed = false;

/** @param {string} message @param {boolean} [isError] */
function announce(message, isError = false) {
  announcer.textContent = message;
  announcer.classList.toggle('error', isError);
}

/** @param {string} url @param {RequestInit} [init] */
async function fetchJson(url, init) {
  // `no-store`: the answers change as requests run, and they carry no Cache-Control of their own (a history
  // navigation would otherwise be shown a stale list).
  const response = await fetch(url, { ...init, cache: 'no-store', headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message =
      body && typeof body.message === 'string' ? body.message : `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

const isEnded = (/** @type {BgrsRecord} */ record) => ENDED.has(record.status_name);
const shortRid = (/** @type {string} */ rid) => rid.slice(0, 8);

// ---------------------------------------------------------------------------------------------------- rendering

/** @param {BgrsRecord} record @returns {Row} */
function createRow(record) {
  const element = /** @type {HTMLLIElement} */ (
    /** @type {DocumentFragment} */ (template.content.cloneNode(true)).firstElementChild
  );
  element.dataset.rid = record.rid;
  const detailsId = `details-${record.rid}`;
  /** @type {Row} */
  const row = {
    rid: record.rid,
    record,
    element,
    source: null,
    pollTimer: null,
    detailsLoaded: false,
    lastDetailId: 0n,
    detailIds: new Set(),
  };
  part(row, '.request-name').textContent = record.name;
  part(row, '.rid').textContent = shortRid(record.rid);
  part(row, '.rid').title = record.rid;
  const created = /** @type {HTMLTimeElement} */ (part(row, '.created'));
  created.textContent = record.created_dt;
  created.dateTime = record.created_dt.replace(' ', 'T');
  part(row, '.progress').setAttribute('aria-label', `Progress of ${record.name} (request ${shortRid(record.rid)})`);
  part(row, '.details').id = detailsId;

  const toggle = part(row, '.details-toggle');
  toggle.setAttribute('aria-controls', detailsId);
  toggle.addEventListener('click', () => void toggleDetails(row));
  part(row, '.cancel').addEventListener('click', () => void cancel(row));
  render(row);
  if (record.status_name !== 'queued') {
    void loadRun(row);
  }
  return row;
}

/** The details row a queue worker writes when it starts a run: which instance, and which attempt. */
const RUN_DETAIL = /^(?:started|run again) on (.+?) \(attempt (\d+)\)/;

/** Shows which queue worker ran the request, and which attempt, from its newest run row. @param {Row} row @param {BgrsDetail[]} details */
function showRun(row, details) {
  const run = details
    .map((detail) => RUN_DETAIL.exec(detail.details))
    .filter(Boolean)
    .at(-1);
  if (run) {
    const label = part(row, '.ran-on');
    label.textContent = ` · ran on ${run[1]}, attempt ${run[2]}`;
    label.hidden = false;
  }
}

/** In queue mode, a started request's details say where it ran. @param {Row} row */
async function loadRun(row) {
  try {
    showRun(row, await fetchJson(`/bgrs/${row.rid}/details`));
  } catch {
    // Only a label: the details panel reports errors.
  }
}

/** @param {Row} row @param {string} selector @returns {HTMLElement} */
function part(row, selector) {
  return /** @type {HTMLElement} */ (row.element.querySelector(selector));
}

/** Shows the row's record: status, progress bar, result link, Cancel button. @param {Row} row */
function render(row) {
  const { record } = row;
  const progress = Math.min(100, Math.max(0, Number(record.progress) || 0));
  const ended = isEnded(record);
  row.element.dataset.status = record.status_name;

  const status = part(row, '.status');
  status.dataset.status = record.status_name;
  status.textContent =
    record.status_name === 'finished' && record.status ? `finished · HTTP ${record.status}` : record.status_name;

  const bar = part(row, '.progress');
  bar.setAttribute('aria-valuenow', String(progress));
  bar.setAttribute('aria-valuetext', `${formatPercent(progress)}, ${record.status_name}`);
  part(row, '.progress-fill').style.width = `${progress}%`;
  part(row, '.progress-text').textContent = ended
    ? `${formatPercent(progress)} · ended ${record.finished_dt ?? ''}`.trim()
    : `${formatPercent(progress)}`;

  const link = /** @type {HTMLAnchorElement} */ (part(row, '.result-link'));
  const hasResult = record.status_name === 'finished';
  link.hidden = !hasResult;
  if (hasResult) {
    link.href = `/bgrs/${record.rid}/result`;
    link.textContent = record.content_type ? `Result (${record.content_type.split(';')[0]})` : 'Result';
  }
  const cancelButton = /** @type {HTMLButtonElement} */ (part(row, '.cancel'));
  cancelButton.hidden = ended;
  cancelButton.setAttribute('aria-label', `Cancel request ${shortRid(record.rid)}`);
}

/** @param {number} percent */
function formatPercent(percent) {
  return `${Number.isInteger(percent) ? percent : percent.toFixed(1)} %`;
}

/** Puts the rows in `records` order (newest first), adding the new ones; rows not listed are dropped. */
function showList(/** @type {BgrsRecord[]} */ records) {
  const keep = new Set(records.map((record) => record.rid));
  for (const row of [...rows.values()]) {
    if (!keep.has(row.rid)) {
      removeRow(row);
    }
  }
  for (const record of records) {
    const row = rows.get(record.rid);
    if (row) {
      update(row, record);
      follow(row);
    } else {
      addRow(record);
    }
  }
  for (const record of records) {
    list.append(/** @type {Row} */ (rows.get(record.rid)).element);
  }
  updateEmpty();
}

/** @param {BgrsRecord} record @param {{ first?: boolean }} [options] */
function addRow(record, options = {}) {
  const row = createRow(record);
  rows.set(row.rid, row);
  if (options.first) {
    list.prepend(row.element);
  } else {
    list.append(row.element);
  }
  follow(row);
  updateEmpty();
  return row;
}

/** @param {Row} row */
function removeRow(row) {
  unfollow(row);
  rows.delete(row.rid);
  row.element.remove();
}

function updateEmpty() {
  empty.hidden = !listed || rows.size > 0;
}

/** A newer record of a row. @param {Row} row @param {BgrsRecord} record */
function update(row, record) {
  const was = row.record;
  // Progress never goes back, and an ended request stays ended: ignore an older answer that arrives late.
  if (isEnded(was) && !isEnded(record)) {
    return;
  }
  row.record = record;
  render(row);
  if (isEnded(record)) {
    unfollow(row);
    if (!isEnded(was)) {
      announce(`Request ${shortRid(row.rid)} ${record.status_name}.`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- live updates

const streamed = () => [...rows.values()].filter((row) => row.source !== null);

/** Starts following a running row: a stream when one is free, else polling. @param {Row} row */
function follow(row, { preferred = false } = {}) {
  if (isEnded(row.record) || row.source) {
    return;
  }
  const open = streamed();
  if (open.length >= MAX_STREAMS && preferred) {
    // The newest request gets the live stream; the oldest streamed one is polled instead.
    const oldest = open.reduce((a, b) => (BigInt(a.record.id) < BigInt(b.record.id) ? a : b));
    closeStream(oldest);
    startPolling(oldest);
  }
  if (streamed().length < MAX_STREAMS) {
    stopPolling(row);
    openStream(row);
  } else {
    startPolling(row);
  }
}

/** Stops following a row and hands its stream to a polled one. @param {Row} row */
function unfollow(row) {
  const hadStream = row.source !== null;
  closeStream(row);
  stopPolling(row);
  if (hadStream) {
    const waiting = [...rows.values()]
      .filter((other) => other.pollTimer !== null && !isEnded(other.record))
      .sort((a, b) => (BigInt(b.record.id) > BigInt(a.record.id) ? 1 : -1));
    if (waiting[0]) {
      follow(waiting[0]);
    }
  }
}

/** @param {Row} row */
function openStream(row) {
  const source = new EventSource(`/bgrs/${row.rid}/events`);
  row.source = source;
  source.addEventListener('state', (event) => update(row, JSON.parse(/** @type {MessageEvent} */ (event).data)));
  source.addEventListener('detail', (event) => {
    const detail = JSON.parse(/** @type {MessageEvent} */ (event).data);
    showRun(row, [detail]);
    addDetails(row, [detail]);
  });
  source.addEventListener('end', (event) => {
    // The final record; `update` closes the stream (before the server does, or EventSource would reconnect)
    // and hands it to a request that waits for one.
    update(row, JSON.parse(/** @type {MessageEvent} */ (event).data));
    unfollow(row);
  });
  source.addEventListener('error', () => {
    // While CONNECTING the browser reconnects by itself (and gets the current state again); CLOSED means it
    // gave up (the answer was not a stream, e.g. 404): fall back to polling, which reports the error.
    if (source.readyState === EventSource.CLOSED && row.source === source) {
      row.source = null;
      startPolling(row);
    }
  });
}

/** @param {Row} row */
function closeStream(row) {
  row.source?.close();
  row.source = null;
}

/** @param {Row} row */
function startPolling(row) {
  if (row.pollTimer !== null || isEnded(row.record)) {
    return;
  }
  row.pollTimer = window.setInterval(() => void poll(row), POLL_MS);
}

/** @param {Row} row */
function stopPolling(row) {
  if (row.pollTimer !== null) {
    window.clearInterval(row.pollTimer);
    row.pollTimer = null;
  }
}

/** @param {Row} row */
async function poll(row) {
  try {
    const [record] = await fetchJson(`/bgrs/${row.rid}`);
    update(row, record);
    if (row.detailsLoaded && !isEnded(record)) {
      await loadDetails(row);
    }
  } catch (error) {
    announce(`Request ${shortRid(row.rid)}: ${/** @type {Error} */ (error).message}`, true);
    if (/** @type {{ status?: number }} */ (error).status === 404) {
      removeRow(row);
      updateEmpty();
    }
  }
}

// ---------------------------------------------------------------------------------------------------- details

/** @param {Row} row */
async function toggleDetails(row) {
  const toggle = part(row, '.details-toggle');
  const details = part(row, '.details');
  const expand = toggle.getAttribute('aria-expanded') !== 'true';
  toggle.setAttribute('aria-expanded', String(expand));
  toggle.textContent = expand ? 'Hide details' : 'Show details';
  details.hidden = !expand;
  if (expand && !row.detailsLoaded) {
    // From now on `detail` events are added too; rows seen twice are shown once.
    row.detailsLoaded = true;
    try {
      await loadDetails(row);
    } catch (error) {
      row.detailsLoaded = false;
      announce(`Details of ${shortRid(row.rid)} not loaded: ${/** @type {Error} */ (error).message}`, true);
    }
  }
}

/** @param {Row} row */
async function loadDetails(row) {
  addDetails(row, await fetchJson(`/bgrs/${row.rid}/details`));
}

/** Adds the details rows not shown yet, in id order. @param {Row} row @param {BgrsDetail[]} details */
function addDetails(row, details) {
  if (!row.detailsLoaded) {
    return;
  }
  const fresh = details.filter((detail) => !row.detailIds.has(detail.id));
  if (fresh.length === 0) {
    return;
  }
  const detailsList = part(row, '.details');
  const items = [...detailsList.children];
  for (const detail of fresh.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))) {
    row.detailIds.add(detail.id);
    const item = document.createElement('li');
    item.dataset.id = detail.id;
    const time = document.createElement('time');
    time.dateTime = detail.dt.replace(' ', 'T');
    time.textContent = detail.dt.slice(11);
    time.title = detail.dt;
    item.append(time, document.createTextNode(detail.details));
    const id = BigInt(detail.id);
    if (id > row.lastDetailId) {
      row.lastDetailId = id;
      detailsList.append(item);
      items.push(item);
    } else {
      const next = items.find((other) => BigInt(/** @type {HTMLElement} */ (other).dataset.id ?? '0') > id);
      detailsList.insertBefore(item, next ?? null);
      items.splice(next ? items.indexOf(next) : items.length, 0, item);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- actions

/** @param {Row} row */
async function cancel(row) {
  const button = /** @type {HTMLButtonElement} */ (part(row, '.cancel'));
  button.disabled = true;
  try {
    const [record] = await fetchJson(`/bgrs/${row.rid}`, { method: 'DELETE' });
    update(row, record);
  } catch (error) {
    announce(`Request ${shortRid(row.rid)} not cancelled: ${/** @type {Error} */ (error).message}`, true);
    await poll(row);
  } finally {
    button.disabled = false;
  }
}

async function startReport() {
  startButton.disabled = true;
  try {
    const accepted = await fetch(REPORT_PATH, { cache: 'no-store', headers: { Accept: 'application/json' } });
    const body = await accepted.json().catch(() => null);
    if (accepted.status !== 202 || !body || typeof body.request !== 'string') {
      throw new Error(body?.message ?? `the server answered ${accepted.status}`);
    }
    const [record] = await fetchJson(`/bgrs/${body.request}`);
    const row = rows.get(record.rid) ?? addRow(record, { first: true });
    follow(row, { preferred: true });
    announce(`Sales report started: request ${shortRid(record.rid)}.`);
  } catch (error) {
    announce(`The sales report did not start: ${/** @type {Error} */ (error).message}`, true);
  } finally {
    startButton.disabled = false;
  }
}

async function loadList() {
  list.setAttribute('aria-busy', 'true');
  refreshButton.disabled = true;
  retryButton.disabled = true;
  try {
    const records = await fetchJson(`/bgrs?limit=${LIST_LIMIT}`);
    listed = true;
    loadError.hidden = true;
    showList(records);
  } catch (error) {
    const message = `Your requests could not be listed: ${/** @type {Error} */ (error).message}`;
    if (listed) {
      // The list shown stays; only the refresh failed.
      announce(message, true);
    } else {
      loadErrorText.textContent = message;
      loadError.hidden = false;
    }
  } finally {
    loading.hidden = true;
    list.setAttribute('aria-busy', 'false');
    refreshButton.disabled = false;
    retryButton.disabled = false;
  }
}

startButton.addEventListener('click', () => void startReport());
refreshButton.addEventListener('click', () => void loadList());
retryButton.addEventListener('click', () => void loadList());
window.addEventListener('pagehide', () => {
  for (const row of rows.values()) {
    closeStream(row);
    stopPolling(row);
  }
});
// Back from the history cache: the streams were closed on the way out.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    void loadList();
  }
});
void loadList();

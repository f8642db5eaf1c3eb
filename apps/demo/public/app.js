// The dashboard: renders the state the demo streams over SSE (/api/events). No build step, no framework.
const SVG = 'http://www.w3.org/2000/svg';
const FULL = 2 ** 32;
const R = 232; // ring radius (viewBox is 600 x 600, centred on 0,0)
const BAND = 34; // ring thickness
const KEY_R = 150; // radius of the tracked-key dots

const $ = (id) => document.getElementById(id);
let state = null;
let drawnRing = '';
let lookedUp = null; // { key, position, owner }

// ---------- geometry ----------
const angleOf = (position) => (position / FULL) * 2 * Math.PI - Math.PI / 2;
const point = (radius, position) => {
  const a = angleOf(position);
  return [Math.cos(a) * radius, Math.sin(a) * radius];
};
const fmt = (n) => n.toFixed(2);

// One arc [start, end] (inclusive, may wrap) as path commands on a circle of the given radius.
function arcPath(radius, start, end) {
  if (start > end) return arcPath(radius, start, FULL - 1) + arcPath(radius, 0, end);
  const span = end - start + 1;
  if (span >= FULL - 1) {
    // A single owner: two half circles (an SVG arc cannot draw a full circle).
    const [x0, y0] = point(radius, 0);
    const [x1, y1] = point(radius, FULL / 2);
    return `M${fmt(x0)} ${fmt(y0)}A${radius} ${radius} 0 1 1 ${fmt(x1)} ${fmt(y1)}A${radius} ${radius} 0 1 1 ${fmt(x0)} ${fmt(y0)}`;
  }
  const [x0, y0] = point(radius, start);
  const [x1, y1] = point(radius, end + 1);
  const large = span > FULL / 2 ? 1 : 0;
  return `M${fmt(x0)} ${fmt(y0)}A${radius} ${radius} 0 ${large} 1 ${fmt(x1)} ${fmt(y1)}`;
}

const el = (name, attrs = {}, parent) => {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
};

const nodeById = (id) => state?.nodes.find((n) => n.id === id);
// Colours outlive their nodes, so a key that moved away from a removed node still shows where it was.
const knownColors = new Map();
const colorOf = (id) => nodeById(id)?.color ?? knownColors.get(id) ?? '#8a93a6';

// ---------- the ring ----------
function drawRing() {
  const svg = $('ring');
  svg.replaceChildren();
  const defs = el('defs', {}, svg);
  const glow = el('filter', { id: 'glow', x: '-50%', y: '-50%', width: '200%', height: '200%' }, defs);
  el('feGaussianBlur', { stdDeviation: 3, result: 'b' }, glow);
  const merge = el('feMerge', {}, glow);
  el('feMergeNode', { in: 'b' }, merge);
  el('feMergeNode', { in: 'SourceGraphic' }, merge);

  el('circle', { r: R, class: 'track', 'stroke-width': BAND }, svg);
  for (const node of state.nodes) {
    if (node.ranges.length === 0) continue;
    const d = node.ranges.map(([s, e]) => arcPath(R, s, e)).join('');
    el(
      'path',
      {
        d,
        'data-node': node.id,
        class: `arc ${node.routable ? '' : 'down'}`,
        stroke: node.color,
        'stroke-width': BAND,
      },
      svg,
    );
    // A tick where each virtual node sits (the end of the arc it owns).
    const ticks = node.ranges
      .map(([, e]) => {
        const [x0, y0] = point(R + BAND / 2 + 2, e);
        const [x1, y1] = point(R + BAND / 2 + 8, e);
        return `M${fmt(x0)} ${fmt(y0)}L${fmt(x1)} ${fmt(y1)}`;
      })
      .join('');
    el('path', { d: ticks, class: 'ticks', stroke: node.color }, svg);
  }

  const centre = el('g', { class: 'centre' }, svg);
  const routableCount = state.nodes.filter((n) => n.routable).length;
  el('text', { y: -16, class: 'big' }, centre).textContent = `${routableCount} / ${state.nodes.length}`;
  el('text', { y: 10, class: 'small' }, centre).textContent = 'nodes serving';
  el('text', { y: 34, class: 'small muted' }, centre).textContent = `epoch ${state.epoch}`;

  el('g', { id: 'key-dots' }, svg);
  el('g', { id: 'key-marker' }, svg);
  drawKeyDots();
  drawMarker();
}

function drawKeyDots() {
  const g = $('key-dots');
  if (!g) return;
  g.replaceChildren();
  for (const k of state.keys) {
    const [x, y] = point(KEY_R, k.position);
    const [lx, ly] = point(R - BAND / 2 - 4, k.position);
    el('line', { x1: fmt(x), y1: fmt(y), x2: fmt(lx), y2: fmt(ly), class: 'key-spoke', stroke: colorOf(k.owner) }, g);
    const dot = el('circle', { cx: fmt(x), cy: fmt(y), r: 6, fill: colorOf(k.owner), class: 'key-dot', 'data-key': k.key }, g);
    el('title', {}, dot).textContent = `${k.key} → ${k.owner ?? 'nobody'}`;
  }
}

function drawMarker() {
  const g = $('key-marker');
  if (!g) return;
  g.replaceChildren();
  if (!lookedUp) return;
  const [x0, y0] = point(R - BAND / 2 - 18, lookedUp.position);
  const [x1, y1] = point(R + BAND / 2 + 22, lookedUp.position);
  el('line', { x1: fmt(x0), y1: fmt(y0), x2: fmt(x1), y2: fmt(y1), class: 'marker-line' }, g);
  el('circle', { cx: fmt(x1), cy: fmt(y1), r: 7, class: 'marker-dot', fill: colorOf(lookedUp.owner), filter: 'url(#glow)' }, g);
  const [tx, ty] = point(R + BAND / 2 + 40, lookedUp.position);
  const label = el(
    'text',
    { x: fmt(tx), y: fmt(ty), class: 'marker-label', 'text-anchor': tx < -4 ? 'end' : tx > 4 ? 'start' : 'middle' },
    g,
  );
  label.textContent = lookedUp.key.length > 18 ? `${lookedUp.key.slice(0, 17)}…` : lookedUp.key;
}

// ---------- side panels ----------
const pct = (share) => `${(share * 100).toFixed(1)}%`;
const chip = (id, extra = '') => `<span class="chip ${extra}" style="--c:${colorOf(id)}">${id ?? 'nobody'}</span>`;
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function statusLabel(node) {
  if (!node.running) return node.status === 'alive' ? 'killed' : `killed · ${node.status}`;
  if (node.weight === 0) return 'draining';
  return node.status;
}

function renderNodes() {
  const box = $('nodes');
  const rows = state.nodes.map((n) => {
    const c = n.counters;
    const label = statusLabel(n);
    const buttons = n.running
      ? `${n.weight === 0 ? '<button data-action="undrain">Undrain</button>' : '<button data-action="drain">Drain</button>'}
         <button data-action="remove">Remove</button>
         <button data-action="kill" class="danger">Kill</button>`
      : `<button data-action="revive">Revive</button><button data-action="remove">Remove</button>`;
    return `<div class="node ${n.routable && n.running ? '' : 'is-down'}" data-node="${n.id}" style="--c:${n.color}">
      <div class="node-top">
        <span class="swatch"></span>
        <span class="node-id">${n.id}</span>
        <span class="badge ${n.running ? label : 'killed'}">${label}</span>
        <span class="node-url muted">${n.url.replace(/^https?:\/\//, '')}</span>
        <span class="share" data-share>${pct(n.share)}</span>
      </div>
      <div class="bar"><span style="width:${(n.share * 100).toFixed(2)}%"></span></div>
      <div class="node-bottom">
        <span class="counters">
          <span title="requests this node served as the owner"><b>${c.served}</b> served</span>
          <span title="misrouted requests answered with a redirect"><b>${c.redirected}</b> redirected</span>
          <span title="misrouted requests forwarded to the owner"><b>${c.proxied}</b> proxied</span>
          <span title="misrouted requests refused (421)"><b>${c.refused}</b> refused</span>
          <span title="requests answered with an error: no ring or owner (503), proxy failed, loop stopped (508), bad key (4xx)" class="${c.errors ? 'errors' : ''}"><b>${c.errors}</b> errors</span>
          <span class="rate" title="requests per second reaching this node"><b>${n.rate}</b>/s</span>
        </span>
        <span class="handoff" title="owned state: keys held here, handed over to new owners, taken over from old ones, waiting to move">
          <span data-held><b>${n.handoff.held}</b> keys held</span>
          <span data-done><b>${n.handoff.done}</b> handed over</span>
          <span data-received><b>${n.handoff.received}</b> taken over</span>
          ${n.handoff.pending ? `<span class="pending"><b>${n.handoff.pending}</b> moving</span>` : ''}
        </span>
        <span class="node-actions">${buttons}</span>
      </div>
    </div>`;
  });
  box.innerHTML = rows.join('');
}

// A tracked key's state: how many hits it holds and on which node (it travels with the key when the owner changes).
function keyState(k) {
  const s = k.state;
  if (!s || !s.holder) return '<span class="key-state muted" data-state="none">no state yet</span>';
  const where = s.moving ? `moving, on ${chip(s.holder)}` : `on ${chip(s.holder)}`;
  return `<span class="key-state" data-state="${s.moving ? 'moving' : 'held'}" data-holder="${escapeHtml(s.holder)}"><b data-hits>${s.hits ?? '…'}</b> hits ${where}</span>`;
}

function renderKeys() {
  $('keys').innerHTML = state.keys
    .map(
      (k) => `<li data-key="${escapeHtml(k.key)}" class="${k.movedFrom ? 'moved' : ''}">
        <code>${escapeHtml(k.key)}</code>
        <span class="owners">${k.movedFrom ? `${chip(k.movedFrom, 'old')}<span class="arrow">→</span>` : ''}${chip(k.owner)}</span>
        ${keyState(k)}
      </li>`,
    )
    .join('');
}

function renderLog() {
  $('log').innerHTML = state.log
    .slice()
    .reverse()
    .map((e) => `<li><span class="muted">${new Date(e.at).toLocaleTimeString()}</span> <b>epoch ${e.epoch}</b> ${escapeHtml(e.text)}</li>`)
    .join('');
}

function renderHeader() {
  $('epoch').textContent = state.epoch;
  $('checksum').textContent = state.checksum.slice(0, 8);
  $('membership').textContent = state.membership;
  $('policy').textContent = state.policy;
  const t = $('traffic-toggle');
  const { perSecond, failed, latencyMs } = state.traffic;
  t.textContent = state.traffic.running ? `■ traffic ${perSecond}/s · ${latencyMs} ms · ${failed} failed` : '▶ traffic';
  t.classList.toggle('on', state.traffic.running);
}

function render() {
  renderHeader();
  const ringId = `${state.epoch}:${state.checksum}:${state.nodes.map((n) => `${n.id}${n.running}`).join()}`;
  if (ringId !== drawnRing) {
    drawnRing = ringId;
    drawRing();
  } else drawKeyDots();
  renderNodes();
  renderKeys();
  renderLog();
}

// ---------- key lookup ----------
async function lookup(key) {
  const res = await fetch(`/api/lookup?key=${encodeURIComponent(key)}`);
  const body = await res.json();
  const out = $('lookup-result');
  out.hidden = false;
  if (!res.ok) {
    lookedUp = null;
    $('lookup-owner').outerHTML = `<span id="lookup-owner" class="chip error">${escapeHtml(body.message ?? 'error')}</span>`;
    $('lookup-chain').innerHTML = '';
    $('lookup-probes').innerHTML = '';
    drawMarker();
    return;
  }
  lookedUp = { key: body.key, position: body.position, owner: body.owner, epoch: body.epoch };
  $('lookup-owner').outerHTML = chip(body.owner).replace('<span class="chip', '<span id="lookup-owner" class="chip');
  $('lookup-position').textContent = `at ${((body.position / FULL) * 360).toFixed(1)}°`;
  $('lookup-chain').innerHTML = body.chain.map((n) => chip(n.id, n.routable ? '' : 'old')).join('<span class="arrow">›</span>');
  $('lookup-probes').innerHTML = body.probes
    .map(
      (p) =>
        `<li>${chip(p.node)} <span class="muted">GET ${escapeHtml(body.path)}</span> → <b class="status s${String(p.status)[0]}">${p.status}</b> ${escapeHtml(p.summary)}</li>`,
    )
    .join('');
  drawMarker();
}

// ---------- wiring ----------
async function act(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  if (!res.ok) console.warn(path, res.status, await res.text());
  if (lookedUp) await lookup(lookedUp.key);
}

$('lookup-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (key) return void lookup(key);
  // An empty lookup shows nothing rather than an empty result card.
  lookedUp = null;
  $('lookup-result').hidden = true;
  drawMarker();
});
$('add-node').addEventListener('click', () => act('/api/nodes'));
$('traffic-toggle').addEventListener('click', () => act('/api/traffic', { running: !state?.traffic.running }));
$('nodes').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const id = button.closest('[data-node]').dataset.node;
  button.disabled = true;
  act(`/api/nodes/${encodeURIComponent(id)}/${button.dataset.action}`);
});

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('state', (event) => {
    state = JSON.parse(event.data);
    for (const node of state.nodes) knownColors.set(node.id, node.color);
    $('live').dataset.state = 'live';
    $('live').textContent = 'live';
    render();
    if (lookedUp && lookedUp.epoch !== state.epoch) {
      lookedUp.epoch = state.epoch;
      lookup(lookedUp.key);
    }
  });
  events.addEventListener('error', () => {
    $('live').dataset.state = 'offline';
    $('live').textContent = 'reconnecting';
  });
}
connect();

// The browser side: a textarea bound to a Y.Text, opened through the RingRoute client helper, which connects to
// the document's owner (computed from the ring it fetched from this page's node) and follows redirect hints.
import { createSmartClient, type SmartProvider } from '@ringroute/hocuspocus/client';
import type * as Y from 'yjs';
import { showHandovers } from './handovers.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const editor = $<HTMLTextAreaElement>('editor');
const client = createSmartClient({ nodes: [window.location.origin] });
let current: { handle: SmartProvider; text: Y.Text; detach: () => void } | undefined;

/** Applies the textarea's new value to the Y.Text as one minimal edit (common prefix and suffix kept). */
function applyEdit(text: Y.Text, next: string): void {
  const previous = text.toString();
  if (previous === next) return;
  let start = 0;
  while (start < previous.length && start < next.length && previous[start] === next[start]) start++;
  let end = 0;
  while (end < previous.length - start && end < next.length - start && previous[previous.length - 1 - end] === next[next.length - 1 - end])
    end++;
  text.doc!.transact(() => {
    text.delete(start, previous.length - start - end);
    text.insert(start, next.slice(start, next.length - end));
  });
}

/** Shows remote edits, keeping the local selection where it was relative to the text around it. */
function showRemote(text: Y.Text, event: Y.YTextEvent): void {
  let { selectionStart: from, selectionEnd: to } = editor;
  let index = 0;
  for (const op of event.changes.delta) {
    if (op.retain) index += op.retain;
    else if (typeof op.insert === 'string') {
      if (index <= from) from += op.insert.length;
      if (index < to) to += op.insert.length;
      index += op.insert.length;
    } else if (op.delete) {
      if (index < from) from -= Math.min(op.delete, from - index);
      if (index < to) to -= Math.min(op.delete, to - index);
    }
  }
  editor.value = text.toString();
  editor.setSelectionRange(from, to);
}

function renderStatus(): void {
  const ring = client.ring;
  const handle = current?.handle;
  const owner = handle && ring?.owner(handle.documentName);
  $('doc-name').textContent = handle?.documentName ?? '–';
  $('owner').textContent = owner ? `${owner.id} (${owner.url})` : '–';
  $('page-node').textContent = window.location.host;
  $('connected').textContent = handle ? `${handle.nodeId ?? '?'} (${handle.nodeUrl})` : '–';
  const state = $('state');
  state.textContent = handle?.isSynced ? 'synced' : 'connecting';
  state.className = handle?.isSynced ? 'synced' : 'waiting';
  $('nodes').innerHTML = (ring?.nodes ?? [])
    .map((n) => `<li class="${n.id === owner?.id ? 'owner' : ''}" data-node="${n.id}">${n.id} · ${n.status}</li>`)
    .join('');
}

function logMove(text: string): void {
  const moves = $('moves');
  if (moves.dataset.used !== '1') moves.innerHTML = '';
  moves.dataset.used = '1';
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  moves.prepend(item);
}

async function open(name: string): Promise<void> {
  current?.detach();
  editor.disabled = true;
  editor.placeholder = 'connecting…';
  const handle = await client.open(name);
  const text = handle.document.getText('content');
  const observer = (event: Y.YTextEvent) => {
    if (!event.transaction.local) showRemote(text, event);
  };
  const onInput = () => applyEdit(text, editor.value);
  const onSynced = () => {
    editor.value = text.toString();
    editor.disabled = false;
    editor.placeholder = 'Empty document: type here';
    renderStatus();
  };
  const onMove = (move: { from: { id?: string }; to: { id?: string }; reason: string }) => {
    logMove(`${move.from.id ?? '?'} → ${move.to.id ?? '?'} (${move.reason})`);
    renderStatus();
  };
  text.observe(observer);
  editor.addEventListener('input', onInput);
  handle.on('synced', onSynced);
  handle.on('move', onMove);
  current = {
    handle,
    text,
    detach: () => {
      text.unobserve(observer);
      editor.removeEventListener('input', onInput);
      handle.off('synced', onSynced);
      handle.off('move', onMove);
      handle.close();
    },
  };
  $<HTMLInputElement>('doc-input').value = name;
  history.replaceState(null, '', `?doc=${encodeURIComponent(name)}`);
  renderStatus();
  if (handle.isSynced) onSynced();
}

$('open-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $<HTMLInputElement>('doc-input').value.trim();
  if (name) void open(name);
});
client.on('ring', renderStatus);
// The ring changes as nodes join and leave; refresh it now and then so the cluster list stays current.
setInterval(() => void client.refreshRing().then(renderStatus), 3000);
showHandovers($<HTMLTableSectionElement>('handovers'));
void open(new URLSearchParams(window.location.search).get('doc') || 'welcome');

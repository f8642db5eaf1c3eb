// The browser side: a Tiptap (ProseMirror) editor with collaboration carets on a plain Hocuspocus provider that
// connects to the node which served this page (behind a load balancer: its one URL). That node relays the document to
// its owner when it does not own it, so text and awareness (carets, who is here) cross nodes without client code.
import { HocuspocusProvider } from '@hocuspocus/provider';
import { Editor } from '@tiptap/core';
import Collaboration from '@tiptap/extension-collaboration';
import CollaborationCaret from '@tiptap/extension-collaboration-caret';
import StarterKit from '@tiptap/starter-kit';
import { showHandovers } from './handovers.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const COLORS = ['#7aa2ff', '#3ddc97', '#ffc857', '#ff6b6b', '#c792ea', '#4dd0e1', '#f78c6c'];

const params = new URLSearchParams(window.location.search);
const documentName = params.get('doc') || 'welcome';
const user = {
  name: params.get('name') || `Guest ${Math.floor(Math.random() * 900 + 100)}`,
  color: /^#[0-9a-f]{6}$/i.test(params.get('color') ?? '') ? params.get('color')! : COLORS[Math.floor(Math.random() * COLORS.length)]!,
};

const provider = new HocuspocusProvider({
  url: `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}`,
  name: documentName,
});
const editor = new Editor({
  element: $('editor'),
  extensions: [
    // Yjs keeps the history of every collaborator: the editor's own undo stack must not.
    StarterKit.configure({ undoRedo: false }),
    Collaboration.configure({ document: provider.document }),
    CollaborationCaret.configure({ provider, user }),
  ],
  editable: false,
});

function renderState(): void {
  const state = $('state');
  const unsaved = provider.unsyncedChanges;
  state.textContent = !provider.isSynced ? 'connecting' : unsaved > 0 ? `synced · ${unsaved} unsaved` : 'synced · all saved';
  state.className = provider.isSynced && unsaved === 0 ? 'synced' : 'waiting';
  state.dataset.unsynced = String(unsaved);
}

function renderUsers(): void {
  const items = [...provider.awareness!.getStates()].map(([clientId, state]) => {
    const item = document.createElement('li');
    const { name = 'anonymous', color = '#8a93a6' } = (state.user ?? {}) as { name?: string; color?: string };
    item.textContent = clientId === provider.document.clientID ? `${name} (you)` : name;
    item.style.color = color;
    item.dataset.user = name;
    return item;
  });
  $('users').replaceChildren(...items);
}

let lastOwner: string | undefined;

function logOwnerChange(text: string): void {
  const moves = $('moves');
  if (moves.dataset.used !== '1') moves.replaceChildren();
  moves.dataset.used = '1';
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  moves.prepend(item);
}

/** Who owns the document and which nodes there are, as this page's node sees it; refreshed every second. */
async function renderRoute(): Promise<void> {
  try {
    const [route, stats] = await Promise.all(
      [`/api/routes/document/${encodeURIComponent(documentName)}`, '/api/routes/stats'].map(async (path) => {
        const response = await fetch(path, { cache: 'no-store', signal: AbortSignal.timeout(2000) });
        if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
        return response.json();
      }),
    );
    const owner = (route as { owner?: { id: string } }).owner?.id;
    const { self, nodes } = stats as { self: string; nodes: { id: string; status?: string }[] };
    if (lastOwner && owner && owner !== lastOwner) logOwnerChange(`${lastOwner} → ${owner}`);
    lastOwner = owner ?? lastOwner;
    $('owner').textContent = owner ?? '–';
    $('page-node').textContent = `${self} (${window.location.host})`;
    $('path').textContent = owner === undefined ? '–' : owner === self ? 'direct: this node owns it' : `relayed by ${self} to ${owner}`;
    $('nodes').replaceChildren(
      ...nodes.map((node) => {
        const item = document.createElement('li');
        item.textContent = `${node.id}${node.status ? ` · ${node.status}` : ''}`;
        item.dataset.node = node.id;
        if (node.id === owner) item.className = 'owner';
        return item;
      }),
    );
  } catch {
    $('path').textContent = `no answer from ${window.location.host}`;
  }
  setTimeout(() => void renderRoute(), 1000);
}

provider.on('synced', () => {
  editor.setEditable(true);
  editor.commands.focus('end');
  renderState();
});
provider.on('unsyncedChanges', renderState);
provider.on('status', renderState);
provider.awareness!.on('change', renderUsers);
$('doc-name').textContent = documentName;
$<HTMLInputElement>('doc-input').value = documentName;
$('you').textContent = user.name;
$('you').style.color = user.color;
renderState();
renderUsers();
void renderRoute();
showHandovers($<HTMLTableSectionElement>('handovers'));
// For the test and the curious: the editor and its provider.
Object.assign(window, { editor, provider });

/**
 * The dashboard: one WebSocket, one State, one render per animation frame at
 * most (and only when something changed), only the visible page rendered.
 */
import './style.css';
import { h, replace } from './dom.js';
import { LiveSocket, setToken, takeTokenFromFragment, token } from './live.js';
import { Alerts } from './pages/alerts.js';
import { Collective } from './pages/collective.js';
import { Connections } from './pages/connections.js';
import { Overview } from './pages/overview.js';
import { Peers } from './pages/peers.js';
import { Relay } from './pages/relay.js';
import { State } from './state.js';

takeTokenFromFragment();

const state = new State();
const PAGES = ['overview', 'peers', 'relay', 'connections', 'alerts', 'collective'] as const;
type Page = (typeof PAGES)[number];
const TITLES: Record<Page, string> = {
  overview: 'Overview',
  peers: 'Peers',
  relay: 'Relay',
  connections: 'Connections',
  alerts: 'Alerts',
  collective: 'Collective',
};

let selected: string | null = null;
let dirty = true;
let frame = 0;
const invalidate = () => {
  dirty = true;
  if (!frame) frame = requestAnimationFrame(draw);
};

const socket = new LiveSocket({
  onMessage: (m) => {
    state.apply(m);
    invalidate();
  },
  onState: (connected) => {
    state.connected = connected;
    state.everConnected ||= connected;
    invalidate();
  },
});

const pages = {
  overview: new Overview(),
  peers: new Peers((key) => {
    selected = key;
    state.watchKey = key;
    state.messages = [];
    socket.watch(key);
    invalidate();
  }, invalidate),
  relay: new Relay(),
  connections: new Connections(),
  alerts: new Alerts(),
  collective: new Collective(),
};

const nav = document.getElementById('nav')!;
const main = document.getElementById('main')!;
const status = document.getElementById('status')!;
const auth = document.getElementById('auth')!;

function currentPage(): Page {
  const m = /^#\/(\w+)/.exec(location.hash);
  return m && (PAGES as readonly string[]).includes(m[1]!) ? (m[1] as Page) : 'overview';
}

let shown: Page | null = null;
function draw(): void {
  frame = 0;
  if (!dirty) return;
  dirty = false;
  const page = currentPage();
  if (page !== shown) {
    shown = page;
    replace(nav, ...PAGES.map((p) => h('a', { class: p === page ? 'active' : '', attrs: { href: `#/${p}` } }, TITLES[p])));
    replace(main, pages[page].el);
    document.title = `${TITLES[page]} · peer-observer`;
  }
  const open = [...state.alerts.values()].filter((a) => a.status === 'active').length;
  let openPeers = 0;
  for (const p of state.peers.values()) if (p.state === 'open') openPeers++;
  status.textContent = state.connected
    ? `live · ${openPeers} peers · ${open} open alerts${state.stats?.eventsDropped ? ` · ${state.stats.eventsDropped} events dropped` : ''}`
    : 'disconnected, retrying…';
  status.className = `status ${state.connected ? 'ok' : 'bad'}`;
  auth.hidden = state.connected || state.everConnected;
  if (page === 'peers') pages.peers.render(state, selected);
  else pages[page].render(state);
  (window as unknown as { __po: unknown }).__po = { state, pages, frames: frames };
}
let frames = 0;

function tokenForm(): void {
  const input = h('input', { attrs: { type: 'password', placeholder: 'bearer token', 'aria-label': 'bearer token', autocomplete: 'off' } });
  const form = h(
    'form',
    null,
    'Cannot reach the live feed. If this observer was started with --http-token, enter the token: ',
    input,
    h('button', { attrs: { type: 'submit' } }, 'Connect'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value) setToken(input.value);
    socket.connect();
  });
  replace(auth, form);
  if (token()) input.placeholder = 'token (the stored one was refused?)';
}

window.addEventListener('hashchange', () => {
  takeTokenFromFragment();
  invalidate();
});
window.addEventListener('resize', invalidate);
// Ages tick even when nothing arrives.
setInterval(() => {
  frames++;
  invalidate();
}, 1000);
tokenForm();
socket.connect();
invalidate();

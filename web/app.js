// chathub's page: signs in, connects, and hands everything to the chat. Plain ES modules, no
// build step; js/protocol.js holds the wire rules of shared/PROTOCOL.md.

import { $ } from './js/dom.js';
import { Chat } from './js/chat.js';
import { Composer } from './js/composer.js';
import { Connection } from './js/connection.js';
import { drawerOpen, setDrawer } from './js/drawer.js';
import { identity } from './js/identity.js';
import { Login } from './js/login.js';
import { Close, authFrame, socketURL, tokenExpiry } from './js/protocol.js';
import { Sidebar } from './js/sidebar.js';
import { Status } from './js/status.js';

const login = new Login();
const status = new Status({ onRetry: () => conn.retryNow() });
const composer = new Composer({ onSend: (text, context) => chat.post(text, context), onTyping: () => chat.typing() });
const sidebar = new Sidebar({
  select: (id) => chat.select(id),
  leave: (id) => chat.leave(id),
  join: (id, peer) => chat.joinByName(id, peer),
  openPrivate: (userId) => chat.openPrivate(userId),
});
const chat = new Chat({ sidebar, composer, status, identity });
let everConnected = false;
let replacedNotice = null;

const conn = new Connection({
  url: () => socketURL(location, { user: identity.user, token: identity.token, session: identity.session }),
  firstFrame: () => authFrame(identity.token),
  onObject: (obj) => chat.handle(obj),
  onState: (s) => stateChanged(s),
});
chat.use(conn);

function stateChanged(s) {
  switch (s.state) {
    case 'connecting':
      return status.show('connecting', everConnected ? 'Reconnecting…' : 'Connecting…');
    case 'connected':
      everConnected = true;
      status.show('connected', 'Connected');
      return chat.connected(s.welcome);
    case 'reconnecting':
      chat.disconnected();
      return status.show('reconnecting', navigator.onLine ? 'Reconnecting' : 'Offline: retrying', { at: s.at, retry: true });
    case 'stopped':
      chat.disconnected();
      return stopped(s);
  }
}

/** stopped explains a connection the gateway will not take back as it is. */
function stopped({ code, error }) {
  if (code === Close.normal) return status.show('offline', 'Signed out');
  if (code === Close.replaced) {
    status.show('offline', 'Open in another tab');
    replacedNotice = status.toast('This chat was opened in another tab with the same session, so this tab stopped.', {
      action: 'Use this tab',
      kind: 'warn',
      sticky: true,
      onAction: () => {
        identity.newSession(); // our own session, so the two tabs stop taking turns
        conn.start();
      },
    });
    return;
  }
  if (code === Close.unauthorized || error?.code === 'unauthorized') {
    status.show('offline', 'Not signed in');
    return askToken(identity.token);
  }
  if (error?.code === 'invalid_user' && identity.token) {
    identity.token = ''; // an open-mode server: it wants a name in ?user=, not a token
    status.show('offline', 'Not signed in');
    return signIn('name', 'This server does not use tokens: pick a name instead.');
  }
  if (error?.code === 'invalid_user') {
    status.show('offline', 'Not signed in');
    return signIn('name', `The server refused the name "${identity.user}": ${error.message || 'pick another one'}.`);
  }
  if (code === Close.protocol && error?.code === 'bad_request') {
    identity.newSession(); // the one thing of ours it can refuse as a bad request
  }
  status.show('offline', `Disconnected: ${error?.message || 'the server refused the connection'}`, { retry: false });
  status.toast('The server closed the connection and asked not to reconnect as is.', {
    action: 'Try again',
    kind: 'error',
    sticky: true,
    onAction: () => conn.start(),
  });
}

function askToken(old) {
  let why = 'This server asks for an access token.';
  if (old) {
    const exp = tokenExpiry(old);
    why =
      exp && exp <= Date.now()
        ? `Your token expired on ${new Date(exp).toLocaleString()}. Paste a new one.`
        : 'The server refused your token. Paste a valid one.';
  }
  identity.token = '';
  return signIn('token', why);
}

/** signIn asks for a name or token, then connects as that person. */
async function signIn(mode, message = '') {
  const answer = await login.ask(mode, message, { name: identity.user });
  const previous = chat.me;
  if (answer.token) identity.token = answer.token;
  else {
    identity.token = '';
    identity.user = answer.user;
  }
  if (previous && previous !== answer.user) chat.reset();
  conn.start();
}

function signOut() {
  conn.stop(Close.normal); // 1000: the gateway lets the others know at once
  chat.reset();
  identity.forget();
  status.show('offline', 'Signed out');
  signIn('name');
}

function wireChrome() {
  $('sign-out').addEventListener('click', signOut);
  const joinForm = $('join-form');
  const joinName = $('join-name');
  const joinError = $('join-error');
  joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const problem = chat.joinByName(joinName.value);
    joinError.textContent = problem;
    joinName.setAttribute('aria-invalid', String(Boolean(problem)));
    if (!problem) {
      joinName.value = '';
      composer.focus();
    }
  });
  joinName.addEventListener('input', () => {
    joinError.textContent = '';
    joinName.removeAttribute('aria-invalid');
  });
  $('rooms-refresh').addEventListener('click', () => chat.refreshDirectory());
  const toggle = $('menu-toggle');
  toggle.addEventListener('click', () => setDrawer(!drawerOpen()));
  $('scrim').addEventListener('click', () => setDrawer(false));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && drawerOpen()) {
      setDrawer(false);
      toggle.focus();
    }
    if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const ids = [...chat.rooms.keys()];
      const i = ids.indexOf(chat.active);
      const next = ids[(i + (e.key === 'ArrowDown' ? 1 : ids.length - 1)) % ids.length];
      if (next) {
        e.preventDefault();
        chat.select(next);
        composer.focus();
      }
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      chat.visible();
      if (chat.online) chat.refreshDirectory();
    }
  });
  setInterval(() => {
    if (chat.online && document.visibilityState === 'visible') chat.refreshDirectory();
  }, 20000);
  window.addEventListener('online', () => conn.retryNow());
  window.addEventListener('hashchange', () => {
    if (identity.takeFragmentToken()) {
      replacedNotice?.();
      chat.reset();
      conn.restart();
    }
  });
}

function boot() {
  wireChrome();
  identity.takeFragmentToken();
  if (identity.token || identity.user) return conn.start();
  status.show('offline', 'Not signed in');
  signIn('name');
}

boot();

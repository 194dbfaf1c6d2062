// The sign-in dialog: a name in open mode, a token in token mode. The page cannot know the
// mode in advance, so the dialog offers both and the caller says which to lead with.

import { $ } from './dom.js';
import { userNameProblem } from './protocol.js';

export class Login {
  constructor() {
    this.dialog = $('login');
    this.form = $('login-form');
    this.message = $('login-message');
    this.namePart = $('login-name-part');
    this.tokenPart = $('login-token-part');
    this.name = $('login-name');
    this.token = $('login-token');
    this.switchBtn = $('login-switch');
    this.title = $('login-title');
    this.mode = 'name';
    this.resolve = null;
    this.dialog.addEventListener('cancel', (e) => e.preventDefault()); // no way around signing in
    this.switchBtn.addEventListener('click', () => this.setMode(this.mode === 'name' ? 'token' : 'name'));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.token.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        this.submit();
      }
    });
  }

  /**
   * ask opens the dialog and resolves with {user} or {token}.
   * @param {'name'|'token'} mode
   * @param {string} message why we ask (shown as an alert), or ""
   */
  ask(mode, message = '', { name = '' } = {}) {
    this.setMode(mode);
    this.message.textContent = message;
    this.message.hidden = !message;
    if (name) this.name.value = name;
    if (!this.dialog.open) this.dialog.showModal();
    this.showLobby();
    (mode === 'name' ? this.name : this.token).focus();
    return new Promise((resolve) => (this.resolve = resolve));
  }

  /** showLobby tells who is around (GET /users, GET /rooms), so the page is not a blank form. */
  async showLobby() {
    const line = $('login-lobby');
    try {
      const [users, rooms] = await Promise.all(['users', 'rooms'].map((p) => fetch(p).then((r) => (r.ok ? r.json() : Promise.reject()))));
      const u = users.users?.length || 0;
      const top = (rooms.rooms || []).sort((a, b) => b.users - a.users).slice(0, 3).map((r) => `#${r.chatroomId}`);
      line.textContent =
        `${u === 1 ? '1 person' : `${u} people`} online` + (top.length ? ` · busiest rooms: ${top.join(', ')}` : '');
      line.hidden = false;
    } catch {
      line.hidden = true; // only a nicety: the dialog works without it
    }
  }

  setMode(mode) {
    this.mode = mode;
    this.namePart.hidden = mode !== 'name';
    this.tokenPart.hidden = mode !== 'token';
    this.title.textContent = mode === 'name' ? 'Join the chat' : 'Sign in with a token';
    this.switchBtn.textContent = mode === 'name' ? 'I have a token' : 'Use a name instead';
    (mode === 'name' ? this.name : this.token).focus();
  }

  submit() {
    if (this.mode === 'name') {
      const user = this.name.value.trim();
      const problem = userNameProblem(user);
      if (problem) return this.fail(problem, this.name);
      this.done({ user });
    } else {
      const token = this.token.value.trim().replace(/^Bearer\s+/i, '');
      if (!token) return this.fail('Paste your token.', this.token);
      if (token.split('.').length !== 3) return this.fail('That does not look like a token (three parts separated by dots).', this.token);
      this.done({ token });
    }
  }

  fail(text, field) {
    this.message.textContent = text;
    this.message.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  done(answer) {
    this.name.removeAttribute('aria-invalid');
    this.token.removeAttribute('aria-invalid');
    this.token.value = '';
    this.dialog.close();
    const r = this.resolve;
    this.resolve = null;
    if (r) r(answer);
  }
}

// The message box: Enter sends, Shift+Enter starts a new line, and a counter of the
// 4,000-byte limit (UTF-8 bytes, as the gateway counts them).

import { $ } from './dom.js';
import { MAX_MESSAGE_BYTES, messageProblem, utf8Bytes } from './protocol.js';

const nf = new Intl.NumberFormat();

export class Composer {
  /**
   * @param {{onSend: (text: string, context: {kind: string, ev: object}|null) => boolean, onTyping?: () => void}} h
   * onSend returns true if it took the text; context is the reply or edit under way.
   */
  constructor({ onSend, onTyping = () => {} }) {
    this.form = $('composer');
    this.input = $('composer-input');
    this.send = $('composer-send');
    this.counter = $('composer-counter');
    this.label = $('composer-label');
    this.onSend = onSend;
    this.context = null; // {kind: 'reply'|'edit', ev}
    this.contextBox = $('composer-context');
    this.contextText = $('composer-context-text');
    $('composer-context-cancel').addEventListener('click', () => this.clearContext());
    this.input.addEventListener('input', () => {
      this.update();
      if (this.input.value && this.context?.kind !== 'edit') onTyping();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.context) {
        e.preventDefault();
        this.clearContext();
        return;
      }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.update();
  }

  /** attach shows the box for a room, with the room's unsent draft. */
  attach(title, isPrivate, draft) {
    this.form.hidden = false;
    const where = isPrivate ? `@${title}` : `#${title}`;
    this.input.placeholder = `Message ${where}`;
    this.label.textContent = `Message to ${isPrivate ? title : 'room ' + title}`;
    this.input.value = draft;
    this.update();
  }

  detach() {
    this.form.hidden = true;
    this.clearContext();
  }

  /** setContext starts a reply to ev, or an edit of ev (its text in the box), shown above the box. */
  setContext(kind, ev, text) {
    this.context = { kind, ev };
    this.contextBox.hidden = false;
    this.contextBox.dataset.kind = kind;
    this.contextText.textContent = kind === 'edit' ? 'Editing your message' : `Replying to ${ev.userId}: ${text.length > 80 ? text.slice(0, 80) + '…' : text}`;
    if (kind === 'edit') this.input.value = text;
    this.update();
    this.focus();
  }

  clearContext() {
    if (this.context?.kind === 'edit') this.input.value = '';
    this.context = null;
    this.contextBox.hidden = true;
    this.update();
  }

  get value() {
    return this.input.value;
  }

  focus() {
    this.input.focus({ preventScroll: true });
  }

  submit() {
    const text = this.input.value;
    if (messageProblem(text)) return;
    if (this.onSend(text, this.context)) {
      this.input.value = '';
      this.context = null;
      this.contextBox.hidden = true;
      this.update();
    }
  }

  update() {
    const text = this.input.value;
    const bytes = utf8Bytes(text);
    const problem = messageProblem(text);
    this.send.disabled = problem !== '';
    this.counter.textContent = `${nf.format(bytes)} / ${nf.format(MAX_MESSAGE_BYTES)} bytes${problem === 'too_large' ? ': too long' : ''}`;
    this.counter.dataset.level = bytes > MAX_MESSAGE_BYTES ? 'over' : bytes > MAX_MESSAGE_BYTES * 0.9 ? 'near' : '';
    this.counter.hidden = bytes === 0;
    this.input.setAttribute('aria-invalid', String(problem === 'too_large'));
    // Grow with the text up to a third of the window, then scroll inside.
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, Math.round(window.innerHeight / 3))}px`;
  }
}

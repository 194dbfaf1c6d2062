// The connection indicator in the top bar and the short notices ("toasts") under it.

import { $, el } from './dom.js';

export class Status {
  constructor({ onRetry }) {
    this.box = $('conn');
    this.text = $('conn-text');
    this.retry = $('conn-retry');
    this.toasts = $('toasts');
    this.tick = 0;
    this.retry.addEventListener('click', () => onRetry());
  }

  /** show sets the indicator: state is connected, connecting, reconnecting, offline or stopped. */
  show(state, text, { at = 0, retry = false } = {}) {
    clearInterval(this.tick);
    this.box.dataset.state = state;
    this.retry.hidden = !retry;
    if (!at) {
      this.text.textContent = text;
      return;
    }
    const draw = () => {
      const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      this.text.textContent = s > 0 ? `${text} in ${s} s` : `${text}…`;
    };
    draw();
    this.tick = setInterval(draw, 250);
  }

  /**
   * toast shows a notice for ms; a sticky one stays until used or closed. Returns a function
   * that removes it.
   */
  toast(message, { action, onAction, kind = 'info', ms = action ? 15000 : 7000, sticky = false } = {}) {
    const close = () => node.remove();
    const node = el(
      'div',
      { class: `toast ${kind}` },
      el('span', { text: message }),
      action &&
        el('button', {
          type: 'button',
          class: 'link-btn',
          text: action,
          onclick: () => {
            close();
            onAction();
          },
        }),
      el('button', { type: 'button', class: 'icon-btn small', text: '×', 'aria-label': 'Dismiss', onclick: close }),
    );
    this.toasts.append(node);
    if (!sticky) setTimeout(close, ms);
    return close;
  }
}

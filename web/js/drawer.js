// The sidebar as a drawer at phone width: opened by the menu button, closed by choosing a room,
// tapping outside or Escape.

import { $ } from './dom.js';

export function setDrawer(open) {
  document.body.classList.toggle('drawer-open', open);
  $('menu-toggle').setAttribute('aria-expanded', String(open));
  $('scrim').hidden = !open;
  if (open) $('sidebar').querySelector('button, input')?.focus();
}

export function drawerOpen() {
  return document.body.classList.contains('drawer-open');
}

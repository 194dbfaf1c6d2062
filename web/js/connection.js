// One WebSocket to a gateway at a time, reconnected with backoff when it drops. It knows the
// close codes of the protocol; what the objects mean is the caller's business.

import { Close, backoffDelay, splitFrame } from './protocol.js';

const CONNECT_TIMEOUT = 10000; // no welcome by then: give up on this socket and retry
const IDLE_PROBE = 30000; // no frame for this long: ask for `users` to see the link is alive
const PROBE_TIMEOUT = 10000; // and no frame within this after the probe: the link is dead

/**
 * Connection states, as passed to onState:
 *   {state: 'connecting'}
 *   {state: 'connected', welcome}
 *   {state: 'reconnecting', at}            at: ms timestamp of the next attempt
 *   {state: 'stopped', code, error}        no automatic reconnect (4001, 4500, 4501, sign out)
 */
export class Connection {
  /**
   * @param {object} o
   * @param {() => string} o.url            address of /ws, asked anew for every attempt
   * @param {(obj: object) => void} o.onObject every object from the gateway but the welcome
   * @param {(s: object) => void} o.onState
   * @param {typeof WebSocket} [o.WebSocket]
   */
  constructor({ url, firstFrame, onObject, onState, WebSocket: WS = globalThis.WebSocket }) {
    this.url = url;
    this.firstFrame = firstFrame; // what to send first on every new socket (the token), or null
    this.onObject = onObject;
    this.onState = onState;
    this.WS = WS;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.watchdog = 0;
    this.lastFrame = 0;
    this.lastError = null; // the last `error` without ref: explains a 4500/4501 close
    this.stopped = true;
    this.open = false;
  }

  /** start connects, unless already connected or connecting. */
  start() {
    this.stopped = false;
    if (this.ws) return;
    clearTimeout(this.timer);
    this.dial();
  }

  /** stop closes for good: with 1000 the gateway takes this as leaving every room now. */
  stop(code = Close.normal) {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws) ws.close(code);
    this.onState({ state: 'stopped', code, error: null });
  }

  /**
   * restart drops the socket without saying goodbye (so the gateway keeps the session in its
   * grace period) and dials again at once, for a new token or session.
   */
  restart() {
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (ws) ws.close();
    this.stopped = false;
    this.dial();
  }

  /** retryNow skips the rest of a backoff wait. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.dial();
  }

  /** send writes one command; false if there is no open connection to write it on. */
  send(cmd) {
    if (!this.open || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(cmd));
    return true;
  }

  dial() {
    this.lastError = null;
    this.onState({ state: 'connecting', attempt: this.attempt });
    let ws;
    try {
      ws = new this.WS(this.url());
    } catch (err) {
      this.ws = null;
      this.onState({ state: 'stopped', code: 0, error: { code: 'bad_address', message: String(err) } });
      return;
    }
    this.ws = ws;
    this.lastFrame = Date.now();
    const started = Date.now();
    ws.onopen = () => {
      const first = this.firstFrame?.();
      if (first && this.ws === ws) ws.send(first); // the token, before anything else
    };
    ws.onmessage = (e) => this.receive(ws, e.data);
    ws.onclose = (e) => this.closed(ws, e.code, e.reason);
    ws.onerror = () => {}; // onclose follows and tells what happened
    clearInterval(this.watchdog);
    let probed = 0;
    this.watchdog = setInterval(() => {
      if (this.ws !== ws) return;
      const now = Date.now();
      if (!this.open && now - started > CONNECT_TIMEOUT) return ws.close();
      if (!this.open) return;
      if (now - this.lastFrame > IDLE_PROBE && !probed) {
        probed = now;
        this.send({ type: 'users', ref: 'probe' });
      } else if (probed && this.lastFrame < probed && now - probed > PROBE_TIMEOUT) {
        ws.close(); // 1005 to the gateway: a drop, not a leave; onclose reconnects
      } else if (this.lastFrame >= probed) {
        probed = 0;
      }
    }, 1000);
  }

  receive(ws, data) {
    if (this.ws !== ws) return;
    this.lastFrame = Date.now();
    for (const obj of splitFrame(data, (bad) => console.warn('chathub: not JSON:', bad))) {
      if (obj.type === 'welcome') {
        this.open = true;
        this.attempt = 0;
        this.onState({ state: 'connected', welcome: obj });
        continue;
      }
      if (obj.type === 'error' && !obj.ref) this.lastError = obj;
      this.onObject(obj);
    }
  }

  closed(ws, code, reason) {
    if (this.ws !== ws) return; // a socket we already let go of
    this.ws = null;
    this.open = false;
    clearInterval(this.watchdog);
    if (this.stopped) return;
    const error = this.lastError;
    if (code === Close.replaced || code === Close.protocol || code === Close.unauthorized) {
      this.stopped = true;
      this.onState({ state: 'stopped', code, error, reason });
      return;
    }
    // 1001 (gateway draining) means another gateway is ready now: come back quickly, spread out.
    const delay =
      code === Close.going && this.attempt === 0 ? 100 + Math.random() * 400 : backoffDelay(this.attempt);
    this.attempt++;
    const at = Date.now() + delay;
    this.onState({ state: 'reconnecting', at, code });
    this.timer = setTimeout(() => this.dial(), delay);
  }
}

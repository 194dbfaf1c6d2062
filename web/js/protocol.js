// Pure helpers for the wire protocol (shared/PROTOCOL.md). No DOM here, so node tests can
// import this file directly.

export const MAX_MESSAGE_BYTES = 4000;
export const HISTORY_PAGE = 50;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const BLANK = /^\p{White_Space}*$/u;
const encoder = new TextEncoder();

/** validName reports whether s is a valid userId, chatroomId or sessionId. */
export function validName(s) {
  return typeof s === 'string' && NAME.test(s);
}

/**
 * roomNameProblem returns why a room name typed by a person cannot be joined, or "" if it can.
 * Private rooms (dm-...) are made by the gateway and are never joined by typing their name.
 */
export function roomNameProblem(s) {
  if (s === '') return 'Type a room name.';
  if (s.length > 64) return 'Room names are at most 64 characters.';
  if (!NAME.test(s)) return 'Use only letters A–Z, digits, "_" and "-".';
  if (s.startsWith('dm-')) return 'Names starting with "dm-" are private rooms: open them from People.';
  return '';
}

/** userNameProblem returns why s cannot be a user name, or "" if it can. */
export function userNameProblem(s) {
  if (s === '') return 'Pick a name.';
  if (s.length > 64) return 'Names are at most 64 characters.';
  if (!NAME.test(s)) return 'Use only letters A–Z, digits, "_" and "-" (no spaces).';
  return '';
}

/** utf8Bytes is the length of s once encoded as UTF-8, the unit of the message limit. */
export function utf8Bytes(s) {
  return encoder.encode(s).length;
}

/** isBlank reports whether s holds only Unicode white space. */
export function isBlank(s) {
  return BLANK.test(s);
}

/** messageProblem returns why text cannot be sent as a message, or "" if it can. */
export function messageProblem(text) {
  if (isBlank(text)) return 'empty';
  if (utf8Bytes(text) > MAX_MESSAGE_BYTES) return 'too_large';
  return '';
}

/**
 * splitFrame turns one gateway frame into its JSON objects, in order. A frame holds one or
 * more objects separated by "\n"; empty pieces are ignored. A piece that is not JSON is
 * reported through onBad and skipped, so one bad object does not hide the others.
 */
export function splitFrame(data, onBad = () => {}) {
  const out = [];
  for (const piece of String(data).split('\n')) {
    if (piece.trim() === '') continue;
    try {
      const v = JSON.parse(piece);
      if (v && typeof v === 'object') out.push(v);
      else onBad(piece);
    } catch {
      onBad(piece);
    }
  }
  return out;
}

/**
 * backoffDelay is how long to wait before reconnect attempt n (0-based), in ms: exponential
 * from 1 s up to 16 s, with jitter so that clients of a restarted gateway do not all come back
 * at once. random is injectable for tests.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(16000, 1000 * 2 ** Math.max(0, attempt));
  return Math.round(base / 2 + random() * (base / 2));
}

/** randomId makes an id of the name alphabet, used for sessionIds and message refs. */
export function randomId(len = 16) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(len);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += abc[b % abc.length];
  return s;
}

/**
 * socketURL builds the /ws address. With a token the address names only the session: the
 * token goes as the first frame (authFrame), so it stays out of proxy and access logs.
 * Without one it asks for open mode with the user's name.
 */
export function socketURL(location, { user, token, session }) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  if (!token) q.set('user', user);
  if (session) q.set('session', session);
  return `${scheme}//${location.host}/ws?${q}`;
}

/** authFrame is the first frame of a connection with a token (protocol 1.1), or null. */
export function authFrame(token) {
  return token ? JSON.stringify({ type: 'auth', token }) : null;
}

/** jwtClaims returns the claims of a JWT, unverified, or {} if it cannot be read. */
export function jwtClaims(token) {
  try {
    const b64 = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    return json && typeof json === 'object' ? json : {};
  } catch {
    return {};
  }
}

/**
 * tokenExpiry returns the `exp` of a JWT in ms since the epoch, or 0 if it has none. The page
 * only reads it to explain a refusal; the gateway is the one that checks it.
 */
export function tokenExpiry(token) {
  const { exp } = jwtClaims(token);
  return typeof exp === 'number' ? exp * 1000 : 0;
}

/** Close codes of the protocol that change what the page does next. */
export const Close = Object.freeze({
  normal: 1000,
  going: 1001,
  tooBig: 1009,
  internal: 1011,
  slow: 4000,
  replaced: 4001,
  protocol: 4500,
  unauthorized: 4501,
});

/** Error codes after which a message is worth sending again later, unchanged. */
export const retryableErrors = new Set(['rate_limited', 'unavailable', 'internal']);

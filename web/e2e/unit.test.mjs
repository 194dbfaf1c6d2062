// Tests of the page's pure modules (no browser, no gateway): wire rules, frame splitting,
// backoff, and the room state that keeps every event exactly once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authFrame,
  backoffDelay,
  isBlank,
  jwtClaims,
  messageProblem,
  randomId,
  roomNameProblem,
  socketURL,
  splitFrame,
  tokenExpiry,
  userNameProblem,
  utf8Bytes,
  validName,
} from '../js/protocol.js';
import { Room, noticeKey } from '../js/store.js';

test('names follow the protocol rules', () => {
  assert.ok(validName('a'));
  assert.ok(validName('A-z_09'));
  assert.ok(validName('x'.repeat(64)));
  assert.ok(!validName('x'.repeat(65)));
  assert.ok(!validName(''));
  assert.ok(!validName('a b'));
  assert.ok(!validName('a.b'));
  assert.ok(!validName('é'));
  assert.equal(roomNameProblem('lobby'), '');
  assert.match(roomNameProblem('dm-abc'), /private/);
  assert.match(roomNameProblem('has space'), /letters/);
  assert.match(roomNameProblem(''), /Type/);
  assert.match(roomNameProblem('r'.repeat(65)), /64/);
  assert.equal(userNameProblem('dm-bob'), '', 'a user may be called dm-something');
  assert.match(userNameProblem('bob smith'), /no spaces/);
});

test('the message limit counts UTF-8 bytes, not characters', () => {
  assert.equal(utf8Bytes('abc'), 3);
  assert.equal(utf8Bytes('é'), 2);
  assert.equal(utf8Bytes('😀'), 4);
  assert.equal(messageProblem('x'.repeat(4000)), '');
  assert.equal(messageProblem('x'.repeat(4001)), 'too_large');
  assert.equal(messageProblem('é'.repeat(2000)), '');
  assert.equal(messageProblem('é'.repeat(2001)), 'too_large');
  assert.equal(messageProblem('😀'.repeat(1001)), 'too_large');
  assert.equal(messageProblem(' \n\t\u00a0\u3000'), 'empty');
  assert.ok(isBlank(''));
  assert.ok(!isBlank(' a '));
});

test('a frame splits into its objects, in order, skipping empty and broken pieces', () => {
  const bad = [];
  const got = splitFrame('{"type":"welcome"}\n{"id":1}\n\nnot json\n{"id":2}\n', (p) => bad.push(p));
  assert.deepEqual(got, [{ type: 'welcome' }, { id: 1 }, { id: 2 }]);
  assert.deepEqual(bad, ['not json']);
  assert.deepEqual(splitFrame('{"message":"a\\nb"}'), [{ message: 'a\nb' }], 'escaped newlines stay in the text');
});

test('backoff doubles from 1 s to 16 s with jitter', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, lo)), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, hi)), [1000, 2000, 4000, 8000, 16000, 16000, 16000]);
});

test('socket address: token mode when a token is held, open mode otherwise', () => {
  const loc = { protocol: 'https:', host: 'chat.example:8443' };
  assert.equal(socketURL(loc, { user: 'al ice', session: 's1' }), 'wss://chat.example:8443/ws?user=al+ice&session=s1');
  // With a token, the address holds no secret: the token is the first frame.
  assert.equal(socketURL({ protocol: 'http:', host: 'h' }, { user: 'u', token: 'a.b.c', session: 's' }), 'ws://h/ws?session=s');
  assert.equal(authFrame('a.b.c'), '{"type":"auth","token":"a.b.c"}');
  assert.equal(authFrame(''), null);
});

test('token claims are read for the refusal message', () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const tok = `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', exp: 1700000000 })}.sig`;
  assert.equal(jwtClaims(tok).sub, 'alice');
  assert.equal(tokenExpiry(tok), 1700000000 * 1000);
  assert.equal(tokenExpiry('garbage'), 0);
});

test('random ids fit the name alphabet', () => {
  for (let i = 0; i < 50; i++) assert.ok(validName(randomId(24)));
});

const ev = (id, extra = {}) => ({ id, chatroomId: 'r', type: 'message', userId: 'bob', message: `m${id}`, unixTime: 1, ...extra });

test('room keeps each event once, whatever order and repeats it gets', () => {
  const r = new Room('r');
  assert.deepEqual(r.merge([ev(3), ev(1), ev(2)]).map((e) => e.id), [1, 2, 3]);
  assert.deepEqual(r.merge([ev(2), ev(3), ev(4)]).map((e) => e.id), [4]);
  assert.equal(r.lastId, 4);
  assert.equal(r.oldestId, 1);
  assert.deepEqual(r.sortedEvents().map((e) => e.id), [1, 2, 3, 4]);
});

test('rejoin asks for events since the last one seen, first join for the latest page', () => {
  const r = new Room('r');
  assert.deepEqual(r.joinCommand('j1'), { type: 'join', chatroomId: 'r', ref: 'j1', limit: 50 });
  r.merge([ev(7)]);
  r.loaded = true;
  assert.deepEqual(r.joinCommand('j2'), { type: 'join', chatroomId: 'r', ref: 'j2', since: 7 });
});

test('an ack before its event holds a stand-in that the event replaces, never adds to', () => {
  const r = new Room('r');
  r.merge([ev(1)]);
  const entry = r.queue('hello');
  assert.equal(r.resendable().length, 1);
  const { standIn } = r.ack(entry.ref, 2, 'me');
  assert.equal(standIn.id, 2);
  assert.equal(standIn.message, 'hello');
  assert.equal(r.lastId, 1, 'an ack does not vouch for the events before it');
  assert.equal(r.outbox.length, 0);
  const again = r.merge([ev(2, { userId: 'me', message: 'hello' })]);
  assert.equal(again.length, 1);
  assert.ok(again[0].replaces);
  assert.equal(r.lastId, 2);
  assert.equal(r.merge([ev(2)]).length, 0);
});

test('an event before its ack: the ack only empties the outbox', () => {
  const r = new Room('r');
  const entry = r.queue('hi');
  r.merge([ev(5, { userId: 'me', message: 'hi' })]);
  const { entry: done, standIn } = r.ack(entry.ref, 5, 'me');
  assert.equal(done.text, 'hi');
  assert.equal(standIn, null);
  assert.equal(r.ack(entry.ref, 5, 'me').entry, null, 'a second ack of the same ref changes nothing');
  assert.equal(r.events.size, 1);
});

test('a reset (recovered: false) forgets the events, keeps the outbox', () => {
  const r = new Room('r');
  r.merge([ev(1), ev(2)]);
  r.queue('still mine');
  r.reset();
  assert.equal(r.events.size, 0);
  assert.equal(r.lastId, 0);
  assert.equal(r.outbox.length, 1);
  assert.equal(noticeKey(10), 9.5);
});

test('private rooms are titled by the peer', () => {
  const r = new Room('dm-abc', { peer: 'bob' });
  assert.ok(r.isPrivate);
  assert.equal(r.title, 'bob');
  assert.equal(new Room('lobby').title, 'lobby');
});

test('edits, deletes and reactions apply to their message by the log rules', () => {
  const r = new Room('lobby');
  const msg = { id: 10, chatroomId: 'lobby', type: 'message', userId: 'alice', message: 'hi' };
  const later = [
    { id: 12, type: 'edit', target: 10, userId: 'alice', message: 'hi!!' },
    { id: 11, type: 'edit', target: 10, userId: 'alice', message: 'hi!' }, // older: loses
    { id: 13, type: 'reaction', target: 10, userId: 'bob', emoji: '👍', on: true },
    { id: 14, type: 'reaction', target: 10, userId: 'carol', emoji: '👍', on: true },
    { id: 15, type: 'reaction', target: 10, userId: 'carol', emoji: '👍', on: false },
    { id: 16, type: 'reaction', target: 10, userId: 'bob', emoji: '🎉', on: true },
  ];
  r.merge([msg, ...later]);
  for (const ev of later) assert.equal(r.applyRef(ev), 10);
  assert.equal(r.applyRef(msg), 0);
  const s = r.shown(msg);
  assert.equal(s.text, 'hi!!');
  assert.ok(s.edited && !s.deleted);
  assert.deepEqual(s.reactions, [{ emoji: '👍', users: ['bob'] }, { emoji: '🎉', users: ['bob'] }]);
  r.applyRef({ id: 17, type: 'delete', target: 10, userId: 'alice' });
  assert.ok(r.shown(msg).deleted);
});

test('unread counts messages of others above the read marker', () => {
  const r = new Room('lobby');
  r.merge([
    { id: 1, type: 'message', userId: 'bob', message: 'a' },
    { id: 2, type: 'join', userId: 'carol' },
    { id: 3, type: 'message', userId: 'me', message: 'b' },
    { id: 4, type: 'message', userId: 'bob', message: 'c' },
    { id: 5, type: 'message', userId: 'bob', message: 'd' },
  ]);
  assert.equal(r.unreadFor('me'), 3);
  r.readUpTo = 1;
  assert.equal(r.unreadFor('me'), 2);
  r.applyRef({ id: 6, type: 'delete', target: 5, userId: 'bob' });
  assert.equal(r.unreadFor('me'), 1);
  assert.equal(r.newestMessage(), 5);
});

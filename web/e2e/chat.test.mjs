// One gateway (embedded NATS), several people in their own browser contexts.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build, launch, repoRoot, saveLogs, skipReason, startGateway } from './lib/harness.mjs';
import {
  assertClean,
  joinRoom,
  lines,
  messages,
  openChat,
  rawSocket,
  room,
  send,
  waitConnected,
  waitForLine,
  waitForTexts,
} from './lib/page.mjs';

describe('chat page on one gateway', { skip: skipReason(), timeout: 120000 }, () => {
  let gw, browser, alice, bob;

  before(async () => {
    const bins = await build();
    gw = await startGateway(bins, { id: 'gw-solo' });
    browser = await launch();
    alice = await openChat(browser, gw.base, 'alice');
    bob = await openChat(browser, gw.base, 'bob');
  });

  after(async () => {
    await browser?.close();
    if (gw) {
      const code = await gw.stop();
      saveLogs('chat');
      assert.equal(code, 0, 'gateway should exit 0 on SIGTERM');
    }
  });

  test('screenshot of a conversation for the docs (first, while the room list is tidy)', async () => {
    const maya = await openChat(browser, gw.base, 'maya', { viewport: { width: 1200, height: 720 } });
    const leo = await openChat(browser, gw.base, 'leo');
    try {
      const name = 'design';
      await joinRoom(maya.page, name);
      await joinRoom(leo.page, name);
      const script = [
        [leo, 'Morning! Did the gateway restart go smoothly last night?'],
        [maya, 'Yes: every client reconnected and rejoined with since, nothing lost.'],
        [leo, 'Nice. Even the people on the other gateway?'],
        [maya, 'Them too. History came straight from JetStream.'],
        [leo, 'Perfect, shipping it.'],
      ];
      const texts = [];
      for (const [who, text] of script) {
        await send(who.page, text);
        texts.push(text);
        await waitForTexts(maya.page, name, texts);
      }
      await leo.page.locator('#people').getByRole('button', { name: 'Chat privately with maya' }).click();
      // The private room is shown once its joined reply is in; typing before that would
      // post into the room still shown.
      await leo.page.locator('.room:not([hidden]) .room-title').filter({ hasText: '@maya' }).waitFor();
      await send(leo.page, 'Lunch at 12?');
      await maya.page.locator('#open-rooms').getByRole('button', { name: /Private chat with leo, 1 unread/ }).waitFor();
      await maya.page.getByRole('button', { name: 'Refresh the list of rooms' }).click();
      await maya.page.locator('#public-rooms li[data-room="design"] .count', { hasText: '2' }).waitFor();
      await maya.page.locator('#composer-input').blur();
      await maya.page.waitForFunction(() => document.querySelectorAll('.toast').length === 0);
      // The page is always captured; docs/screenshot.png is rewritten only when asked
      // (UPDATE_SCREENSHOT=1), so a test run leaves the tree as it was.
      const shot = await maya.page.screenshot();
      assert.ok(shot.length > 10_000, 'the screenshot has content');
      if (process.env.UPDATE_SCREENSHOT) {
        mkdirSync(path.join(repoRoot, 'docs'), { recursive: true });
        writeFileSync(path.join(repoRoot, 'docs/screenshot.png'), shot);
      }
      assertClean(maya, leo);
    } finally {
      await maya.context.close();
      await leo.context.close();
    }
  });

  test('two people chat in a room and see each other join and leave', async () => {
    await joinRoom(alice.page, 'e2e-room');
    await joinRoom(bob.page, 'e2e-room');
    await waitForLine(alice.page, 'e2e-room', 'bob joined');

    await send(alice.page, 'hello bob');
    await waitForTexts(bob.page, 'e2e-room', ['hello bob']);
    await send(bob.page, 'hi alice 👋 — ça va?');
    const seen = await waitForTexts(alice.page, 'e2e-room', ['hello bob', 'hi alice 👋 — ça va?']);
    assert.deepEqual(seen.map((m) => [m.user, m.own]), [['alice', true], ['bob', false]]);
    const bobs = await waitForTexts(bob.page, 'e2e-room', ['hello bob', 'hi alice 👋 — ça va?']);
    assert.deepEqual(bobs.map((m) => m.own), [false, true]);

    // Sender names and times are shown on others' messages.
    const other = room(bob.page, 'e2e-room').locator('li.msg.other').first();
    assert.equal(await other.locator('.sender').textContent(), 'alice');
    assert.match(await other.locator('time').textContent(), /\d/);

    // Leave: the other sees a quiet line; add/remove never show.
    await room(bob.page, 'e2e-room').getByRole('button', { name: 'Leave room e2e-room' }).click();
    await waitForLine(alice.page, 'e2e-room', 'bob left');
    for (const l of await lines(alice.page, 'e2e-room')) assert.doesNotMatch(l, /\b(add|remove)\b/);
    assert.equal(await room(bob.page, 'e2e-room').count(), 0);
    assertClean(alice, bob);
  });

  test('markup in a message is shown as text and never runs', async () => {
    await joinRoom(bob.page, 'e2e-room');
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    await send(alice.page, evil);
    const got = await waitForTexts(bob.page, 'e2e-room', ['hello bob', 'hi alice 👋 — ça va?', evil]);
    assert.equal(got.at(-1).text, evil);
    assert.equal(await bob.page.locator('.log img, .log script').count(), 0);
    assertClean(alice, bob); // an alert() would have shown up as a dialog
  });

  test('room names are checked before anything is sent', async () => {
    const { page } = alice;
    for (const [name, why] of [['dm-secret', /private/], ['no spaces', /letters/], ['x'.repeat(65), /64/]]) {
      await page.getByLabel('Room name').fill(name);
      await page.getByLabel('Room name').press('Enter');
      await page.locator('#join-error', { hasText: why }).waitFor();
    }
    assert.equal(await page.locator('.room[data-room^="dm-"]').count(), 0);
  });

  test('the counter counts UTF-8 bytes against the 4,000-byte limit', async () => {
    const { page } = alice;
    const box = page.locator('#composer-input');
    await box.fill('é'.repeat(2000));
    await page.locator('#composer-counter', { hasText: '4,000 / 4,000 bytes' }).waitFor();
    assert.equal(await page.locator('#composer-send').isDisabled(), false);
    await box.fill('é'.repeat(2001));
    await page.locator('#composer-counter', { hasText: '4,002 / 4,000 bytes: too long' }).waitFor();
    assert.equal(await page.locator('#composer-send').isDisabled(), true);
    await box.press('Enter'); // refused on the page: nothing sent
    assert.equal(await box.inputValue(), 'é'.repeat(2001));
    await box.fill('line one');
    await box.press('Shift+Enter');
    await box.pressSequentially('line two');
    assert.equal(await box.inputValue(), 'line one\nline two');
    await box.press('Enter');
    await waitForTexts(bob.page, 'e2e-room', ['hello bob', 'hi alice 👋 — ça va?', '<img src=x onerror=alert(1)><script>alert(2)</script>', 'line one\nline two']);
  });

  test('a private chat appears for the peer and stays closed to a third person', async () => {
    await alice.page.locator('#people').getByRole('button', { name: 'Chat privately with bob' }).click();
    const dmTitle = alice.page.locator('.room:not([hidden]) .room-title');
    await dmTitle.filter({ hasText: '@bob' }).waitFor();
    const dmId = await alice.page.locator('.room:not([hidden])').getAttribute('data-room');
    assert.match(dmId, /^dm-/);

    // Bob did nothing: the room appears by itself, titled with alice's name.
    await bob.page.locator('#open-rooms').getByRole('button', { name: /Private chat with alice/ }).waitFor();
    await send(alice.page, 'just between us');
    await bob.page.locator('#open-rooms').getByRole('button', { name: /Private chat with alice, 1 unread/ }).click();
    await waitForTexts(bob.page, dmId, ['just between us']);
    await send(bob.page, 'sure');
    await waitForTexts(alice.page, dmId, ['just between us', 'sure']);

    // Carol can neither join it nor read its history.
    const carol = await openChat(browser, gw.base, 'carol');
    try {
      const got = await rawSocket(carol.page, {
        query: 'user=carol&session=raw1',
        commands: [
          { type: 'join', chatroomId: dmId, ref: 'j1' },
          { type: 'history', chatroomId: dmId, ref: 'h1' },
        ],
        until: { type: 'error', ref: 'h1' },
      });
      const errs = got.filter((o) => o.type === 'error');
      assert.deepEqual(errs.map((e) => [e.ref, e.code]), [['j1', 'forbidden'], ['h1', 'forbidden']], JSON.stringify(got));
      assert.ok(!got.some((o) => o.type === 'joined' || o.type === 'history' || o.type === 'message'));
      assert.equal(await carol.page.locator('.text', { hasText: 'just between us' }).count(), 0);
    } finally {
      await carol.context.close();
    }
  });

  test('after a reload the rooms, private chats and messages come back', async () => {
    await alice.page.reload();
    await waitConnected(alice.page);
    await room(alice.page, 'e2e-room').waitFor({ state: 'attached' });
    await alice.page.locator('#open-rooms').getByRole('button', { name: /Private chat with bob/ }).click();
    const dmId = await alice.page.locator('.room:not([hidden])').getAttribute('data-room');
    await waitForTexts(alice.page, dmId, ['just between us', 'sure']);
    assert.equal(await alice.page.locator('.room:not([hidden]) .room-title').textContent(), '@bob');
    assertClean(alice, bob);
  });

  test('older messages load when scrolling up', async () => {
    const name = 'e2e-long';
    await joinRoom(alice.page, name);
    // 75 messages through a raw socket of alice's page, acked one by one.
    const commands = [{ type: 'join', chatroomId: name, ref: 'j' }];
    for (let i = 1; i <= 75; i++) commands.push({ type: 'message', chatroomId: name, message: `n${i}`, ref: `k${i}` });
    const got = await rawSocket(alice.page, { query: 'user=dave&session=filler', commands, until: { type: 'ack', ref: 'k75' }, timeout: 30000 });
    assert.equal(got.filter((o) => o.type === 'ack').length, 75, JSON.stringify(got.filter((o) => o.type === 'error' && o.code !== 'rate_limited')));

    const want = Array.from({ length: 75 }, (_, i) => `n${i + 1}`);
    await waitForTexts(alice.page, name, want); // live
    await joinRoom(bob.page, name); // latest 50 events: 48 messages, dave's leave and bob's join
    const first = await messages(bob.page, name);
    assert.ok(first.length < 75 && first.at(-1).text === 'n75', `first page: ${first.length}`);
    await room(bob.page, name).locator('.log').evaluate((el) => el.scrollTo(0, 0));
    await waitForTexts(bob.page, name, want);
    await room(bob.page, name).locator('.log-top[data-state="start"]').waitFor();
  });

  test('a second tab with the same session takes over; the first says so and can come back', async () => {
    const sid = await bob.page.evaluate(() => sessionStorage.getItem('chathub.session'));
    const twin = await bob.context.newPage();
    await twin.addInitScript((sid) => sessionStorage.setItem('chathub.session', sid), sid);
    await twin.goto(gw.base);
    await waitConnected(twin);
    await bob.page.locator('#conn[data-state="offline"]', { hasText: 'another tab' }).waitFor();
    await bob.page.getByRole('button', { name: 'Use this tab' }).click();
    await waitConnected(bob.page);
    assert.notEqual(await bob.page.evaluate(() => sessionStorage.getItem('chathub.session')), sid);
    await waitConnected(twin); // it keeps its session: the tabs no longer take turns
    await twin.close();
  });

  test('a #token= fragment leaves the address bar; an open-mode server asks for a name instead', async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${gw.base}/#token=aaa.bbb.ccc`);
      await page.getByRole('alert').filter({ hasText: 'does not use tokens' }).waitFor();
      assert.equal(new URL(page.url()).hash, '');
      assert.equal(await page.evaluate(() => localStorage.getItem('chathub.token')), null);
      await page.getByLabel('Your name').fill('frank');
      await page.getByRole('button', { name: 'Enter' }).click();
      await waitConnected(page);
    } finally {
      await ctx.close();
    }
  });

  test('usable with the keyboard alone', async () => {
    const { page } = alice;
    await page.locator('body').click({ position: { x: 1, y: 1 } }); // start from the top of the page
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.id === 'join-name');
    }
    assert.ok(found, 'Tab reaches the room name field');
    await page.keyboard.type('e2e-keys');
    await page.keyboard.press('Enter');
    await room(page, 'e2e-keys').locator('.log-top[data-state="start"]').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer-input', 'joining moves to the message box');
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');
    await waitForTexts(page, 'e2e-keys', ['typed without a mouse']);
    await page.keyboard.press('Alt+ArrowUp'); // previous open room
    assert.notEqual(await page.locator('.room:not([hidden])').getAttribute('data-room'), 'e2e-keys');
  });

  test('works at phone width with the sidebar as a drawer', async () => {
    const phone = await openChat(browser, gw.base, 'erin', { viewport: { width: 375, height: 700 }, colorScheme: 'dark' });
    try {
      const { page } = phone;
      // Lobby is opened for a first visit; the composer is usable without the sidebar.
      await page.locator('#composer-input').waitFor();
      assert.equal(await page.locator('#sidebar').isVisible(), false);
      await page.getByRole('button', { name: 'Rooms and people' }).click();
      await page.getByLabel('Room name').fill('e2e-room');
      await page.getByLabel('Room name').press('Enter');
      await room(page, 'e2e-room').locator('.log-top[data-state="more"], .log-top[data-state="start"]').first().waitFor();
      assert.equal(await page.locator('#sidebar').isVisible(), false, 'choosing a room closes the drawer');
      await page.locator('#composer-input').click(); // nothing may cover the page now
      await page.locator('#composer-input').fill('from a phone');
      await page.getByRole('button', { name: 'Send message' }).click();
      await waitForTexts(bob.page, 'e2e-room', ['hello bob', 'hi alice 👋 — ça va?', '<img src=x onerror=alert(1)><script>alert(2)</script>', 'line one\nline two', 'from a phone']);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is wider than the phone by ${overflow}px`);
      assertClean(phone);
    } finally {
      await phone.context.close();
    }
  });

  test('signing out leaves at once: the others see it without waiting for a grace period', async () => {
    // A fresh user: one whose other tabs are in their grace period would rightly only `remove`.
    const gina = await openChat(browser, gw.base, 'gina');
    try {
      await joinRoom(gina.page, 'e2e-room');
      await waitForLine(alice.page, 'e2e-room', 'gina joined');
      await gina.page.getByRole('button', { name: 'Sign out' }).click();
      await gina.page.getByLabel('Your name').waitFor();
      // Well inside the 10 s grace period that a dropped connection would get.
      await waitForLine(alice.page, 'e2e-room', 'gina left', 1, 5000);
      await alice.page.locator('#people li[data-user="gina"]').waitFor({ state: 'detached', timeout: 5000 });
      assertClean(alice, gina);
    } finally {
      await gina.context.close();
    }
  });
});

// Version 1.1 on the page: edit and delete your own messages, reactions, replies, the typing
// line, and unread counts that two browsers of one person agree on. One gateway.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build, launch, saveLogs, skipReason, startGateway } from './lib/harness.mjs';
import { assertClean, joinRoom, openChat, room, send, waitForTexts } from './lib/page.mjs';

describe('edits, deletes, reactions, replies, typing, unread', { skip: skipReason(), timeout: 180000 }, () => {
  let gw, browser, alice, alice2, bob;

  before(async () => {
    const bins = await build();
    gw = await startGateway(bins, { id: 'gw-features' });
    browser = await launch();
    alice = await openChat(browser, gw.base, 'alice');
    alice2 = await openChat(browser, gw.base, 'alice'); // another browser of the same person
    bob = await openChat(browser, gw.base, 'bob');
  });

  after(async () => {
    await browser?.close();
    if (gw) {
      const code = await gw.stop();
      saveLogs('features');
      assert.equal(code, 0, 'gateway should exit 0 on SIGTERM');
    }
  });

  const msgOf = (page, text) => room(page, 'feat').locator('li.msg', { hasText: text });

  test('edit, react, reply, typing and delete', async () => {
    await joinRoom(alice.page, 'feat');
    await joinRoom(bob.page, 'feat');
    await send(alice.page, 'first try');
    await waitForTexts(bob.page, 'feat', ['first try']);

    // Edit: the text changes for everyone, marked "(edited)".
    await msgOf(alice.page, 'first try').getByRole('button', { name: 'Edit your message' }).click();
    assert.equal(await alice.page.locator('#composer-input').inputValue(), 'first try');
    await send(alice.page, 'second try');
    await waitForTexts(bob.page, 'feat', ['second try']);
    await msgOf(bob.page, 'second try').locator('.edited').waitFor();
    assert.equal(await msgOf(bob.page, 'second try').getByRole('button', { name: 'Edit your message' }).count(), 0, "no edit on others' messages");

    // React: a count with who reacted; pressing your own again takes it back.
    await msgOf(bob.page, 'second try').getByRole('button', { name: "React with 👍 to alice's message" }).click();
    const r = msgOf(alice.page, 'second try').locator('.reaction');
    await r.filter({ hasText: '👍 1' }).waitFor();
    assert.equal(await r.getAttribute('title'), 'bob');

    // Typing (bob's first keystrokes here): alice sees bob typing; bob does not see himself.
    await bob.page.locator('#composer-input').fill('typing something');
    await room(alice.page, 'feat').locator('.typing', { hasText: 'bob is typing…' }).waitFor();
    assert.equal(await room(bob.page, 'feat').locator('.typing').textContent(), '');
    await bob.page.locator('#composer-input').fill('');

    // Reply: a quoted preview that leads to the original.
    await msgOf(bob.page, 'second try').getByRole('button', { name: "Reply to alice's message" }).click();
    await send(bob.page, 'a reply');
    await waitForTexts(alice.page, 'feat', ['second try', 'a reply']);
    const quote = msgOf(alice.page, 'a reply').locator('.quote');
    assert.equal(await quote.textContent(), 'alice: second try');
    await quote.click();
    await msgOf(alice.page, 'second try').and(alice.page.locator('.flash')).waitFor();

    // Delete: asked twice, then a tombstone everywhere, and the reply's quote says so.
    const del = msgOf(alice.page, 'second try').getByRole('button', { name: 'Delete your message' });
    await del.click();
    await msgOf(alice.page, 'second try').getByRole('button', { name: 'Press again to delete your message for everyone' }).click();
    await room(bob.page, 'feat').locator('li.msg.deleted', { hasText: 'This message was deleted.' }).waitFor();
    await msgOf(bob.page, 'a reply').locator('.quote', { hasText: 'a deleted message' }).waitFor();
    assert.equal(await room(bob.page, 'feat').locator('li.msg', { hasText: 'second try' }).count(), 0);
    assertClean(alice, bob);
  });

  test('unread counts agree across two browsers of one person', async () => {
    await joinRoom(alice.page, 'feat-unread');
    await joinRoom(alice2.page, 'feat-unread');
    await joinRoom(bob.page, 'feat-unread');
    // Both of alice's browsers look at another room while bob writes.
    await joinRoom(alice.page, 'feat-elsewhere');
    await joinRoom(alice2.page, 'feat-elsewhere');
    for (const t of ['one', 'two', 'three']) await send(bob.page, t);
    const badge = (page) => page.locator('#open-rooms li[data-room="feat-unread"] .badge');
    for (const p of [alice.page, alice2.page]) await badge(p).filter({ hasText: '3' }).waitFor();
    // Reading in one browser clears the count in the other.
    await alice.page.locator('#open-rooms li[data-room="feat-unread"] .room-btn').click();
    await waitForTexts(alice.page, 'feat-unread', ['one', 'two', 'three']);
    await badge(alice2.page).waitFor({ state: 'detached' });
    assert.equal(await badge(alice.page).count(), 0);
    assertClean(alice, alice2, bob);
  });
});

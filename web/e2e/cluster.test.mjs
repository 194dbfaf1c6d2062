// Two gateways on one natsembed: people on different gateways chat, and one gateway restarts
// under a person while the other keeps talking.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build, launch, saveLogs, skipReason, startGateway, startNats } from './lib/harness.mjs';
import { assertClean, joinRoom, lines, messages, openChat, room, send, waitConnected, waitForLine, waitForTexts } from './lib/page.mjs';

describe('chat page across two gateways', { skip: skipReason(), timeout: 150000 }, () => {
  let bins, nats, gwA, gwB, browser, alice, bob;
  const R = 'x-room';
  const DEPTH = 12; // events kept per room: more than bob misses in the restart test

  before(async () => {
    bins = await build();
    nats = await startNats(bins);
    // A short per-room history, so that being away for long enough can be tested too.
    const extra = ['--history-depth', String(DEPTH)];
    gwA = await startGateway(bins, { natsUrl: nats.url, id: 'gw-a', extra });
    gwB = await startGateway(bins, { natsUrl: nats.url, id: 'gw-b', extra });
    browser = await launch();
    [alice, bob] = await Promise.all([openChat(browser, gwA.base, 'alice'), openChat(browser, gwB.base, 'bob')]);
  });

  after(async () => {
    await browser?.close();
    const codes = [];
    for (const p of [gwA, gwB, nats]) if (p) codes.push(await p.stop());
    saveLogs('cluster');
  });

  test('people on different gateways see each other, their messages and private chats', async () => {
    await joinRoom(alice.page, R);
    await joinRoom(bob.page, R);
    await waitForLine(alice.page, R, 'bob joined');
    await send(alice.page, 'a1 from gw-a');
    await waitForTexts(bob.page, R, ['a1 from gw-a']);
    await send(bob.page, 'b1 from gw-b');
    await waitForTexts(alice.page, R, ['a1 from gw-a', 'b1 from gw-b']);

    // Presence crosses gateways too: each sees the other online.
    await alice.page.locator('#people').getByRole('button', { name: 'Chat privately with bob' }).waitFor();
    await bob.page.locator('#people').getByRole('button', { name: 'Chat privately with alice' }).click();
    await alice.page.locator('#open-rooms').getByRole('button', { name: /Private chat with bob/ }).waitFor();
    await bob.page.locator('.room:not([hidden]) .room-title', { hasText: '@alice' }).waitFor();
    const dm = await bob.page.locator('.room:not([hidden])').getAttribute('data-room');
    await send(bob.page, 'psst');
    await waitForTexts(alice.page, dm, ['psst']);
    for (const c of [alice, bob]) await c.page.locator('#open-rooms').getByRole('button', { name: `Room ${R}`, exact: true }).click();
    assertClean(alice, bob);
  });

  test('a gateway restart under bob loses nothing and repeats nothing', async () => {
    const sent = [];
    const say = async (text) => {
      await send(alice.page, text);
      sent.push(text);
    };
    await say('before 1');
    await say('before 2');
    await waitForTexts(bob.page, R, ['a1 from gw-a', 'b1 from gw-b', ...sent]);

    // SIGTERM: gw-b drains (close event, 1001) and exits 0; bob's page says it is reconnecting.
    const stopping = gwB.stop();
    await bob.page.locator('#conn[data-state="reconnecting"]').waitFor();
    assert.equal(await stopping, 0, 'gw-b should exit 0 after draining');

    for (let i = 1; i <= 4; i++) await say(`while down ${i}`);
    // Bob writes while offline: it waits in the outbox and goes out once, after the rejoin.
    await send(bob.page, 'bob typed this offline');
    await room(bob.page, R).locator('li.pending', { hasText: 'bob typed this offline' }).waitFor();

    // Start gw-b again on the same port while alice keeps talking.
    const restarting = startGateway(bins, { natsUrl: nats.url, id: 'gw-b', addr: gwB.addr, dataDir: gwB.dataDir, extra: gwB.extra });
    for (let i = 1; i <= 3; i++) await say(`during restart ${i}`);
    gwB = await restarting;
    await waitConnected(bob.page, 30000);
    for (let i = 1; i <= 2; i++) await say(`after ${i}`);

    // Both pages end with the same list: every message exactly once, in id order.
    const everything = ['a1 from gw-a', 'b1 from gw-b', ...sent, 'bob typed this offline'];
    await alice.page.waitForFunction(
      ({ R, n }) => document.querySelectorAll(`.room[data-room="${R}"] .items:not(.outbox) li.msg`).length >= n,
      { R, n: everything.length },
    );
    const aliceSees = (await messages(alice.page, R)).map((m) => m.text);
    assert.deepEqual([...aliceSees].sort(), [...everything].sort(), 'alice: each message once');
    const bobSees = await waitForTexts(bob.page, R, aliceSees, { timeout: 20000 });
    const ids = bobSees.map((m) => m.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'bob: in id order');
    assert.equal(new Set(ids).size, ids.length, 'bob: no id twice');
    // Alice's own messages keep their order relative to each other.
    assert.deepEqual(aliceSees.filter((t) => sent.includes(t)), sent);

    // Back within the grace period: no one saw bob leave or join again, and nothing was lost.
    const quiet = await lines(alice.page, R);
    assert.equal(quiet.filter((l) => /bob (left|joined)/.test(l)).length, 1, `alice's lines: ${quiet.join(' | ')}`);
    assert.equal(await room(bob.page, R).locator('li.notice').count(), 0, 'bob should have every event back (recovered)');
    assertClean(alice, bob);
  });

  test('away longer than the history keeps: the page says so and shows the latest', async () => {
    const G = 'gap-room';
    await joinRoom(alice.page, G);
    await joinRoom(bob.page, G);
    await send(alice.page, 'g0');
    await waitForTexts(bob.page, G, ['g0']);

    const stopping = gwB.stop();
    await bob.page.locator('#conn[data-state="reconnecting"]').waitFor();
    assert.equal(await stopping, 0);
    const sent = ['g0'];
    for (let i = 1; i <= DEPTH + 3; i++) {
      await send(alice.page, `g${i}`);
      sent.push(`g${i}`);
    }
    await waitForTexts(alice.page, G, sent);
    gwB = await startGateway(bins, { natsUrl: nats.url, id: 'gw-b', addr: gwB.addr, dataDir: gwB.dataDir, extra: gwB.extra });
    await waitConnected(bob.page, 30000);

    // The stream kept only the latest DEPTH events: bob is told of the gap and sees the
    // messages among them. Which those are depends on whether bob came back within his grace
    // period (on a slow machine his leave and join may take two of the DEPTH places), so
    // they are read from the stream itself.
    await room(bob.page, G).locator('li.notice').waitFor();
    const stored = await (await fetch(`${gwB.base}/history?chatroomId=${G}&limit=${DEPTH}`)).json();
    const kept = stored.events.filter((e) => e.type === 'message').map((e) => e.message);
    assert.ok(kept.length >= DEPTH - 2 && kept.at(-1) === sent.at(-1), `stored: ${kept.join(' ')}`);
    assert.deepEqual(kept, sent.slice(-kept.length), 'the stream keeps the latest messages');
    await bob.page.locator(`.room[data-room="${G}"] li.msg .text`, { hasText: kept.at(-1) }).waitFor();
    const shown = (await messages(bob.page, G)).map((m) => m.text);
    assert.deepEqual(shown.slice(-kept.length), kept, `bob shows: ${shown.join(' ')}`);
    assert.equal(new Set(shown).size, shown.length, 'nothing twice');
    assertClean(alice, bob);
  });
});

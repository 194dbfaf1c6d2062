// Token mode: the gateway has an HS256 secret, and the page learns that only when it is refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build, jwt, launch, saveLogs, skipReason, startGateway } from './lib/harness.mjs';
import { assertClean, joinRoom, send, waitConnected, waitForTexts } from './lib/page.mjs';

const SECRET = 'e2e-secret-0123456789abcdef0123456789';
const now = () => Math.floor(Date.now() / 1000);

describe('chat page in token mode', { skip: skipReason(), timeout: 90000 }, () => {
  let gw, browser;

  before(async () => {
    const bins = await build();
    gw = await startGateway(bins, { id: 'gw-token', env: { CHAT_AUTH_SECRET: SECRET } });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    saveLogs('token');
  });

  async function page() {
    const context = await browser.newContext();
    context.setDefaultTimeout(15000);
    const p = await context.newPage();
    const problems = [];
    p.on('pageerror', (e) => problems.push(e.message));
    p.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      d.dismiss();
    });
    return { context, page: p, problems, user: 'token-user' };
  }

  test('a name is refused and a pasted token is asked for; a good one signs in', async () => {
    const c = await page();
    try {
      const { page: p } = c;
      await p.goto(gw.base);
      await p.getByLabel('Your name').fill('mallory');
      await p.getByRole('button', { name: 'Enter' }).click();
      await p.getByRole('alert').filter({ hasText: 'asks for an access token' }).waitFor();
      await p.getByLabel('Access token').fill(jwt(SECRET, { sub: 'alice', exp: now() + 600 }));
      await p.getByRole('button', { name: 'Enter' }).click();
      await waitConnected(p);
      assert.equal(await p.locator('#me-name').textContent(), 'alice');
      await joinRoom(p, 'token-room');
      await send(p, 'signed in with a token');
      await waitForTexts(p, 'token-room', ['signed in with a token']);
      assertClean(c);
    } finally {
      await c.context.close();
    }
  });

  test('#token= in the link signs in at once and leaves the address bar', async () => {
    const c = await page();
    try {
      const { page: p } = c;
      const sockets = [];
      p.on('websocket', (ws) => sockets.push(ws.url()));
      await p.goto(`${gw.base}/#token=${jwt(SECRET, { sub: 'bob', exp: now() + 600 })}`);
      await waitConnected(p);
      assert.equal(await p.locator('#me-name').textContent(), 'bob');
      assert.equal(new URL(p.url()).hash, '');
      // The token goes as the first frame, never in the address (proxy and access logs).
      assert.ok(sockets.length > 0, 'no WebSocket seen');
      for (const u of sockets) assert.ok(!new URL(u).searchParams.has('token'), `token in ${u}`);
      assertClean(c);
    } finally {
      await c.context.close();
    }
  });

  test('an expired token and a forged one are explained', async () => {
    const c = await page();
    try {
      const { page: p } = c;
      await p.goto(`${gw.base}/#token=${jwt(SECRET, { sub: 'carol', exp: now() - 60 })}`);
      await p.getByRole('alert').filter({ hasText: 'Your token expired' }).waitFor();
      await p.getByLabel('Access token').fill(jwt('not-the-secret', { sub: 'carol', exp: now() + 600 }));
      await p.getByRole('button', { name: 'Enter' }).click();
      await p.getByRole('alert').filter({ hasText: 'refused your token' }).waitFor();
      assert.equal(await p.locator('#conn').getAttribute('data-state'), 'offline');
      assertClean(c);
    } finally {
      await c.context.close();
    }
  });
});

// Helpers that use the chat page as a person would: through labels, buttons and the keyboard.
// Waits are Playwright's own (locator auto-waiting, waitForFunction polling), never sleeps.

import assert from 'node:assert/strict';

const WAIT = 15000;

/** openChat opens the page in a fresh browser context and signs in with a name. */
export async function openChat(browser, base, user, { viewport = { width: 1100, height: 720 }, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    // A refused WebSocket while a gateway restarts is expected; anything else is not.
    if (m.type() === 'error' && !/WebSocket connection to .* failed/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  await page.goto(base);
  await page.getByLabel('Your name').fill(user);
  await page.getByRole('button', { name: 'Enter' }).click();
  await waitConnected(page);
  return { context, page, problems, user };
}

export async function waitConnected(page, timeout = WAIT) {
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout });
}

/** room is the locator of one room's section. */
export function room(page, id) {
  return page.locator(`.room[data-room="${id}"]`);
}

/** joinRoom types a room name into "Join a room" and waits for its history to be in. */
export async function joinRoom(page, name) {
  const field = page.getByLabel('Room name');
  if (!(await field.isVisible())) await page.getByRole('button', { name: 'Rooms and people' }).click(); // phone width
  await field.fill(name);
  await page.getByLabel('Room name').press('Enter');
  await room(page, name).locator('.log-top[data-state="more"], .log-top[data-state="start"]').first().waitFor();
}

/** send types text in the message box and presses Enter. */
export async function send(page, text) {
  const box = page.locator('#composer-input');
  await box.fill(text);
  await box.press('Enter');
}

/** messages lists the messages drawn in a room: [{user, text, own, pending}]. */
export function messages(page, id) {
  return page.evaluate((id) => {
    const sel = `.room[data-room="${CSS.escape(id)}"] li.msg`;
    return [...document.querySelectorAll(sel)].map((li) => ({
      id: li.dataset.id ? Number(li.dataset.id) : null,
      user: li.dataset.user || '',
      text: li.querySelector('.text').textContent,
      own: li.classList.contains('own'),
      pending: li.classList.contains('pending'),
    }));
  }, id);
}

/** lines lists the quiet lines of a room (joins, leaves, notices). */
export function lines(page, id) {
  return page.evaluate(
    (id) => [...document.querySelectorAll(`.room[data-room="${CSS.escape(id)}"] li.line`)].map((li) => li.textContent.trim()),
    id,
  );
}

/**
 * waitForTexts waits until the room shows exactly these message texts (acked), in order, then
 * returns the messages. On time-out it fails with what the page showed instead.
 */
export async function waitForTexts(page, id, texts, { timeout = WAIT } = {}) {
  try {
    await page.waitForFunction(
      ({ id, texts }) => {
        const got = [...document.querySelectorAll(`.room[data-room="${CSS.escape(id)}"] .items:not(.outbox) li.msg .text`)].map((e) => e.textContent);
        return got.length === texts.length && got.every((t, i) => t === texts[i]);
      },
      { id, texts },
      { timeout, polling: 100 },
    );
  } catch (err) {
    const got = (await messages(page, id)).map((m) => m.text);
    assert.deepEqual(got, texts, `room ${id} did not show the expected messages: ${err.message.split('\n')[0]}`);
  }
  return messages(page, id);
}

/** waitForLine waits until a room holds at least n quiet lines with this text (shown or not). */
export async function waitForLine(page, id, text, n = 1, timeout = WAIT) {
  await page.waitForFunction(
    ({ id, text, n }) =>
      [...document.querySelectorAll(`.room[data-room="${CSS.escape(id)}"] li.line`)].filter((li) => li.textContent.includes(text)).length >= n,
    { id, text, n },
    { polling: 100, timeout },
  );
}

/**
 * rawSocket runs a bare WebSocket from inside the page (node 20 has no WebSocket client),
 * sends commands one by one (the next after the reply to the last, a rate-limited one again)
 * and returns every object received until `until` matches one.
 */
export function rawSocket(page, { query, commands, until, timeout = 10000 }) {
  return page.evaluate(
    ({ query, commands, until, timeout }) =>
      new Promise((resolve, reject) => {
        const got = [];
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws?${query}`);
        const done = (v) => {
          ws.close(1000);
          resolve(v);
        };
        const t = setTimeout(() => done(got), timeout);
        let next = 0;
        const sendNext = () => {
          if (next < commands.length) ws.send(JSON.stringify(commands[next++]));
        };
        ws.onmessage = (e) => {
          for (const piece of String(e.data).split('\n')) {
            if (!piece.trim()) continue;
            const obj = JSON.parse(piece);
            got.push(obj);
            const current = commands[next - 1];
            if (obj.type === 'welcome') sendNext();
            else if (obj.code === 'rate_limited' && current && obj.ref === current.ref) {
              // Honour the gateway's rate limit as a client should: same command, same ref, later.
              setTimeout(() => ws.send(JSON.stringify(current)), 200);
              continue;
            } else if (obj.ref && obj.ref === current?.ref) sendNext();
            if (obj.type === until.type && (!until.ref || obj.ref === until.ref)) {
              clearTimeout(t);
              done(got);
            }
          }
        };
        ws.onerror = () => {};
        ws.onclose = (e) => {
          clearTimeout(t);
          resolve([...got, { type: '_closed', code: e.code }]);
        };
        setTimeout(() => reject(new Error('raw socket: no answer')), timeout + 2000);
      }),
    { query, commands, until, timeout },
  );
}

/** assertClean fails if the page logged errors or opened a dialog (an alert would be XSS). */
export function assertClean(...chats) {
  for (const c of chats) assert.deepEqual(c.problems, [], `${c.user}'s page had problems`);
}

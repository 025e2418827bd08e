// The test harness itself: a request the tests send after a long pause
// (a browser step, a loaded machine) must not go out on a connection that
// workerd has closed meanwhile. tests/lib/worker.mjs makes Node's global
// fetch open a new connection per request; with undici's default dispatcher
// this test fails with "fetch failed" (other side closed).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, startWorker, get } from '../lib/worker.mjs';

/** Blocks the event loop (timers, socket events and all) for `ms`. */
const blockEventLoop = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('test harness connections', { skip: SKIP, timeout: 60_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker();
  });
  after(() => w?.dispose());

  test('a request after the event loop stalled past workerd\'s idle close still gets its answer', async () => {
    const first = await get(w, '/api/user/detail');
    assert.equal((await first.json()).code, 1001);
    // workerd closes an idle connection after about five seconds.
    blockEventLoop(6_000);
    const second = await get(w, '/api/user/detail');
    assert.equal((await second.json()).code, 1001);
  });
});

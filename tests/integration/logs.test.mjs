// One structured JSON log line per request (for `wrangler tail`), with the
// facts an operator needs and never the token or image bytes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, startWorker, seedUser, upload, fixture, get } from '../lib/worker.mjs';
import { mintToken } from '../lib/token.mjs';
import { expectOk } from '../lib/expect.mjs';

describe('request log lines', { skip: SKIP, timeout: 60_000 }, () => {
  test('upload, failure and serve each log one JSON line; no token, no bytes', async () => {
    const lines = [];
    const w = await startWorker({}, { stdout: (l) => lines.push(l) });
    try {
      await seedUser(w.kv);
      const token = mintToken();
      const url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg'), token }));
      await upload(w, { file: fixture('text.jpg'), token });
      await (await get(w, new URL(url).pathname)).arrayBuffer();
      // Let the runtime flush its stdout.
      for (let i = 0; i < 50 && lines.filter((l) => l.includes('"request_id"')).length < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const records = lines.filter((l) => l.includes('"request_id"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
      assert.equal(records.length, 3, `three log lines: ${lines.join('\n')}`);
      const [ok, bad, serve] = records;
      assert.equal(ok.route, 'upload');
      assert.equal(ok.user_id, 1);
      assert.equal(ok.code, 0);
      assert.equal(ok.source_format, 'JPEG');
      assert.equal(ok.source_size, '360x239');
      assert.ok(ok.bytes_in > 18000 && ok.bytes_out > 0, JSON.stringify(ok));
      for (const stage of ['auth', 'read', 'decode', 'resize', 'encode', 'store']) {
        assert.equal(typeof ok.ms[stage], 'number', `ms.${stage}`);
      }
      assert.equal(bad.code, -1);
      assert.match(bad.error, /not an image|JPEG|PNG/i);
      assert.equal(serve.route, 'serve');
      assert.equal(serve.status, 200);
      const all = lines.join('\n');
      assert.ok(!all.includes(token), 'the token never appears in logs');
      assert.ok(!all.includes(token.split('.')[2]), 'not even its signature');
    } finally { await w.dispose(); }
  });
});

#!/usr/bin/env node
// Looks at corpus files by eye: uploads each through the built worker
// (OUTPUT_FORMAT=png) and writes tests/output/corpus/<file>.png with our
// avatar on the left and the reference avatar(s) on the right, transparency
// shown as magenta.
//
//   node scripts/corpus/show.mjs gif/image-rs/anim/oob.gif [more corpus paths...]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT, startWorker, seedUser, readEnvelope } from '../../tests/lib/worker.mjs';
import { mintToken } from '../../tests/lib/token.mjs';
import { corpusFiles, referenceDecode, referenceAvatar, avatarRGBA, compare, SIZE } from '../../tests/lib/corpus.mjs';

const want = process.argv.slice(2);
if (!want.length) {
  console.error('usage: show.mjs <corpus path>... (paths as in tests/corpus/MANIFEST.json)');
  process.exit(2);
}
const outDir = path.join(REPO_ROOT, 'tests', 'output', 'corpus');
mkdirSync(outDir, { recursive: true });
const w = await startWorker({ OUTPUT_FORMAT: 'png' }, { stdout: () => {} });
await seedUser(w.kv);
const MAGENTA = { r: 255, g: 0, b: 255, alpha: 1 };
const tile = (rgba) => sharp(Buffer.from(rgba), { raw: { width: SIZE, height: SIZE, channels: 4 } }).flatten({ background: MAGENTA }).png().toBuffer();
try {
  const files = corpusFiles().filter((f) => want.includes(f.rel));
  for (const f of files) {
    const ref = await referenceDecode(f);
    const form = new FormData();
    form.append('file', new File([f.bytes], 'x'));
    const r = await readEnvelope(await fetch(new URL('/api/user/avatar', w.url), { method: 'POST', body: form, headers: { Token: mintToken(), 'Accept-Language': 'en' } }));
    const tiles = [];
    let mine = null;
    if (r.code === 0) {
      const obj = await w.r2.get(new URL(r.data.avatar_url).pathname.slice(1));
      mine = await avatarRGBA(Buffer.from(await obj.arrayBuffer()));
      tiles.push(await tile(mine));
    } else {
      tiles.push(await sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: '#444' } }).png().toBuffer());
    }
    const diffs = [];
    for (const img of ref.images) {
      const a = referenceAvatar(img);
      if (mine) diffs.push(compare(mine, a).mae.toFixed(2));
      tiles.push(await tile(a));
    }
    const name = path.join(outDir, `${f.rel.replace(/\//g, '_')}.png`);
    await sharp({ create: { width: (SIZE + 8) * tiles.length, height: SIZE, channels: 3, background: '#888' } })
      .composite(tiles.map((t, i) => ({ input: t, left: i * (SIZE + 8), top: 0 }))).png().toFile(name);
    console.log(`${path.relative(REPO_ROOT, name)}: ours ${r.code === 0 ? 'accepted' : `refused (${r.msg})`}; reference ${ref.decoder} ${ref.status} (${ref.note})${diffs.length ? `; Δ mean ${diffs.join(' / ')}` : ''}`);
  }
  for (const x of want) if (!files.some((f) => f.rel === x)) console.error(`${x}: not in the corpus`);
} finally {
  await w.dispose();
}

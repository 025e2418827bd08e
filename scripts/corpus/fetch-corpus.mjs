#!/usr/bin/env node
// Re-creates the conformance corpus (tests/corpus/) from local git mirrors
// of the public repositories listed in scripts/corpus/sources.mjs, and
// rewrites tests/corpus/MANIFEST.json (source repository, path, commit,
// licence, size and SHA-256 of every file; the `expect`/`why` decisions
// already in the manifest are kept).
//
//   node scripts/corpus/fetch-corpus.mjs [--mirrors DIR] [--mirror owner/name=GITDIR]... [--check] [--update]
//
// --mirrors DIR   where the mirrors are (default $CORPUS_MIRRORS, else
//                 /work/.mirror). A repository owner/name is looked for as
//                 DIR/owner+name/repo, DIR/owner+name, DIR/owner/name.git or
//                 DIR/owner/name (bare or not). Any clone works, e.g.
//                 `git clone --bare <url of owner/name> DIR/owner/name.git`.
// --mirror R=G    the git directory of one repository.
// --check         writes nothing: verifies that every committed corpus file
//                 is byte-identical to its source at the recorded commit
//                 (and that no file is missing or extra). Exit 1 otherwise.
// --update        takes each repository's HEAD instead of the pinned commit
//                 (then pin the new commits in sources.mjs).
//
// Four suites say what each file must give, and those pictures are kept
// under tests/corpus/ref/ as the reference: bmpsuite (html/), PyGIF (the
// first frame's raw RGBA named by test-suite/<name>.conf), gif-test-suite
// (gifs/frames/<name>-0.png) and jpeg-decoder's reftests (<name>.png).
//
// bmpsuite ships a generator instead of images: its source at the pinned
// commit is extracted to a temporary directory, compiled with `cc`, run,
// and each file checked against the md5 list the repository keeps.
//
// The reference decodes of the formats sharp cannot read (BMP, ICO) are
// made afterwards by scripts/corpus/reference-decode.py (see
// tests/corpus/README.md).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SOURCES, LICENCES } from './sources.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORPUS = path.join(ROOT, 'tests', 'corpus');
const MANIFEST = path.join(CORPUS, 'MANIFEST.json');
/** Top-level folders of tests/corpus/ that this script owns (ref/ is the reference decoder's). */
const OWNED = [...new Set(SOURCES.map((s) => s.suite.split('/')[0])), 'ref/bmpsuite', 'ref/pygif', 'ref/peterdn', 'ref/jpeg-decoder'];

const args = process.argv.slice(2);
let mirrors = process.env.CORPUS_MIRRORS || '/work/.mirror';
const explicit = {};
let check = false, update = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--check') check = true;
  else if (a === '--update') update = true;
  else if (a === '--mirrors') mirrors = args[++i];
  else if (a.startsWith('--mirrors=')) mirrors = a.slice(10);
  else if (a === '--mirror' || a.startsWith('--mirror=')) {
    const v = a === '--mirror' ? args[++i] : a.slice(9);
    const [repo, dir] = v.split('=');
    explicit[repo] = dir;
  } else {
    console.error(`unknown argument ${a}\nusage: fetch-corpus.mjs [--mirrors DIR] [--mirror owner/name=GITDIR] [--check] [--update]`);
    process.exit(2);
  }
}

const git = (gitDir, ...a) => execFileSync('git', ['--git-dir', gitDir, ...a], { maxBuffer: 256 << 20 });

function gitDirOf(repo) {
  if (explicit[repo]) return explicit[repo];
  const [owner, name] = repo.split('/');
  const tries = [
    path.join(mirrors, `${owner}+${name}`, 'repo'), path.join(mirrors, `${owner}+${name}`),
    path.join(mirrors, owner, `${name}.git`), path.join(mirrors, owner, name, '.git'), path.join(mirrors, owner, name),
  ];
  for (const t of tries) {
    try {
      execFileSync('git', ['--git-dir', t, 'rev-parse', '--git-dir'], { stdio: 'ignore' });
      return t;
    } catch { /* next */ }
  }
  throw new Error(`no mirror of ${repo} under ${mirrors} (tried ${tries.join(', ')}); clone it there or pass --mirror ${repo}=GITDIR`);
}

/** Glob (`*` within a segment, no `**`) → RegExp over the whole path. */
const globRe = (g) => new RegExp(`^${g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\#]/g, '\\$&')).join('[^/]*')}$`);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const md5 = (b) => createHash('md5').update(b).digest('hex');

/** Builds bmpsuite at `commit` and returns { read(path) → Buffer, list() → paths }. */
function bmpsuiteTree(gitDir, commit) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bmpsuite-'));
  execFileSync('tar', ['-x', '-C', tmp], { input: git(gitDir, 'archive', commit) });
  execFileSync(process.env.CC || 'cc', ['-O1', '-o', 'bmpsuite', 'bmpsuite.c', '-lm'], { cwd: tmp });
  execFileSync('./bmpsuite', { cwd: tmp, stdio: 'ignore' });
  const sums = new Map();
  for (const line of readFileSync(path.join(tmp, 'checksums'), 'utf8').split('\n')) {
    const m = line.match(/^([0-9a-f]{32}) \*?(\S+)$/);
    if (m) sums.set(m[2], m[1]);
  }
  const files = [];
  for (const d of ['g', 'q', 'b', 'x']) {
    if (!existsSync(path.join(tmp, d))) continue;
    for (const f of readdirSync(path.join(tmp, d)).sort()) files.push(`${d}/${f}`);
  }
  // html/bmpsuite.html shows, for each file, the picture it should give
  // (one or more acceptable renderings, or N/A for the bad ones).
  const html = readFileSync(path.join(tmp, 'html', 'bmpsuite.html'), 'utf8');
  const expected = new Map();
  for (const row of html.split(/<tr>/).slice(1)) {
    const name = row.match(/<td[^>]*>([gqbx]\/[^<]+\.bmp)<\/td>/)?.[1];
    if (!name) continue;
    const cell = row.split(/<td class=b>/)[1] ?? '';
    const refs = [...cell.matchAll(/src="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r.startsWith('../'));
    expected.set(name, refs);
  }
  return {
    expected,
    list: () => files,
    read: (p) => {
      const b = readFileSync(path.join(tmp, p));
      if (p.startsWith('html/')) return b; // from the repository itself, not generated
      if (sums.get(p) !== md5(b)) throw new Error(`bmpsuite ${p}: md5 ${md5(b)} is not the repository's ${sums.get(p)}`);
      return b;
    },
    done: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

/** The suites' own expected pictures (ref/bmpsuite, ref/pygif, ref/peterdn), by corpus path. */
const refs = new Map();

async function collect() {
  const out = new Map();
  for (const src of SOURCES) {
    if (!LICENCES[src.licence]) throw new Error(`${src.suite}: licence id ${src.licence} not in LICENCES`);
    const gitDir = gitDirOf(src.repo);
    const commit = update ? git(gitDir, 'rev-parse', 'HEAD').toString().trim() : src.commit;
    let tree;
    if (src.generate === 'bmpsuite') tree = bmpsuiteTree(gitDir, commit);
    else {
      const paths = git(gitDir, 'ls-tree', '-r', '--name-only', commit).toString().split('\n').filter(Boolean);
      tree = { list: () => paths, read: (p) => git(gitDir, 'show', `${commit}:${p}`), done: () => {} };
    }
    const all = tree.list();
    let count = 0;
    for (const g of src.files) {
      const re = globRe(g);
      const hits = all.filter((p) => re.test(p));
      if (hits.length === 0) throw new Error(`${src.repo}@${commit.slice(0, 12)}: nothing matches ${g}`);
      for (const p of hits) {
        if (!p.startsWith(src.base)) throw new Error(`${p} is not under base ${src.base}`);
        // Flattened below the suite; '#' is kept out of file names (URLs, shells).
        const rel = `${src.suite}/${p.slice(src.base.length).replace(/#/g, '')}`;
        count++;
        if (out.has(rel)) throw new Error(`two sources write ${rel}`);
        const bytes = tree.read(p);
        let reference;
        const keepRef = (dir, from, refLicence) => {
          const b = tree.read(from);
          const rel2 = `ref/${dir}/${path.posix.basename(from)}`;
          refs.set(rel2, { bytes: b, entry: { repo: src.repo, path: from, commit, licence: refLicence, bytes: b.length, sha256: sha256(b) } });
          return rel2;
        };
        if (tree.expected) {
          // bmpsuite: html/bmpsuite.html names the acceptable pictures.
          reference = (tree.expected.get(p) ?? []).map((n) => keepRef('bmpsuite', `html/${n}`, 'GPL-3.0-or-later (bmpsuite html/)'));
        } else if (src.expected === 'pygif') {
          // PyGIF: test-suite/<name>.conf lists the frames and their pixels
          // (raw RGBA of the logical screen); no frames = nothing to show.
          const conf = tree.read(p.replace(/\.gif$/, '.conf')).toString();
          const get = (k) => conf.match(new RegExp(`^${k} = (.*)$`, 'm'))?.[1]?.trim() ?? '';
          const first = get('frames').split(',')[0];
          const pixels = first && conf.split(`[${first}]`)[1]?.match(/^pixels = (.*)$/m)?.[1]?.trim();
          const [cw, ch] = [Number(get('width')), Number(get('height'))];
          // The raw RGBA is stored as a lossless PNG (65535×1 raw is 256 KB).
          reference = [];
          if (pixels && cw > 0 && ch > 0) {
            const from = `test-suite/${pixels}`;
            const raw = tree.read(from);
            if (raw.length !== cw * ch * 4) throw new Error(`${from}: ${raw.length} bytes for ${cw}×${ch}`);
            const png = await sharp(raw, { raw: { width: cw, height: ch, channels: 4 } }).png({ compressionLevel: 9 }).toBuffer();
            const rel2 = `ref/pygif/${pixels.replace(/\.rgba$/, '.png')}`;
            refs.set(rel2, { bytes: png, entry: { repo: src.repo, path: from, commit, licence: src.licence, converted: `raw RGBA ${cw}×${ch} (sha256 ${sha256(raw)}) stored as PNG`, bytes: png.length, sha256: sha256(png) } });
            reference = [rel2];
          }
        } else if (src.expected === 'sibling-png') {
          // jpeg-decoder's reftests: <name>.png beside each <name>.jpg is the
          // picture the test compares with (ImageMagick's decode); kept when
          // under 100 KB (mjpeg.png is 1 MB: that file keeps sharp).
          const png = p.replace(/\.jpe?g$/, '.png');
          if (all.includes(png)) {
            const b = tree.read(png);
            if (b.length <= 100_000) {
              const rel2 = `ref/jpeg-decoder/${png.slice(src.base.length)}`;
              refs.set(rel2, { bytes: b, entry: { repo: src.repo, path: png, commit, licence: src.licence, bytes: b.length, sha256: sha256(b) } });
              reference = [rel2];
            }
          }
        } else if (src.expected === 'peterdn') {
          // gif-test-suite: gifs/frames/<name>-0.png is the first frame.
          // (only the animated ones have frames; the static ones keep sharp).
          const frame = p.replace(/^gifs\/(.*)\.gif$/, 'gifs/frames/$1-0.png');
          if (all.includes(frame)) reference = [keepRef('peterdn', frame, src.licence)];
        }
        out.set(rel, {
          bytes,
          entry: {
            suite: src.suite, repo: src.repo, path: p, commit, ...(src.generate ? { generated_by: `${src.generate} (bmpsuite.c at that commit, md5-checked against its checksums file)` } : {}),
            licence: src.licence, bytes: bytes.length, sha256: sha256(bytes),
            ...(reference ? { reference } : {}),
          },
        });
      }
    }
    tree.done();
    process.stderr.write(`${src.suite.padEnd(26)} ${src.repo}@${commit.slice(0, 12)}: ${count} files\n`);
  }
  return out;
}

function listCorpus() {
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(path.relative(CORPUS, p).split(path.sep).join('/'));
    }
  };
  for (const top of OWNED) if (existsSync(path.join(CORPUS, top))) walk(path.join(CORPUS, top));
  return files.sort();
}

const files = await collect();
const old = existsSync(MANIFEST) ? JSON.parse(readFileSync(MANIFEST, 'utf8')) : { files: {} };

if (check) {
  let bad = 0;
  for (const [rel, { bytes }] of files) {
    const p = path.join(CORPUS, rel);
    if (!existsSync(p)) { console.error(`missing: ${rel}`); bad++; continue; }
    if (!readFileSync(p).equals(bytes)) { console.error(`differs from its source: ${rel}`); bad++; }
    if (old.files[rel]?.sha256 !== sha256(bytes)) { console.error(`MANIFEST sha256 out of date: ${rel}`); bad++; }
  }
  for (const [rel, { bytes }] of refs) {
    const p = path.join(CORPUS, rel);
    if (!existsSync(p) || !readFileSync(p).equals(bytes)) { console.error(`reference rendering missing or different: ${rel}`); bad++; }
  }
  for (const rel of listCorpus()) if (!files.has(rel) && !refs.has(rel)) { console.error(`not from any source: ${rel}`); bad++; }
  for (const rel of Object.keys(old.files)) if (!files.has(rel)) { console.error(`in MANIFEST, not from any source: ${rel}`); bad++; }
  console.log(bad ? `${bad} problem(s)` : `corpus OK: ${files.size} files match their sources`);
  process.exit(bad ? 1 : 0);
}

for (const top of OWNED) rmSync(path.join(CORPUS, top), { recursive: true, force: true });
const manifest = {
  about: 'Conformance corpus: every file, where it comes from (repository, path, commit), its licence (see `licences`), size and SHA-256, '
    + 'and, where decided, what the service must do with it (`expect`: "match" the reference avatar, or "refuse" it; `why` says why). '
    + 'Written by scripts/corpus/fetch-corpus.mjs from scripts/corpus/sources.mjs; `expect`/`why`/`tolerance` are edited by hand and kept by the script.',
  licences: LICENCES,
  files: {},
};
let total = 0;
for (const rel of [...files.keys()].sort()) {
  const { bytes, entry } = files.get(rel);
  const p = path.join(CORPUS, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, bytes);
  const kept = {};
  for (const k of ['expect', 'why', 'tolerance']) if (old.files?.[rel]?.[k] !== undefined) kept[k] = old.files[rel][k];
  manifest.files[rel] = { ...entry, ...kept };
  total += bytes.length;
}
// One line per file, so that a diff shows which files changed.
const lines = Object.entries(manifest.files).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
const refLines = [];
for (const rel of [...refs.keys()].sort()) {
  const { bytes, entry } = refs.get(rel);
  mkdirSync(path.dirname(path.join(CORPUS, rel)), { recursive: true });
  writeFileSync(path.join(CORPUS, rel), bytes);
  refLines.push(`  ${JSON.stringify(rel)}: ${JSON.stringify(entry)}`);
  total += bytes.length;
}
writeFileSync(MANIFEST, `{\n "about": ${JSON.stringify(manifest.about)},\n "licences": ${JSON.stringify(manifest.licences, null, 2).replace(/\n/g, '\n ')},\n`
  + ` "files": {\n${lines.join(',\n')}\n },\n "references": {\n${refLines.join(',\n')}\n }\n}\n`);
console.log(`wrote ${files.size} files and ${refs.size} expected renderings, ${(total / 1024).toFixed(0)} KiB, and tests/corpus/MANIFEST.json`);

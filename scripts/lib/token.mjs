// AnqiCMS-compatible login tokens (HS256 JWT) for the token tool, the dev
// runner, the bench and the tests, including deliberately bad tokens.
// AnqiCMS signs with the key TOKEN_SECRET + "-user-token" and writes the
// claims {"userId": "<id>", "t": "<unix expiry>"} as strings.
import { createHmac, createHash } from 'node:crypto';

export const TEST_SECRET = 'test-secret';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
const json64 = (obj) => b64url(JSON.stringify(obj));

export const nowSec = () => Math.floor(Date.now() / 1000);

/** sha256 hex of the token string, as used for `revoked:{hash}` keys. */
export const tokenHash = (token) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Mints a token.
 * - style 'anqicms' (default): claims {"userId":"1","t":"<exp>"} as strings.
 * - style 'standard': claims {"sub":1,"exp":<exp>} (numbers; pass
 *   `stringClaims: true` for strings).
 * - alg: 'HS256' (default), 'HS384', 'HS512', 'none', 'RS256' (signed with
 *   HMAC anyway: it must be refused for its alg alone).
 * - tamper: 'payload' changes the user id after signing; 'signature' flips
 *   a signature byte.
 * - claims: extra/overriding claims; header: extra/overriding header fields.
 * - rawKey: use this HMAC key as is (e.g. the bare secret, without the
 *   "-user-token" suffix AnqiCMS appends).
 */
export function mintToken({
  userId = 1,
  exp = nowSec() + 7 * 24 * 3600,
  secret = TEST_SECRET,
  style = 'anqicms',
  alg = 'HS256',
  stringClaims,
  claims = {},
  header = {},
  tamper,
  rawKey,
} = {}) {
  const hdr = { alg, typ: 'JWT', ...header };
  let body;
  if (style === 'standard') {
    const str = stringClaims === true;
    body = { sub: str ? String(userId) : Number(userId), exp: str ? String(exp) : exp, ...claims };
  } else {
    body = { userId: String(userId), t: String(exp), ...claims };
  }
  const signingInput = `${json64(hdr)}.${json64(body)}`;
  const key = rawKey ?? `${secret}-user-token`;
  let sig;
  if (alg === 'none') {
    sig = '';
  } else {
    const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
    sig = createHmac(hash, key).update(signingInput).digest('base64url');
  }
  let token = `${signingInput}.${sig}`;
  if (tamper === 'payload') {
    const other = style === 'standard' ? { ...body, sub: Number(userId) + 1 } : { ...body, userId: String(Number(userId) + 1) };
    token = `${json64(hdr)}.${json64(other)}.${sig}`;
  } else if (tamper === 'signature') {
    const raw = Buffer.from(sig, 'base64url');
    raw[0] ^= 0x01;
    token = `${signingInput}.${b64url(raw)}`;
  }
  return token;
}

/** Verifies an HS256 token the way AnqiCMS would; returns its claims or throws. */
export function verifyToken(token, secret = TEST_SECRET) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`not a JWT: ${token}`);
  const hdr = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (hdr.alg !== 'HS256') throw new Error(`alg ${hdr.alg}`);
  const expect = createHmac('sha256', `${secret}-user-token`).update(`${parts[0]}.${parts[1]}`).digest('base64url');
  if (expect !== parts[2].replace(/=+$/, '')) throw new Error('bad signature');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

/** The user id and expiry of verified claims, AnqiCMS or standard style. */
export function claimsUserAndExp(claims) {
  const user = claims.userId ?? claims.sub;
  const exp = claims.t ?? claims.exp;
  return { userId: Number(user), exp: Number(exp) };
}

/** Reads TOKEN_SECRET from the environment, else from .dev.vars. */
export async function localSecret(root = process.cwd()) {
  if (process.env.TOKEN_SECRET) return process.env.TOKEN_SECRET;
  const { readFile } = await import('node:fs/promises');
  try {
    const text = await readFile(`${root}/.dev.vars`, 'utf8');
    const m = text.match(/^\s*TOKEN_SECRET\s*=\s*"?([^"\n]*)"?\s*$/m);
    if (m) return m[1];
  } catch { /* no .dev.vars */ }
  throw new Error('TOKEN_SECRET is not set: export it or run `npm run setup` to create .dev.vars');
}

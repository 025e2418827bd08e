// AnqiCMS-compatible login tokens (HS256 JWT), for the token tool and tests.
//
// AnqiCMS signs with the key TOKEN_SECRET + "-user-token" and writes the
// claims {"userId": "<id>", "t": "<unix expiry>"} as strings.
import { createHmac } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Mints a token. `style` 'anqicms' (userId/t strings) or 'standard'
 * (sub/exp numbers). `alg` 'HS256' (default), 'HS384' or 'none' to make
 * tokens the service must refuse.
 */
export function mintToken({ userId, secret, exp, style = 'anqicms', alg = 'HS256', claims = null }) {
  if (exp === undefined) exp = Math.floor(Date.now() / 1000) + 86400;
  const header = { alg, typ: 'JWT' };
  const payload = claims ?? (style === 'standard'
    ? { sub: Number(userId), exp }
    : { userId: String(userId), t: String(exp) });
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (alg === 'none') return `${signingInput}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  if (!hash) throw new Error(`unsupported alg ${alg}`);
  const sig = createHmac(hash, `${secret}-user-token`).update(signingInput).digest();
  return `${signingInput}.${b64url(sig)}`;
}

/** Decodes a token's claims without verifying (for tools and tests). */
export function decodeClaims(token) {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
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

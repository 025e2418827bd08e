// The null worker: the baseline for the fixed cost of an upload.
//
// It takes the same request as ours (POST /api/user/avatar, multipart, the
// token in `Token`), reads the whole body, checks nothing expensive (only
// that a token is there) and answers the same kind of envelope, with a
// fixed avatar URL. No wasm, no KV, no R2, no token check, no multipart
// parsing: what is left is what any Worker pays for such a request in this
// harness (Node -> Miniflare's entry worker -> workerd -> this isolate and
// back), so ours minus this is what our code costs.
//
// bench/fixed-cost.mjs also runs it with the var STEPS, a comma list of
// the platform calls ours makes on every upload, to price each one here:
//   kv         two KV reads, in parallel (ours: the profile user:1 and a
//              revocation key)
//   r2         one R2 put of a 202-byte object with HTTP and custom
//              metadata (ours: the avatar)
//   log        one console.log of a JSON line like ours' request log
//   formdata   the body parsed by request.formData() instead of read whole
const OK = JSON.stringify({ code: 0, msg: '上传成功', data: { avatar_url: '/uploads/user/1.webp?v=0' } });
const NO_TOKEN = JSON.stringify({ code: 1001, msg: '请先登录', data: null });
const headers = { 'Content-Type': 'application/json; charset=utf-8' };
const AVATAR = new Uint8Array(202).fill(7);

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response(OK, { headers });
    const steps = new Set(String(env.STEPS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    if (steps.has('formdata')) await request.formData();
    else await request.arrayBuffer(); // the whole body, as ours reads it
    if (steps.has('kv')) {
      await Promise.all([env.USERS.get('user:1'), env.USERS.get('revoked:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')]);
    }
    if (steps.has('r2')) {
      await env.AVATARS.put('uploads/user/1.webp', AVATAR, {
        httpMetadata: { contentType: 'image/webp' }, customMetadata: { v: '0123456789ab' },
      });
    }
    if (steps.has('log')) {
      console.log(JSON.stringify({ request_id: request.headers.get('cf-ray') ?? 'x', method: 'POST', route: 'upload', user_id: 1, code: 0,
        status: 200, bytes_in: 300, bytes_out: 202, source_format: 'PNG', source_size: '1x1',
        ms: { auth: 1, read: 0, decode: 0, orient: 0, resize: 1, encode: 3, store: 2 }, total_ms: 6 }));
    }
    return new Response(request.headers.has('Token') ? OK : NO_TOKEN, { headers });
  },
};

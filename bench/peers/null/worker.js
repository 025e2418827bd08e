// The null worker: the baseline for the fixed cost of an upload.
//
// It takes the same request as ours (POST /api/user/avatar, multipart, the
// token in `Token`), reads the whole body, checks nothing expensive (only
// that a token is there) and answers the same kind of envelope, with a
// fixed avatar URL. No wasm, no KV, no R2, no token check, no multipart
// parsing: what is left is what any Worker pays for such a request in this
// harness (Node -> Miniflare's entry worker -> workerd -> this isolate and
// back), so ours minus this is what our code costs.
const OK = JSON.stringify({ code: 0, msg: '上传成功', data: { avatar_url: '/uploads/user/1.webp?v=0' } });
const NO_TOKEN = JSON.stringify({ code: 1001, msg: '请先登录', data: null });
const headers = { 'Content-Type': 'application/json; charset=utf-8' };

export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response(OK, { headers });
    await request.arrayBuffer(); // the whole body, as ours reads it
    return new Response(request.headers.has('Token') ? OK : NO_TOKEN, { headers });
  },
};

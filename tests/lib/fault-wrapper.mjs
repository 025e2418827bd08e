// Test-only entry that wraps the BUILT worker (build/index.js) and makes
// chosen binding methods fail, to show that storage faults lose nothing.
// Never deployed: wrangler.toml's entry is build/worker/shim.mjs.
//
// The var FAULTS lists `BINDING.method` (or `BINDING.method@N`, failing from
// the N-th call on in this isolate), e.g. "AVATARS.put" or "USERS.put".
import { WorkerEntrypoint } from 'cloudflare:workers';
import Worker from '../../build/index.js';

const calls = new Map();

function failing(spec, binding, method) {
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, from] = item.split('@');
    if (name !== `${binding}.${method}`) continue;
    const key = `${binding}.${method}`;
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);
    return n >= Number(from ?? 1);
  }
  return false;
}

function wrap(target, binding, spec) {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop);
      // workers-rs checks the constructor's name ("R2Bucket"): keep it as is.
      if (prop === 'constructor' || typeof v !== 'function') return v;
      return (...args) => {
        if (failing(spec, binding, String(prop))) {
          return Promise.reject(new Error(`injected fault: ${binding}.${String(prop)}`));
        }
        return v.apply(t, args);
      };
    },
  });
}

// worker-build exports a WorkerEntrypoint class: run it with wrapped env.
export default class FaultyEnv extends WorkerEntrypoint {
  fetch(request) {
    const spec = this.env.FAULTS ?? '';
    const wrapped = { ...this.env };
    for (const b of ['USERS', 'AVATARS']) if (this.env[b]) wrapped[b] = wrap(this.env[b], b, spec);
    return new Worker(this.ctx, wrapped).fetch(request);
  }
}

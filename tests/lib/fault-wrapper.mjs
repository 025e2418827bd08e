// Test-only entry that wraps the BUILT worker (build/index.js) and makes
// chosen binding methods misbehave, to show that storage faults lose nothing.
// Never deployed: wrangler.toml's entry is build/worker/shim.mjs.
//
// The var FAULTS lists items `BINDING.method[@N][:mode]`, comma-separated,
// e.g. "AVATARS.put", "USERS.get@2", "AVATARS.put:landed" or
// "AVATARS.put:delay=1500". `@N`: from the N-th call on in this isolate
// (default: every call). Modes:
//   fail (default)  the call is not made and rejects
//   landed          the call is made, then rejects (a write whose answer was lost)
//   delay=MS        the call is made MS milliseconds late (a slow store);
//                   when the delay starts, the KV key
//                   `fault-started:BINDING.method` is written in USERS, so
//                   a test knows the request got that far
import { WorkerEntrypoint } from 'cloudflare:workers';
import Worker from '../../build/index.js';

const calls = new Map();

/** The mode of the first item naming `binding.method` that applies to this call, or null. */
function fault(spec, binding, method) {
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [target, mode = 'fail'] = item.split(':');
    const [name, from] = target.split('@');
    if (name !== `${binding}.${method}`) continue;
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    return n >= Number(from ?? 1) ? mode : null;
  }
  return null;
}

function wrap(target, binding, spec, started) {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop);
      // workers-rs checks the constructor's name ("R2Bucket"): keep it as is.
      if (prop === 'constructor' || typeof v !== 'function') return v;
      return async (...args) => {
        const mode = fault(spec, binding, String(prop));
        const injected = () => new Error(`injected fault: ${binding}.${String(prop)}`);
        if (mode === 'fail') throw injected();
        if (mode === 'landed') {
          await v.apply(t, args);
          throw injected();
        }
        if (mode?.startsWith('delay=')) {
          await started(`${binding}.${String(prop)}`);
          await new Promise((r) => setTimeout(r, Number(mode.slice(6))));
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
    const started = (call) => this.env.USERS?.put(`fault-started:${call}`, String(Date.now()));
    for (const b of ['USERS', 'AVATARS']) if (this.env[b]) wrapped[b] = wrap(this.env[b], b, spec, started);
    return new Worker(this.ctx, wrapped).fetch(request);
  }
}

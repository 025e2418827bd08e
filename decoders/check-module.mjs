// Checks a built decoder module before it is cached: a position-independent
// side module (dylink.0) whose imports are exactly what js/phone.mjs gives
// and whose exports are what it calls, with static data that fits the room
// the Worker reserves for it (src/imaging/phone/mod.rs, STATIC_RESERVE).
//   node decoders/check-module.mjs file.wasm
import { readFileSync } from 'node:fs';
import { dylinkInfo, EXPECTED_IMPORTS, STATIC_RESERVE } from '../js/phone.mjs';

const file = process.argv[2];
const module = new WebAssembly.Module(readFileSync(file));
const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
const want = EXPECTED_IMPORTS.map((n) => `env.${n}`).sort();
if (JSON.stringify(imports) !== JSON.stringify(want)) {
  throw new Error(`${file}: imports ${imports.join(', ')}; expected ${want.join(', ')}`);
}
const exports = WebAssembly.Module.exports(module).map((e) => e.name);
for (const name of ['ph_decode', 'shim_heap_init', 'shim_heap_peak', '__set_stack_limits']) {
  if (!exports.includes(name)) throw new Error(`${file}: no export ${name}`);
}
const info = dylinkInfo(module);
if (info.memorySize > STATIC_RESERVE) {
  throw new Error(`${file}: ${info.memorySize} bytes of static data, more than the ${STATIC_RESERVE} reserved`);
}
console.error(`[decoders] ${file.split('/').pop()}: ok (static data ${info.memorySize} B, table ${info.tableSize})`);

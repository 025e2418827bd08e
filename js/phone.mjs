// Runs a phone-format decoder module (phone-avif.wasm, phone-heic.wasm:
// decoders/README.md) INSIDE the Worker's own wasm memory, in an arena the
// Rust side allocated under its heap ceiling (src/imaging/phone/). The
// module is position-independent (wasm-ld -shared --experimental-pic): its
// static data, its stack and its heap are laid out in the arena,
//
//   [ static data | stack (STACK bytes) | heap (dlmalloc, to the arena's end) ]
//
// and it never grows memory: an allocation past the arena fails inside the
// decoder, and a stack overflow traps (the module is built with binaryen's
// --stack-check). A fresh instance per decode: instantiating a compiled
// module costs a fraction of a millisecond, and the instance is garbage
// afterwards.
//
// Nothing thrown here may reach Rust (the Worker is built with panic=unwind
// and wasm exceptions: a JS exception crossing into it would unwind through
// frames that do not expect it), so every failure is a status code:
//   0 and the decoder's own codes (PH_* in decoders/common/phone_abi.h),
//   TRAP: the decoder trapped (a libavif abort on allocation failure, a
//         stack overflow, an out-of-bounds access): its result's `error`
//         field gets the trap's message,
//   LOADER: the module could not be set up (wrong imports, an arena too
//         small for its static data and stack).
// The decoder state is discarded on every path; the arena is the caller's.
//
// This file is a wasm-bindgen snippet (copied into the build and bundled by
// worker-build's esbuild), so it imports nothing; the compiled modules come
// from js/phone-modules.mjs, through Rust.

export const TRAP = -10;
export const LOADER = -11;
/** Bytes of stack each decoder gets. */
export const STACK = 1 << 20;
/** Room the Worker reserves for a module's static data (checked at build
 * time by decoders/check-module.mjs and here). */
export const STATIC_RESERVE = 1 << 20;
/** What a side module may import, nothing else. */
export const EXPECTED_IMPORTS = ['memory', '__indirect_function_table', '__stack_pointer', '__memory_base', '__table_base'];
/** Offsets in ph_result (decoders/common/phone_abi.h). */
const RESULT_HEAP_PEAK = 56;
const RESULT_ERROR = 60;
const ERROR_LEN = 120;

function leb(buf, pos) {
  let v = 0, shift = 0, b;
  do {
    b = buf[pos.p++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift < 35);
  return v;
}

const infoCache = new WeakMap();

/** The module's dylink.0 memory info: static data size and alignment, table size. */
export function dylinkInfo(module) {
  let info = infoCache.get(module);
  if (info) return info;
  const secs = WebAssembly.Module.customSections(module, 'dylink.0');
  if (!secs.length) throw new Error('not a position-independent side module (no dylink.0 section)');
  const b = new Uint8Array(secs[0]);
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const type = b[pos.p++];
    const len = leb(b, pos);
    const end = pos.p + len;
    if (type === 1) { // WASM_DYLINK_MEM_INFO
      const memorySize = leb(b, pos), memoryAlign = leb(b, pos), tableSize = leb(b, pos);
      info = { memorySize, memoryAlign: 2 ** memoryAlign, tableSize };
      break;
    }
    pos.p = end;
  }
  if (!info) throw new Error('dylink.0 without memory info');
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'env' || !EXPECTED_IMPORTS.includes(imp.name)) throw new Error(`unexpected import ${imp.module}.${imp.name}`);
  }
  infoCache.set(module, info);
  return info;
}

/** Instantiates `module` in [arena, arena + arenaLen) of `memory`. */
export function instantiateInArena(module, memory, arena, arenaLen) {
  const info = dylinkInfo(module);
  if (info.memorySize > STATIC_RESERVE) throw new Error(`static data of ${info.memorySize} B is over the reserve`);
  const align = (x, a) => Math.ceil(x / a) * a;
  const dataBase = align(arena, Math.max(16, info.memoryAlign));
  const stackLow = align(dataBase + info.memorySize, 16);
  const stackTop = stackLow + STACK;
  const arenaEnd = arena + arenaLen;
  if (stackTop + 65536 > arenaEnd) throw new Error(`arena of ${arenaLen} B is too small`);
  // Static data and bss must start as zeros: the arena is reused heap.
  new Uint8Array(memory.buffer, dataBase, info.memorySize).fill(0);
  const env = {
    memory,
    __indirect_function_table: new WebAssembly.Table({ initial: info.tableSize, element: 'anyfunc' }),
    __stack_pointer: new WebAssembly.Global({ value: 'i32', mutable: true }, stackTop),
    __memory_base: new WebAssembly.Global({ value: 'i32', mutable: false }, dataBase),
    __table_base: new WebAssembly.Global({ value: 'i32', mutable: false }, 0),
  };
  const x = new WebAssembly.Instance(module, { env }).exports;
  // The stack check's limits first: the constructors already use the stack.
  x.__set_stack_limits(stackTop, stackLow);
  if (x.__wasm_apply_data_relocs) x.__wasm_apply_data_relocs();
  if (x.__wasm_call_ctors) x.__wasm_call_ctors();
  x.shim_heap_init(stackTop, arenaEnd);
  return x;
}

function writeError(memory, result, text) {
  const bytes = new Uint8Array(memory.buffer, result + RESULT_ERROR, ERROR_LEN);
  bytes.fill(0);
  for (let i = 0; i < text.length && i < ERROR_LEN - 1; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c < 128 ? c : 63;
  }
}

/**
 * Decodes with `module` in the arena: ph_decode(input, len, request, result)
 * (all addresses in `memory`). Returns the status code (module docs).
 */
export function phone_decode(module, memory, arena, arenaLen, input, len, request, result) {
  let x;
  try {
    x = instantiateInArena(module, memory, arena, arenaLen);
  } catch (e) {
    try { writeError(memory, result, `loader: ${e && e.message}`); } catch {}
    return LOADER;
  }
  try {
    return x.ph_decode(input, len, request, result);
  } catch (e) {
    try {
      writeError(memory, result, `trap: ${e && e.message}`);
      new DataView(memory.buffer).setUint32(result + RESULT_HEAP_PEAK, x.shim_heap_peak() >>> 0, true);
    } catch {}
    return TRAP;
  }
}

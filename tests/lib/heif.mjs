// A small HEIF (ISOBMFF) reader and writer for the AVIF/HEIC tests and
// fixtures: take a file apart into items (type, data, properties,
// references) and write items back as a file. Enough for what encoders
// write (iloc v0-2 with file or idat data, iinf/infe v2-3, ipma v0-1), not
// a general ISOBMFF library.

export function boxes(buf, start = 0, end = buf.length) {
  const list = [];
  for (let p = start; p + 8 <= end;) {
    let size = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    let hdr = 8;
    if (size === 1) { size = Number(buf.readBigUInt64BE(p + 8)); hdr = 16; } else if (size === 0) size = end - p;
    if (size < hdr || p + size > end) break;
    list.push({ type, start: p, body: p + hdr, end: p + size });
    p += size;
  }
  return list;
}

const child = (buf, b, type, skip = 0) => boxes(buf, b.body + skip, b.end).find((x) => x.type === type);

/**
 * Reads `buf` into { brands, primary, items: Map(id -> { id, type, hidden,
 * data: Buffer, props: [Buffer(whole property box)], essential: [bool] }),
 * refs: [{ type, from, to: [ids] }] }.
 */
export function readHeif(buf) {
  const top = boxes(buf);
  const ftyp = top.find((b) => b.type === 'ftyp');
  const brands = [];
  for (let p = ftyp.body; p + 4 <= ftyp.end; p += 4) if (p !== ftyp.body + 4) brands.push(buf.toString('latin1', p, p + 4));
  const meta = top.find((b) => b.type === 'meta');
  const kids = boxes(buf, meta.body + 4, meta.end);
  const get = (t) => kids.find((b) => b.type === t);
  const pitm = get('pitm');
  const primary = buf[pitm.body] === 0 ? buf.readUInt16BE(pitm.body + 4) : buf.readUInt32BE(pitm.body + 4);
  const items = new Map();
  const iinf = get('iinf');
  const iinfV = buf[iinf.body];
  for (const e of boxes(buf, iinf.body + (iinfV === 0 ? 6 : 8), iinf.end)) {
    const v = buf[e.body];
    const hidden = (buf.readUInt32BE(e.body) & 1) === 1;
    const id = v === 2 ? buf.readUInt16BE(e.body + 4) : buf.readUInt32BE(e.body + 4);
    const at = e.body + (v === 2 ? 6 : 8) + 2;
    items.set(id, { id, type: buf.toString('latin1', at, at + 4), hidden, data: Buffer.alloc(0), props: [], essential: [] });
  }
  const idat = get('idat');
  const iloc = get('iloc');
  {
    let p = iloc.body;
    const v = buf[p]; p += 4;
    const os = buf[p] >> 4, ls = buf[p] & 15, bs = buf[p + 1] >> 4, is = v >= 1 ? buf[p + 1] & 15 : 0; p += 2;
    const rd = (n) => { let x = 0; for (let i = 0; i < n; i++) x = x * 256 + buf[p++]; return x; };
    const count = v < 2 ? rd(2) : rd(4);
    for (let i = 0; i < count; i++) {
      const id = v < 2 ? rd(2) : rd(4);
      const method = v >= 1 ? rd(2) & 15 : 0;
      rd(2);
      const base = rd(bs);
      const n = rd(2);
      const parts = [];
      for (let e = 0; e < n; e++) {
        rd(is);
        const off = rd(os), len = rd(ls);
        const src = method === 1 ? buf.subarray(idat.body, idat.end) : buf;
        parts.push(src.subarray(base + off, base + off + (len || src.length - base - off)));
      }
      if (items.has(id)) items.get(id).data = Buffer.concat(parts);
    }
  }
  const iprp = get('iprp');
  const ipco = child(buf, iprp, 'ipco');
  const props = boxes(buf, ipco.body, ipco.end).map((b) => buf.subarray(b.start, b.end));
  const ipma = child(buf, iprp, 'ipma');
  {
    let p = ipma.body;
    const v = buf[p], flags = buf.readUInt32BE(p) & 0xffffff; p += 4;
    const count = buf.readUInt32BE(p); p += 4;
    for (let i = 0; i < count; i++) {
      const id = v < 1 ? buf.readUInt16BE(p) : buf.readUInt32BE(p); p += v < 1 ? 2 : 4;
      const n = buf[p++];
      for (let k = 0; k < n; k++) {
        let idx, ess;
        if (flags & 1) { const x = buf.readUInt16BE(p); p += 2; idx = x & 0x7fff; ess = x >> 15; } else { const x = buf[p++]; idx = x & 0x7f; ess = x >> 7; }
        if (items.has(id) && idx) { items.get(id).props.push(props[idx - 1]); items.get(id).essential.push(!!ess); }
      }
    }
  }
  const refs = [];
  const iref = get('iref');
  if (iref) {
    const v = buf[iref.body];
    for (const r of boxes(buf, iref.body + 4, iref.end)) {
      let p = r.body;
      const rd = () => { const x = v === 0 ? buf.readUInt16BE(p) : buf.readUInt32BE(p); p += v === 0 ? 2 : 4; return x; };
      const from = rd();
      const n = buf.readUInt16BE(p); p += 2;
      const to = [];
      for (let i = 0; i < n; i++) to.push(rd());
      refs.push({ type: r.type, from, to });
    }
  }
  return { brands, primary, items, refs };
}

/** The type of a property box (a Buffer holding the whole box). */
export const propType = (b) => b.toString('latin1', 4, 8);

const u8 = (v) => Buffer.from([v]);
const u16 = (v) => { const x = Buffer.alloc(2); x.writeUInt16BE(v); return x; };
const u32 = (v) => { const x = Buffer.alloc(4); x.writeUInt32BE(v >>> 0); return x; };
export const box = (type, ...parts) => { const body = Buffer.concat(parts); return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]); };
export const fullBox = (type, v, flags, ...parts) => box(type, u8(v), Buffer.from([flags >> 16, (flags >> 8) & 255, flags & 255]), ...parts);
export const ispe = (w, h) => fullBox('ispe', 0, 0, u32(w), u32(h));
export const irot = (k) => box('irot', u8(k));
export const imir = (a) => box('imir', u8(a));
export const nclx = (p, t, m, full) => box('colr', Buffer.from('nclx', 'latin1'), u16(p), u16(t), u16(m), u8(full ? 0x80 : 0));
export const colrIcc = (icc) => box('colr', Buffer.from('prof', 'latin1'), icc);

/** An Exif item payload: offset 6 to the TIFF header, "Exif\0\0", big-endian TIFF with Orientation. */
export function exifOrientation(o) {
  const tiff = Buffer.concat([Buffer.from('MM\0*', 'latin1'), u32(8), u16(1), u16(0x0112), u16(3), u32(1), u16(o), u16(0), u32(0)]);
  return Buffer.concat([u32(6), Buffer.from('Exif\0\0', 'latin1'), tiff]);
}

/**
 * Writes a HEIF file: `items` as read by readHeif (ids kept), `primary`,
 * `refs`, `brands` (the first is the major brand). Properties are
 * deduplicated; essential flags are written for transformative ones.
 * `extra`: Buffers appended after mdat (e.g. a `free` box).
 */
export function writeHeif({ brands, primary, items, refs = [], extra = [] }) {
  const list = [...(items instanceof Map ? items.values() : items)];
  const ipco = [];
  const index = (b) => {
    let i = ipco.findIndex((x) => x.equals(b));
    if (i < 0) { ipco.push(b); i = ipco.length - 1; }
    return i + 1;
  };
  const assoc = list.filter((it) => it.props.length).map((it) => [it.id, it.props.map((p, k) => {
    const ess = it.essential?.[k] ?? ['irot', 'imir', 'av1C', 'hvcC', 'clap'].includes(propType(p));
    return (ess ? 0x80 : 0) | index(p);
  })]);
  if (ipco.length > 127) throw new Error('writer: more than 127 properties');
  const ipma = fullBox('ipma', 0, 0, u32(assoc.length), ...assoc.map(([id, ps]) => Buffer.concat([u16(id), u8(ps.length), Buffer.from(ps)])));
  const infe = (it) => fullBox('infe', 2, it.hidden ? 1 : 0, u16(it.id), u16(0), Buffer.from(it.type, 'latin1'), u8(0));
  const iinf = fullBox('iinf', 0, 0, u16(list.length), ...list.map(infe));
  const byType = new Map();
  for (const r of refs) byType.set(`${r.type}/${r.from}`, r);
  const iref = refs.length ? fullBox('iref', 0, 0, ...refs.map((r) => box(r.type, u16(r.from), u16(r.to.length), ...r.to.map(u16)))) : Buffer.alloc(0);
  const ftyp = box('ftyp', Buffer.from(brands[0], 'latin1'), u32(0), ...brands.map((b) => Buffer.from(b, 'latin1')));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), u32(0), u32(0), u32(0), u8(0));
  const pitm = fullBox('pitm', 0, 0, u16(primary));
  const iprp = box('iprp', box('ipco', ...ipco), ipma);
  const iloc = (start) => {
    let off = start;
    const entries = list.map((it) => {
      const e = Buffer.concat([u16(it.id), u16(0), u16(0), u16(1), u32(off), u32(it.data.length)]);
      off += it.data.length;
      return e;
    });
    return fullBox('iloc', 1, 0, u8(0x44), u8(0x00), u16(list.length), ...entries);
  };
  const metaOf = (start) => fullBox('meta', 0, 0, hdlr, pitm, iloc(start), iinf, iref, iprp);
  const metaLen = metaOf(0).length;
  const meta = metaOf(ftyp.length + metaLen + 8);
  const mdat = box('mdat', ...list.map((it) => it.data));
  return Buffer.concat([ftyp, meta, mdat, ...extra]);
}

/** The length-prefixed NAL units of an HEVC item's data (4-byte lengths). */
export function nalUnits(data, lenSize = 4) {
  const out = [];
  for (let p = 0; p + lenSize <= data.length;) {
    let n = 0;
    for (let i = 0; i < lenSize; i++) n = n * 256 + data[p + i];
    out.push(data.subarray(p + lenSize, p + lenSize + n));
    p += lenSize + n;
  }
  return out;
}

/** The OBUs of an AV1 item's data: { type, start, end } (with size fields). */
export function obus(data) {
  const out = [];
  for (let p = 0; p < data.length;) {
    const start = p;
    const h = data[p++];
    const type = (h >> 3) & 15;
    if ((h >> 2) & 1) p++;
    let size = 0;
    if ((h >> 1) & 1) {
      for (let i = 0; i < 8; i++) { const b = data[p++]; size += (b & 0x7f) * 2 ** (7 * i); if (!(b & 0x80)) break; }
    } else size = data.length - p;
    p += size;
    out.push({ type, start, end: p });
  }
  return out;
}

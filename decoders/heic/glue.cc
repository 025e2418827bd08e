// The HEIC decoder module's C ABI (decoders/common/phone_abi.h): a small,
// bounds-checked HEIF container reader (this file) and libde265 (Debian's
// 1.0.11 with its security patches, decoders/fetch.sh) for the HEVC
// pictures; YCbCr -> RGB in common/yuv.h.
//
// Supported: primary item 'hvc1', or 'grid' of 'hvc1' tiles (how phones
// store photos: an iPhone's 12 MP photo is 48 tiles of 512x512); colr
// nclx (matrix, range); without nclx the HEVC VUI's. Not: alpha (auxl
// items are ignored), 'iovl', 'iden'; irot/imir, ICC and the crop are the
// Worker's (src/imaging/phone/), which read the same boxes.
//
// Only the tiles that meet the requested rectangle are decoded, one at a
// time, each straight into the (scaled) output, then freed: memory is the
// output plus one tile's decoder.
//
// Limits (the Worker charged the work for the tiles it asked for, from
// the header; this file makes the bitstream keep to that header):
//   - every SPS (in hvcC and in the tiles' data) must code a picture of at
//     most the tile's ispe plus 64 pixels (HEVC codes whole coding blocks
//     and crops to the conformance window): libde265 1.0.11 has no limit
//     of its own on the picture size it allocates;
//   - one intra (IRAP) picture per tile: a second picture, or a P/B slice,
//     is refused (a few bytes of skipped pictures would each cost a tile);
//   - the decoded size must be the tile's ispe;
//   - libde265's worker threads are never started (no threads here).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "libde265/de265.h"
extern "C" {
#include "../common/phone_abi.h"
#include "../common/yuv.h"
size_t shim_heap_peak(void);
int shim_heap_failed(void);
}

#define EXPORT __attribute__((visibility("default")))

namespace {

struct Buf { const uint8_t *p; size_t n; };
static inline uint32_t be16(const uint8_t *p) { return (p[0] << 8) | p[1]; }
static inline uint32_t be32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
static inline uint32_t fourcc(const char *s) { return be32((const uint8_t *)s); }

struct Reader {
  const uint8_t *p, *end; bool bad = false;
  Reader(Buf b) : p(b.p), end(b.p + b.n) {}
  bool has(size_t n) { if ((size_t)(end - p) < n) { bad = true; return false; } return true; }
  uint32_t u8() { if (!has(1)) return 0; return *p++; }
  uint32_t u16() { if (!has(2)) return 0; uint32_t v = be16(p); p += 2; return v; }
  uint32_t u32() { if (!has(4)) return 0; uint32_t v = be32(p); p += 4; return v; }
  uint64_t un(int bytes) { uint64_t v = 0; for (int i = 0; i < bytes; i++) v = (v << 8) | u8(); return v; }
  void skip(size_t n) { if (has(n)) p += n; }
};

// Iterates the boxes inside [b]; false at the end or on a malformed box.
struct BoxIter {
  const uint8_t *p, *end;
  BoxIter(Buf b) : p(b.p), end(b.p + b.n) {}
  bool next(uint32_t &type, Buf &body) {
    if (end - p < 8) return false;
    uint64_t size = be32(p); type = be32(p + 4); size_t hdr = 8;
    if (size == 1) { if (end - p < 16) return false; size = ((uint64_t)be32(p + 8) << 32) | be32(p + 12); hdr = 16; }
    else if (size == 0) size = end - p;
    if (size < hdr || size > (uint64_t)(end - p)) return false;
    body.p = p + hdr; body.n = size - hdr; p += size;
    return true;
  }
};

enum { MAX_ITEMS = 2048, MAX_PROPS = 1024, MAX_ASSOC = 32, MAX_EXTENTS = 32 };

struct Item {
  uint32_t id, type;
  uint32_t method; uint64_t base; uint32_t n_ext; uint64_t ext_off[MAX_EXTENTS], ext_len[MAX_EXTENTS];
  uint16_t n_props; uint16_t props[MAX_ASSOC];
};

struct Heif {
  Buf file{}, idat{};
  uint32_t primary = 0;
  Item *items = nullptr; uint32_t n_items = 0;
  Buf props[MAX_PROPS]; uint32_t prop_type[MAX_PROPS]; uint32_t n_props = 0;
  Buf iref{};
  ~Heif() { free(items); }
  Item *item(uint32_t id) { for (uint32_t i = 0; i < n_items; i++) if (items[i].id == id) return &items[i]; return nullptr; }
  // The property of [type] associated with [it], or null.
  const Buf *prop(const Item *it, uint32_t type) {
    for (uint32_t i = 0; i < it->n_props; i++) { uint32_t k = it->props[i]; if (k && k <= n_props && prop_type[k - 1] == type) return &props[k - 1]; }
    return nullptr;
  }
  // An item's data: its extents, concatenated into a buffer of ours ([*owned]) if more than one; at most [cap] bytes.
  bool data(const Item *it, Buf &out, uint8_t **owned, size_t cap) {
    *owned = nullptr;
    if (it->method > 1) return false;
    Buf src = it->method == 1 ? idat : file;
    uint64_t total = 0;
    uint64_t off[MAX_EXTENTS], len[MAX_EXTENTS];
    for (uint32_t e = 0; e < it->n_ext; e++) {
      uint64_t o = it->base + it->ext_off[e], l = it->ext_len[e];
      if (o < it->base || o > src.n) return false;
      if (l == 0 && it->n_ext == 1) l = src.n - o;  // "to the end"
      if (l > src.n - o) return false;
      off[e] = o; len[e] = l; total += l;
    }
    if (it->n_ext == 0 || total > cap) return false;
    if (it->n_ext == 1) { out.p = src.p + off[0]; out.n = len[0]; return true; }
    uint8_t *buf = (uint8_t *)malloc(total);
    if (!buf) return false;
    size_t at = 0;
    for (uint32_t e = 0; e < it->n_ext; e++) { memcpy(buf + at, src.p + off[e], len[e]); at += len[e]; }
    *owned = buf; out.p = buf; out.n = total; return true;
  }
  // References of [type] from [from]: fills up to [cap] ids, returns the count (or -1).
  int refs(uint32_t type, uint32_t from, uint32_t *ids, int cap) {
    if (!iref.p) return 0;
    Reader r(iref); uint32_t ver = r.u8(); r.skip(3);
    if (r.bad) return -1;
    BoxIter bi(Buf{r.p, (size_t)(r.end - r.p)}); uint32_t t; Buf b;
    while (bi.next(t, b)) {
      Reader q(b);
      uint32_t f = ver ? q.u32() : q.u16(), n = q.u16();
      if (q.bad) return -1;
      if (t != type || f != from) continue;
      if (n > (uint32_t)cap) return -1;
      for (uint32_t i = 0; i < n; i++) ids[i] = ver ? q.u32() : q.u16();
      return q.bad ? -1 : (int)n;
    }
    return 0;
  }
};

static const char *parse(Heif &h, Buf file) {
  h.file = file;
  BoxIter top(file); uint32_t t; Buf b; Buf meta{};
  while (top.next(t, b)) if (t == fourcc("meta")) { meta = b; break; }
  if (!meta.p || meta.n < 4) return "no meta box";
  BoxIter mi(Buf{meta.p + 4, meta.n - 4});
  Buf iloc{}, iinf{}, iprp{}, pitm{};
  while (mi.next(t, b)) {
    if (t == fourcc("pitm")) pitm = b; else if (t == fourcc("iloc")) iloc = b; else if (t == fourcc("iinf")) iinf = b;
    else if (t == fourcc("iprp")) iprp = b; else if (t == fourcc("iref")) h.iref = b; else if (t == fourcc("idat")) h.idat = b;
  }
  if (!pitm.p || !iloc.p || !iinf.p || !iprp.p) return "incomplete meta box";
  { Reader r(pitm); uint32_t v = r.u8(); r.skip(3); h.primary = v ? r.u32() : r.u16(); if (r.bad) return "bad pitm"; }
  {
    Reader r(iinf); uint32_t v = r.u8(); r.skip(3); uint32_t n = v ? r.u32() : r.u16();
    if (r.bad || n > MAX_ITEMS) return "bad or too many items";
    h.items = (Item *)calloc(n ? n : 1, sizeof(Item)); if (!h.items) return "out of memory";
    BoxIter ii(Buf{r.p, (size_t)(r.end - r.p)});
    while (h.n_items < n && ii.next(t, b)) {
      if (t != fourcc("infe")) continue;
      Reader q(b); uint32_t ver = q.u8(); q.skip(3);
      if (ver < 2) continue;
      Item &it = h.items[h.n_items++];
      it.id = ver == 2 ? q.u16() : q.u32(); q.u16(); it.type = q.u32();
      if (q.bad) return "bad infe";
    }
  }
  {
    Reader r(iloc); uint32_t v = r.u8(); r.skip(3);
    uint32_t a = r.u8(), c = r.u8();
    int off_sz = a >> 4, len_sz = a & 15, base_sz = c >> 4, idx_sz = (v == 1 || v == 2) ? (c & 15) : 0;
    uint32_t n = v < 2 ? r.u16() : r.u32();
    for (uint32_t i = 0; i < n && !r.bad; i++) {
      uint32_t id = v < 2 ? r.u16() : r.u32();
      uint32_t method = (v == 1 || v == 2) ? (r.u16() & 15) : 0;
      r.u16(); uint64_t base = r.un(base_sz); uint32_t ne = r.u16();
      Item *it = h.item(id);
      if (ne > MAX_EXTENTS) return "too many extents";
      for (uint32_t e = 0; e < ne; e++) {
        r.un(idx_sz); uint64_t o = r.un(off_sz), l = r.un(len_sz);
        if (it) { it->ext_off[e] = o; it->ext_len[e] = l; }
      }
      if (it) { it->method = method; it->base = base; it->n_ext = ne; }
    }
    if (r.bad) return "bad iloc";
  }
  {
    BoxIter pi(iprp); Buf ipco{}, ipma{};
    while (pi.next(t, b)) { if (t == fourcc("ipco")) ipco = b; else if (t == fourcc("ipma") && !ipma.p) ipma = b; }
    if (!ipco.p || !ipma.p) return "no item properties";
    BoxIter ci(ipco);
    while (ci.next(t, b)) { if (h.n_props == MAX_PROPS) return "too many properties"; h.prop_type[h.n_props] = t; h.props[h.n_props++] = b; }
    Reader r(ipma); uint32_t v = r.u8(); uint32_t flags = r.un(3); uint32_t n = r.u32();
    for (uint32_t i = 0; i < n && !r.bad; i++) {
      uint32_t id = v < 1 ? r.u16() : r.u32(); uint32_t na = r.u8();
      Item *it = h.item(id);
      for (uint32_t k = 0; k < na; k++) {
        uint32_t idx = (flags & 1) ? (r.u16() & 0x7fff) : (r.u8() & 0x7f);
        if (it && it->n_props < MAX_ASSOC) it->props[it->n_props++] = idx;
      }
    }
    if (r.bad) return "bad ipma";
  }
  return nullptr;
}

// --- HEVC: the SPS's picture size (H.265 7.3.2.2), on the RBSP ---
struct Bits {
  const uint8_t *p; size_t n; size_t pos = 0; int zeros = 0; bool bad = false;
  size_t byte = 0; uint32_t cur = 0; int left = 0;
  Bits(const uint8_t *p_, size_t n_) : p(p_), n(n_) {}
  // Next RBSP byte (emulation prevention bytes 0x000003 dropped).
  int next_byte() {
    while (byte < n) {
      uint8_t b = p[byte++];
      if (zeros >= 2 && b == 3) { zeros = 0; continue; }
      zeros = b == 0 ? zeros + 1 : 0;
      return b;
    }
    bad = true; return 0;
  }
  uint32_t bit() { if (!left) { cur = next_byte(); left = 8; } left--; return (cur >> left) & 1; }
  uint32_t bits(int k) { uint32_t v = 0; while (k--) v = (v << 1) | bit(); return v; }
  uint32_t ue() { int z = 0; while (!bit()) { if (++z > 31 || bad) { bad = true; return 0; } } return ((1u << z) - 1) + bits(z); }
};

// The coded picture size of an SPS NAL unit (header included); false if unreadable.
static bool sps_size(const uint8_t *nal, size_t n, uint32_t *w, uint32_t *h) {
  if (n < 3) return false;
  Bits b(nal + 2, n - 2);
  b.bits(4);
  uint32_t max_sub_layers = b.bits(3) + 1;
  b.bits(1);
  b.bits(88 + 8);  // general profile (88 bits) and level
  uint32_t sub_profile[8] = {0}, sub_level[8] = {0};
  for (uint32_t i = 0; i + 1 < max_sub_layers; i++) { sub_profile[i] = b.bit(); sub_level[i] = b.bit(); }
  if (max_sub_layers > 1) for (uint32_t i = max_sub_layers - 1; i < 8; i++) b.bits(2);
  for (uint32_t i = 0; i + 1 < max_sub_layers; i++) { if (sub_profile[i]) b.bits(88); if (sub_level[i]) b.bits(8); }
  b.ue();  // sps_seq_parameter_set_id
  uint32_t chroma = b.ue();
  if (chroma == 3) b.bit();
  *w = b.ue(); *h = b.ue();
  return !b.bad;
}

}  // namespace

extern "C" {

static void set_error(ph_result *rs, const char *m) { strncpy(rs->error, m, PH_ERROR_LEN - 1); rs->error[PH_ERROR_LEN - 1] = 0; }

// Refuses a parameter set coding a picture larger than a tile (plus the coding-block margin).
static bool sps_ok(const uint8_t *nal, size_t n, uint32_t tw, uint32_t th) {
  if (n < 2 || ((nal[0] >> 1) & 0x3f) != 33) return true;
  uint32_t w, h;
  return sps_size(nal, n, &w, &h) && w >= 1 && h >= 1 && w <= tw + 64 && h <= th + 64;
}

// Pushes a tile's length-prefixed NAL units: one IRAP picture, SPS checked.
static int push_nals(de265_decoder_context *d, const uint8_t *p, size_t n, int len_size, uint32_t tw, uint32_t th, ph_result *rs) {
  int pictures = 0;
  while (n) {
    if (n < (size_t)len_size) { set_error(rs, "truncated NAL unit"); return PH_E_DAMAGED; }
    uint32_t l = 0; for (int i = 0; i < len_size; i++) l = (l << 8) | p[i];
    p += len_size; n -= len_size;
    if (l > n || l < 2) { set_error(rs, "bad NAL unit length"); return PH_E_DAMAGED; }
    uint32_t type = (p[0] >> 1) & 0x3f;
    if (type < 32) {  // VCL (slice segment)
      if (l < 3) { set_error(rs, "short slice"); return PH_E_DAMAGED; }
      if ((p[2] & 0x80) && ++pictures > 1) { set_error(rs, "more than one picture in a tile"); return PH_E_FRAMES; }
      if (type < 16 || type > 21) { set_error(rs, "a tile that is not an intra picture"); return PH_E_FRAMES; }
    } else if (!sps_ok(p, l, tw, th)) {
      set_error(rs, "SPS codes a picture larger than its tile"); return PH_E_LIMIT;
    }
    if (!de265_isOK(de265_push_NAL(d, p, l, 0, nullptr))) { set_error(rs, "libde265 refused a NAL unit"); return PH_E_DAMAGED; }
    p += l; n -= l;
  }
  return pictures == 1 ? PH_OK : (set_error(rs, "a tile without a picture"), PH_E_DAMAGED);
}

static int decode(const uint8_t *data, uint32_t len, const ph_request *rq, ph_result *rs);

EXPORT int ph_decode(const uint8_t *data, uint32_t len, const ph_request *rq, ph_result *rs) {
  int code = decode(data, len, rq, rs);
  if (code != PH_OK && shim_heap_failed()) code = PH_E_MEMORY;
  rs->heap_peak = (uint32_t)shim_heap_peak();
  return code;
}

static int decode(const uint8_t *data, uint32_t len, const ph_request *rq, ph_result *rs) {
  memset(rs, 0, sizeof *rs);
  if (rq->shift > 3 || !rq->w || !rq->h) { set_error(rs, "bad request"); return PH_E_DAMAGED; }
  Heif h;
  if (const char *e = parse(h, Buf{data, len})) { set_error(rs, e); return PH_E_DAMAGED; }
  Item *p = h.item(h.primary);
  if (!p) { set_error(rs, "no primary item"); return PH_E_DAMAGED; }
  const Buf *ispe = h.prop(p, fourcc("ispe"));
  if (!ispe || ispe->n < 12) { set_error(rs, "primary item has no ispe"); return PH_E_DAMAGED; }
  const uint32_t W = be32(ispe->p + 4), H = be32(ispe->p + 8);
  if (W != rq->expect_w || H != rq->expect_h) { set_error(rs, "ispe disagrees with the header"); return PH_E_MISMATCH; }
  if (!W || !H || (uint64_t)W * H > rq->max_pixels) { set_error(rs, "too many pixels"); return PH_E_LIMIT; }
  if ((uint64_t)rq->x + rq->w > W || (uint64_t)rq->y + rq->h > H) { set_error(rs, "request outside the image"); return PH_E_DAMAGED; }
  uint32_t cols = 1, rows = 1, n_tiles = 1;
  uint32_t *tiles = nullptr;
  if (p->type == fourcc("grid")) {
    Buf g; uint8_t *own;
    if (!h.data(p, g, &own, 64)) { set_error(rs, "bad grid data"); return PH_E_DAMAGED; }
    Reader r(g); r.u8(); uint32_t flags = r.u8();
    rows = r.u8() + 1; cols = r.u8() + 1;
    uint32_t ow = (flags & 1) ? r.u32() : r.u16(), oh = (flags & 1) ? r.u32() : r.u16();
    free(own);
    if (r.bad || ow != W || oh != H) { set_error(rs, "grid size disagrees with ispe"); return PH_E_DAMAGED; }
    n_tiles = rows * cols;
    tiles = (uint32_t *)malloc(sizeof(uint32_t) * n_tiles);
    if (!tiles) { set_error(rs, "out of memory"); return PH_E_MEMORY; }
    if (h.refs(fourcc("dimg"), p->id, tiles, n_tiles) != (int)n_tiles) { free(tiles); set_error(rs, "grid tiles missing"); return PH_E_DAMAGED; }
  } else if (p->type == fourcc("hvc1")) {
    tiles = (uint32_t *)malloc(sizeof(uint32_t));
    if (!tiles) { set_error(rs, "out of memory"); return PH_E_MEMORY; }
    tiles[0] = p->id;
  } else {
    set_error(rs, "primary item is neither hvc1 nor grid"); return PH_E_UNSUPPORTED;
  }
  struct Free { uint32_t *t; ~Free() { free(t); } } free_tiles{tiles};
  // Every tile: hvc1, same ispe; together they cover the image with less than a tile to spare.
  uint32_t tw = 0, th = 0;
  const Buf *hvcC0 = nullptr;
  for (uint32_t i = 0; i < n_tiles; i++) {
    Item *t = h.item(tiles[i]);
    if (!t || t->type != fourcc("hvc1")) { set_error(rs, "tile is not hvc1"); return PH_E_UNSUPPORTED; }
    const Buf *c = h.prop(t, fourcc("hvcC")), *s = h.prop(t, fourcc("ispe"));
    if (!c || c->n < 23 || !s || s->n < 12) { set_error(rs, "tile without hvcC/ispe"); return PH_E_DAMAGED; }
    uint32_t w = be32(s->p + 4), hh = be32(s->p + 8);
    if (i == 0) { tw = w; th = hh; hvcC0 = c; }
    else if (w != tw || hh != th) { set_error(rs, "tiles of different sizes"); return PH_E_DAMAGED; }
  }
  if (!tw || !th || (uint64_t)tw * cols < W || (uint64_t)th * rows < H || (uint64_t)tw * (cols - 1) >= W || (uint64_t)th * (rows - 1) >= H) {
    set_error(rs, "grid tiles do not match the image size"); return PH_E_DAMAGED;
  }
  if ((uint64_t)tw * th > rq->max_pixels) { set_error(rs, "tile too large"); return PH_E_LIMIT; }
  const uint32_t S = 1u << rq->shift;
  if (n_tiles > 1 && (tw % S || th % S)) { set_error(rs, "scale not aligned to the tiles"); return PH_E_DAMAGED; }
  // Colour: nclx, else the VUI of the first picture.
  bool have_nclx = false;
  for (uint32_t i = 0; i < p->n_props; i++) {
    uint32_t k = p->props[i]; if (!k || k > h.n_props || h.prop_type[k - 1] != fourcc("colr")) continue;
    const Buf &b = h.props[k - 1];
    if (b.n >= 11 && be32(b.p) == fourcc("nclx")) {
      rs->primaries = be16(b.p + 4); rs->transfer = be16(b.p + 6); rs->matrix = be16(b.p + 8); rs->full_range = b.p[10] >> 7;
      have_nclx = true; break;
    }
  }
  uint32_t ox, ow, oy, oh;
  yuv_block_range(rq->x, rq->w, rq->shift, &ox, &ow);
  yuv_block_range(rq->y, rq->h, rq->shift, &oy, &oh);
  uint8_t *out = (uint8_t *)malloc((size_t)ow * oh * 3);
  if (!out) { set_error(rs, "out of memory (output)"); return PH_E_MEMORY; }
  bool conv_ready = false; yuv_conv cv{};
  int code = PH_OK;
  for (uint32_t i = 0; i < n_tiles && code == PH_OK; i++) {
    uint32_t px = (i % cols) * tw, py = (i / cols) * th;
    // Only the tiles that meet the requested blocks.
    uint32_t vis_w = W - px < tw ? W - px : tw, vis_h = H - py < th ? H - py : th;
    if (((px + vis_w + S - 1) >> rq->shift) <= ox || (px >> rq->shift) >= ox + ow) continue;
    if (((py + vis_h + S - 1) >> rq->shift) <= oy || (py >> rq->shift) >= oy + oh) continue;
    Item *t = h.item(tiles[i]);
    const Buf *hvcC = h.prop(t, fourcc("hvcC"));
    const uint8_t *c = hvcC->p; size_t cn = hvcC->n;
    int len_size = (c[21] & 3) + 1;
    Buf td; uint8_t *own;
    if (!h.data(t, td, &own, len)) { set_error(rs, "bad tile data"); code = PH_E_DAMAGED; break; }
    de265_decoder_context *d = de265_new_decoder();
    if (!d) { free(own); set_error(rs, "out of memory (decoder)"); code = PH_E_MEMORY; break; }
    de265_set_parameter_bool(d, DE265_DECODER_PARAM_SUPPRESS_FAULTY_PICTURES, 1);
    // hvcC arrays: [22] numOfArrays, then { type, u16 count, { u16 length, NAL unit } }
    Reader r(Buf{c + 22, cn - 22}); uint32_t na = r.u8();
    for (uint32_t a = 0; a < na && !r.bad && code == PH_OK; a++) {
      r.u8(); uint32_t k = r.u16();
      for (uint32_t j = 0; j < k && !r.bad && code == PH_OK; j++) {
        uint32_t l = r.u16();
        if (!r.has(l)) break;
        if (!sps_ok(r.p, l, tw, th)) { set_error(rs, "SPS codes a picture larger than its tile"); code = PH_E_LIMIT; }
        else if (!de265_isOK(de265_push_NAL(d, r.p, l, 0, nullptr))) { set_error(rs, "libde265 refused a parameter set"); code = PH_E_DAMAGED; }
        r.skip(l);
      }
    }
    if (r.bad && code == PH_OK) { set_error(rs, "bad hvcC"); code = PH_E_DAMAGED; }
    if (code == PH_OK) code = push_nals(d, td.p, td.n, len_size, tw, th, rs);
    free(own);
    const de265_image *img = nullptr;
    if (code == PH_OK) {
      de265_flush_data(d);
      int more = 1;
      while (more && !img) {
        de265_error e = de265_decode(d, &more);
        if (!de265_isOK(e) && e != DE265_ERROR_WAITING_FOR_INPUT_DATA) {
          snprintf(rs->error, PH_ERROR_LEN, "HEVC decoding error %d: %s", (int)e, de265_get_error_text(e));
          code = e == DE265_ERROR_OUT_OF_MEMORY ? PH_E_MEMORY : PH_E_DAMAGED;
          break;
        }
        img = de265_get_next_picture(d);
      }
      if (code == PH_OK && !img) { set_error(rs, "a tile decoded to nothing"); code = PH_E_DAMAGED; }
      if (code == PH_OK && (de265_get_image_width(img, 0) != (int)tw || de265_get_image_height(img, 0) != (int)th)) {
        set_error(rs, "a tile's size disagrees with its ispe"); code = PH_E_MISMATCH;
      }
    }
    if (code == PH_OK) {
      int depth = de265_get_bits_per_pixel(img, 0);
      de265_chroma ch = de265_get_chroma_format(img);
      if (depth < 8 || depth > 12 || (ch != de265_chroma_mono && de265_get_bits_per_pixel(img, 1) != depth)) {
        set_error(rs, "unsupported bit depth"); code = PH_E_UNSUPPORTED;
      } else {
        if (!conv_ready) {
          if (!have_nclx) {
            rs->primaries = de265_get_image_colour_primaries(img); rs->transfer = de265_get_image_transfer_characteristics(img);
            rs->matrix = de265_get_image_matrix_coefficients(img); rs->full_range = de265_get_image_full_range_flag(img);
          }
          rs->depth = depth;
          yuv_conv_init(&cv, rs->matrix, rs->full_range, depth);
          conv_ready = true;
        }
        yuv_planes pl{};
        int stride;
        pl.plane[0] = de265_get_image_plane(img, 0, &stride); pl.stride[0] = stride;
        if (ch != de265_chroma_mono) {
          pl.plane[1] = de265_get_image_plane(img, 1, &stride); pl.stride[1] = stride;
          pl.plane[2] = de265_get_image_plane(img, 2, &stride); pl.stride[2] = stride;
        }
        pl.sx = ch == de265_chroma_420 || ch == de265_chroma_422;
        pl.sy = ch == de265_chroma_420;
        pl.w = vis_w; pl.h = vis_h; pl.depth = depth;
        yuv_convert_blocks(&pl, &cv, px, py, rq->shift, ox, oy, ow, oh, out, ow * 3, 3);
        rs->pictures++;
        rs->decoded_pixels += tw * th;
      }
    }
    de265_free_decoder(d);
  }
  rs->heap_peak = (uint32_t)shim_heap_peak();
  if (code != PH_OK) { free(out); return code; }
  if (!conv_ready) { free(out); set_error(rs, "no tile decoded"); return PH_E_DAMAGED; }
  rs->pixels = (uint32_t)(uintptr_t)out;
  rs->stride = ow * 3;
  rs->out_w = ow; rs->out_h = oh; rs->out_x = ox; rs->out_y = oy;
  rs->channels = 3;
  return PH_OK;
}

}  // extern "C"

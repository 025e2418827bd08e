#!/usr/bin/env bash
# Builds the seed corpus of each fuzz target (fuzz/corpus/<target>/,
# git-ignored) from the test fixtures. Idempotent: re-running adds nothing
# new and leaves what the fuzzer found in place. See docs/fuzzing.md.
#
#   bash scripts/fuzz-seed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
C=fuzz/corpus
mkdir -p "$C/pipeline" "$C/token" "$C/multipart" "$C/profile"

# --- pipeline: every fixture as is (whole input = upload, WebP out) ------
images=()
for f in tests/fixtures/* tests/fixtures-native/*; do
  case "$f" in *.md|*.json|*.py) continue ;; esac
  [ -f "$f" ] || continue
  images+=("$f")
  cp "$f" "$C/pipeline/$(basename "$f")"
done
# ... plus JPEGs with LUT-based ICC profiles (CMYK lut8, RGB lut16, v4
# lutAtoB, grey gamma): the fixtures only have matrix/TRC profiles, and
# mutation alone rarely turns those into CLUTs.
if command -v python3 >/dev/null; then
  python3 scripts/fuzz-icc-seeds.py tests/fixtures-native tests/fixtures "$C/pipeline"
else
  echo "fuzz-seed: no python3, skipping the ICC seeds"
fi
# ... plus the CPU bombs of tests/lib/cpu-bombs.mjs at the target's 4 MP
# (truncated JPEG scans, files declaring more than they hold, dense but
# valid data): mutation alone does not build those.
if command -v node >/dev/null; then
  node scripts/cpu-bomb-seeds.mjs "$C/pipeline"
else
  echo "fuzz-seed: no node, skipping the CPU-bomb seeds"
fi
# ... and with a parameter block in front (see fuzz/fuzz_targets/pipeline.rs):
# [mode, size, x, y, w, h as u16 LE]; mode%3 = WebP/JPEG/PNG, bit 2 = crop.
# A crop 1,2,10×7 fits every real fixture (the smallest is 16×16).
params=(
  '\x04\x3f\x01\x00\x02\x00\x0a\x00\x07\x00'   # WebP, crop, 64 px, q 1
  '\x55\x1f\x01\x00\x02\x00\x0a\x00\x07\x00'   # JPEG, crop, 32 px, q 31
  '\x06\x00\x00\x00\x00\x00\x01\x00\x01\x00'   # PNG, crop 1×1, 1 px
  '\x01\x07\x00\x00\x00\x00\x00\x00\x00\x00'   # JPEG, centre, 8 px
  '\xf8\x3f\x00\x00\x00\x00\x00\x00\x00\x00'   # PNG, centre, 64 px
  '\x00\x0f\x00\x00\x00\x00\x00\x00\x00\x00'   # WebP, centre, 16 px: the
                                               # progressive fixtures at 1/2
)
n=0
for p in "${params[@]}"; do
  n=$((n + 1))
  for f in "${images[@]}"; do
    # Only the decodable ones: the others gain nothing from parameters.
    case "$(basename "$f")" in empty.*|text.*|html.*|svg.*|pdf.*|heic.*|bomb_*|huge_*) continue ;; esac
    { printf "$p"; cat "$f"; } > "$C/pipeline/p$n-$(basename "$f")"
  done
done

# --- token: one mode byte, then text (see fuzz/fuzz_targets/token.rs) -----
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
sig() { printf %s "$2" | openssl dgst -sha256 -hmac "$1-user-token" -binary | b64url; }
hs256=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
claims=(
  '{"t":"1700003600","userId":"42"}'                  # AnqiCMS
  '{"sub":7,"exp":1700003600,"iat":1699917200}'       # standard, numbers
  '{"userId":"9","t":"1700000001","extra":{"a":[1]}}'
  '{"sub":"5","userId":5,"exp":"1800000000","t":1700001000,"nbf":1600000000}'
  '{"userId":"1","t":"1699999999"}'                   # expired
  '{"userId":"1"}'                                    # no expiry
  '{"userId":"0","t":"1800000000"}'
  '{"userId":"-1","exp":1.8e9}'
  '{"sub":18446744073709551615,"exp":9223372036854775807}'
)
i=0
for c in "${claims[@]}"; do
  i=$((i + 1))
  p=$(printf %s "$c" | b64url)
  printf '\x00%s' "$hs256.$p.$(sig fuzz-secret "$hs256.$p")" > "$C/token/m0-good-$i"
  printf '\x00%s' "$hs256.$p.$(sig anqi-secret-of-site "$hs256.$p")" > "$C/token/m0-other-$i"
  printf '\x01%s' "$hs256.$p" > "$C/token/m1-$i"
  printf '\x03%s' "$c" > "$C/token/m3-$i"
done
for h in '{"alg":"none","typ":"JWT"}' '{"alg":"HS384"}' '{"alg":"RS256","typ":"JWT","kid":"x"}' '{"typ":"JWT"}' '{"alg":"HS256","crit":["b64"],"b64":false}'; do
  i=$((i + 1))
  hh=$(printf %s "$h" | b64url)
  p=$(printf %s "${claims[0]}" | b64url)
  printf '\x00%s' "$hh.$p." > "$C/token/m0-alg-$i"
  printf '\x01%s' "$hh.$p" > "$C/token/m1-alg-$i"
done
tok="$hs256.$(printf %s "${claims[0]}" | b64url).$(sig fuzz-secret "$hs256.$(printf %s "${claims[0]}" | b64url)")"
printf '\x02%s\n\n' "$tok" > "$C/token/m2-header"
printf '\x02\nlang=zh; token=%s; x=1\n' "$tok" > "$C/token/m2-cookie"
printf '\x02\na=b, token="%s"\nBearer other' "$tok" > "$C/token/m2-cookie-quoted"
printf '\x02 \n\nbearer   %s ' "$tok" > "$C/token/m2-bearer"
printf '\x00a.b.c' > "$C/token/m0-short"
printf '\x00' > "$C/token/m0-empty"

# --- multipart: Content-Type line, then the body ---------------------------
mp() { # name boundary file [crop...]
  local out="$C/multipart/$1" b="$2" file="$3"; shift 3
  {
    printf 'multipart/form-data; boundary=%s\n' "$b"
    for kv in "$@"; do
      printf -- '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' "$b" "${kv%%=*}" "${kv#*=}"
    done
    printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="a;b \\"c\\".jpg"\r\nContent-Type: image/jpeg\r\n\r\n' "$b"
    cat "$file"
    printf -- '\r\n--%s--\r\n' "$b"
  } > "$out"
}
mp plain ----WebKitFormBoundary7MA4YWxkTrZu0gW tests/fixtures/orient-1.jpg
mp crop X tests/fixtures/gif_animated.gif crop_x=1 crop_y=2 crop_w=30.0 crop_h=' 40 '
mp space 'a b' tests/fixtures/webp_lossless.webp crop_x=1 crop_y= other=x
mp empty b tests/fixtures/empty.jpg
printf 'Multipart/Form-Data; charset=utf-8; boundary="q"\npreamble\r\n--q  \r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--q--' > "$C/multipart/padding"

# --- profile: avatar URL, newline, the stored JSON -------------------------
pf() { printf '%s\n%s' "$2" "$3" > "$C/profile/$1"; }
pf plain 'https://example.com/uploads/user/7.webp?v=3f2a9c1e' '{"id":7,"user_name":"alice","status":1,"avatar_url":"https://x/old.png"}'
pf keep 'https://cdn/u/7.webp?v=3f2a' '{"id":7, "user_name":"\u963f\u91cc","status":1,"avatar_url":"old","big":123456789012345678901234567890,"price":1.50,"group":{"b":2,"a":[1, 2.0,"x"]},"zeta":null,"alpha":true,"esc":"a\"b\\c\/d"}'
pf banned 'u' '{"id":"8","status":"-1"}'
pf dup 'https://x/"q"\u.png' '{"avatar_url":"a","id":1,"avatar_url":"b"}'
pf absent 'u' '{"id":7,"user_name":"a","status":1,"x":[]}'
pf empty '' '{}'
pf corrupt 'u' '{"status":1.5}'

for t in pipeline token multipart profile; do
  echo "fuzz/corpus/$t: $(find "$C/$t" -type f | wc -l) files"
done

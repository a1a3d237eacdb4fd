#!/usr/bin/env python3
"""Generate asciifold_table.h, the ASCII-folding table of the text analyzer.

Usage: python3 src/text/gen_asciifold.py > src/text/asciifold_table.h

A code point folds to the ASCII of its compatibility decomposition (NFKD)
once combining marks are dropped, e.g. e-acute -> e, ligature fi -> fi,
circled 1 -> 1, fullwidth A -> A.  Letters that have no decomposition
(o-stroke, l-stroke, sharp s, ae, thorn, ...) and typographic punctuation
come from the hand-written list below.  Combining diacritical marks fold
to nothing, so decomposed (NFD) text folds like composed text.

The table is generated once and committed rather than derived from ICU at
run time: folded tokens are stored in indexes, so the mapping must not
change when the system's Unicode data does.
"""
import sys
import unicodedata

# Blocks folded; everything else is left as it is.
RANGES = [
    (0x00A0, 0x024F),   # Latin-1 Supplement, Latin Extended-A and -B
    (0x0250, 0x02AF),   # IPA Extensions (letter-like ones)
    (0x02B0, 0x02FF),   # Spacing Modifier Letters (superscript letters)
    (0x0300, 0x036F),   # Combining Diacritical Marks: dropped
    (0x1D00, 0x1DBF),   # Phonetic Extensions
    (0x1E00, 0x1EFF),   # Latin Extended Additional (Vietnamese etc.)
    (0x2000, 0x206F),   # General Punctuation
    (0x2070, 0x209F),   # Superscripts and Subscripts
    (0x2100, 0x214F),   # Letterlike Symbols
    (0x2150, 0x218F),   # Number Forms (fractions, Roman numerals)
    (0x2460, 0x24FF),   # Enclosed Alphanumerics
    (0x2C60, 0x2C7F),   # Latin Extended-C
    (0xA720, 0xA7FF),   # Latin Extended-D
    (0xFB00, 0xFB06),   # Latin ligatures
    (0xFF01, 0xFF5E),   # Fullwidth ASCII
]

# Letters without a compatibility decomposition, and punctuation.  Written
# in their natural case; lowercase-only letters are lowercased below.
HAND = {
    # Latin-1 Supplement
    'Æ': 'AE', 'æ': 'ae', 'Ð': 'D', 'ð': 'd', 'Ø': 'O', 'ø': 'o',
    'Þ': 'TH', 'þ': 'th', 'ß': 'ss', '«': '"', '»': '"',
    # Latin Extended-A
    'Đ': 'D', 'đ': 'd', 'Ħ': 'H', 'ħ': 'h', 'ı': 'i', 'ĸ': 'q',
    'Ŀ': 'L', 'ŀ': 'l', 'Ł': 'L', 'ł': 'l', 'ŉ': 'n', 'Ŋ': 'N', 'ŋ': 'n',
    'Œ': 'OE', 'œ': 'oe', 'Ŧ': 'T', 'ŧ': 't',
    # Latin Extended-B
    'ƀ': 'b', 'Ɓ': 'B', 'Ƃ': 'B', 'ƃ': 'b', 'Ɔ': 'O', 'Ƈ': 'C', 'ƈ': 'c',
    'Ɖ': 'D', 'Ɗ': 'D', 'Ƌ': 'D', 'ƌ': 'd', 'Ǝ': 'E', 'Ɛ': 'E', 'Ƒ': 'F',
    'ƒ': 'f', 'Ɠ': 'G', 'ƕ': 'hv', 'Ɨ': 'I', 'Ƙ': 'K', 'ƙ': 'k', 'ƚ': 'l',
    'Ɲ': 'N', 'ƞ': 'n', 'Ɵ': 'O', 'Ƣ': 'OI', 'ƣ': 'oi', 'Ƥ': 'P', 'ƥ': 'p',
    'ƫ': 't', 'Ƭ': 'T', 'ƭ': 't', 'Ʈ': 'T', 'Ʋ': 'V', 'Ƴ': 'Y', 'ƴ': 'y',
    'Ƶ': 'Z', 'ƶ': 'z', 'Ƕ': 'HV', 'ǝ': 'e', 'Ǥ': 'G', 'ǥ': 'g',
    'Ȝ': 'Y', 'ȝ': 'y', 'Ȣ': 'OU', 'ȣ': 'ou', 'Ȥ': 'Z', 'ȥ': 'z',
    'ȴ': 'l', 'ȵ': 'n', 'ȶ': 't', 'ȷ': 'j', 'ȸ': 'db', 'ȹ': 'qp',
    'Ⱥ': 'A', 'Ȼ': 'C', 'ȼ': 'c', 'Ƚ': 'L', 'Ⱦ': 'T', 'ȿ': 's', 'ɀ': 'z',
    'Ƀ': 'B', 'Ʉ': 'U', 'Ɇ': 'E', 'ɇ': 'e', 'Ɉ': 'J', 'ɉ': 'j',
    'Ɋ': 'Q', 'ɋ': 'q', 'Ɍ': 'R', 'ɍ': 'r', 'Ɏ': 'Y', 'ɏ': 'y',
    # IPA Extensions
    'ɐ': 'a', 'ɑ': 'a', 'ɒ': 'a', 'ɓ': 'b', 'ɔ': 'o', 'ɕ': 'c', 'ɖ': 'd',
    'ɗ': 'd', 'ɘ': 'e', 'ə': 'e', 'ɚ': 'e', 'ɛ': 'e', 'ɜ': 'e', 'ɝ': 'e',
    'ɞ': 'e', 'ɟ': 'j', 'ɠ': 'g', 'ɡ': 'g', 'ɢ': 'g', 'ɥ': 'h', 'ɦ': 'h',
    'ɧ': 'h', 'ɨ': 'i', 'ɪ': 'i', 'ɫ': 'l', 'ɬ': 'l', 'ɭ': 'l', 'ɯ': 'm',
    'ɰ': 'm', 'ɱ': 'm', 'ɲ': 'n', 'ɳ': 'n', 'ɴ': 'n', 'ɵ': 'o', 'ɶ': 'oe',
    'ɹ': 'r', 'ɺ': 'r', 'ɻ': 'r', 'ɼ': 'r', 'ɽ': 'r', 'ɾ': 'r', 'ɿ': 'r',
    'ʀ': 'r', 'ʁ': 'r', 'ʂ': 's', 'ʇ': 't', 'ʈ': 't', 'ʉ': 'u', 'ʋ': 'v',
    'ʌ': 'v', 'ʍ': 'w', 'ʎ': 'y', 'ʏ': 'y', 'ʐ': 'z', 'ʑ': 'z', 'ʗ': 'c',
    'ʙ': 'b', 'ʛ': 'g', 'ʜ': 'h', 'ʝ': 'j', 'ʞ': 'k', 'ʟ': 'l', 'ʠ': 'q',
    'ʣ': 'dz', 'ʥ': 'dz', 'ʦ': 'ts', 'ʨ': 'tc', 'ʪ': 'ls', 'ʫ': 'lz',
    'ʮ': 'h', 'ʯ': 'h',
    # Phonetic Extensions (small capitals and the like)
    'ᴀ': 'a', 'ᴁ': 'ae', 'ᴃ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴆ': 'd', 'ᴇ': 'e',
    'ᴊ': 'j', 'ᴋ': 'k', 'ᴌ': 'l', 'ᴍ': 'm', 'ᴎ': 'n', 'ᴏ': 'o', 'ᴐ': 'o',
    'ᴔ': 'oe', 'ᴘ': 'p', 'ᴙ': 'r', 'ᴚ': 'r', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v',
    'ᴡ': 'w', 'ᴢ': 'z', 'ᵬ': 'b', 'ᵭ': 'd', 'ᵮ': 'f', 'ᵯ': 'm', 'ᵰ': 'n',
    'ᵱ': 'p', 'ᵲ': 'r', 'ᵳ': 'r', 'ᵴ': 's', 'ᵵ': 't', 'ᵶ': 'z', 'ᵻ': 'i',
    'ᵽ': 'p', 'ᵾ': 'u', 'ᶀ': 'b', 'ᶁ': 'd', 'ᶂ': 'f', 'ᶃ': 'g', 'ᶄ': 'k',
    'ᶅ': 'l', 'ᶆ': 'm', 'ᶇ': 'n', 'ᶈ': 'p', 'ᶉ': 'r', 'ᶊ': 's', 'ᶌ': 'v',
    'ᶍ': 'x', 'ᶎ': 'z', 'ᶏ': 'a', 'ᶑ': 'd', 'ᶒ': 'e', 'ᶓ': 'e', 'ᶖ': 'i',
    'ᶙ': 'u',
    # Latin Extended Additional
    'ẚ': 'a', 'ẜ': 's', 'ẝ': 's', 'ẞ': 'SS', 'Ỻ': 'LL', 'ỻ': 'll',
    'Ỽ': 'V', 'ỽ': 'v', 'Ỿ': 'Y', 'ỿ': 'y',
    # Latin Extended-C and -D
    'Ⱡ': 'L', 'ⱡ': 'l', 'Ɫ': 'L', 'Ᵽ': 'P', 'Ɽ': 'R', 'ⱥ': 'a', 'ⱦ': 't',
    'Ⱨ': 'H', 'ⱨ': 'h', 'Ⱪ': 'K', 'ⱪ': 'k', 'Ⱬ': 'Z', 'ⱬ': 'z',
    'Ɱ': 'M', 'ⱱ': 'v', 'Ⱳ': 'W', 'ⱳ': 'w', 'ⱴ': 'v', 'ⱸ': 'e', 'ⱺ': 'o',
    'Ꜳ': 'AA', 'ꜳ': 'aa', 'Ꜵ': 'AO', 'ꜵ': 'ao', 'Ꜷ': 'AU', 'ꜷ': 'au',
    'Ꜹ': 'AV', 'ꜹ': 'av', 'Ꜽ': 'AY', 'ꜽ': 'ay', 'Ꝁ': 'K', 'ꝁ': 'k',
    'Ꝇ': 'L', 'ꝇ': 'l', 'Ꝋ': 'O', 'ꝋ': 'o', 'Ꝏ': 'OO', 'ꝏ': 'oo',
    'Ꝑ': 'P', 'ꝑ': 'p', 'Ꝗ': 'Q', 'ꝗ': 'q', 'Ꝡ': 'VY', 'ꝡ': 'vy',
    'Ꝩ': 'V', 'ꝩ': 'v', 'Ꞁ': 'L', 'ꞁ': 'l', 'Ꞃ': 'R', 'ꞃ': 'r',
    'Ꞅ': 'S', 'ꞅ': 's', 'Ꞇ': 'T', 'ꞇ': 't',
    # General Punctuation and friends
    '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-',
    '\u2014': '-', '\u2015': '-', '\u2212': '-',
    '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'",
    '\u2032': "'", '\u2035': "'", '\u2039': "'", '\u203A': "'",
    '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"',
    '\u2033': '"', '\u2036': '"',
    '\u2044': '/', '\u2052': '%', '\u2053': '~', '\u204E': '*',
}

# Compatibility decompositions may leave these behind; fold them too.
LEFTOVER = {'\u2044': '/', '\u2212': '-', '\u2010': '-', '\u02BC': "'"}

MAX_OUT = 4


def fold_char(ch):
    """ASCII folding of one character, or None to leave it as it is."""
    cp = ord(ch)
    if 0x0300 <= cp <= 0x036F:
        return ''
    if ch in HAND:
        out = HAND[ch]
    else:
        cat = unicodedata.category(ch)
        # Letters, numbers and punctuation only: symbols such as the trade
        # mark sign would fold to capital letters that lowercasing never
        # sees.  The enclosed alphanumerics are symbols but alphabetic.
        if not (cat[0] in 'LNP' or 0x2460 <= cp <= 0x24FF):
            return None
        out = ''
        for d in unicodedata.normalize('NFKD', ch):
            if unicodedata.category(d) == 'Mn':
                continue
            out += LEFTOVER.get(d, HAND.get(d, d))
    if out == '' or out == ch or any(ord(c) >= 0x80 for c in out):
        return None
    # spacing accents, spaces: a space would split a whitespace token
    if any(not c.isprintable() or c == ' ' for c in out):
        return None
    # Caseless or lowercase letters fold to lowercase, so that with
    # lower_case the folded token is lowercase too (small capitals, the
    # double-struck C, Roman numeral ii are all lowercase-or-caseless).
    if ch.lower() == ch:
        out = out.lower()
    if len(out) > MAX_OUT or len(out) > 2 * len(ch.encode('utf-8')):
        raise SystemExit('fold of U+%04X too long: %r' % (cp, out))
    return out


def main():
    maps = {}
    for lo, hi in RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            if unicodedata.category(ch) == 'Cn':
                continue
            out = fold_char(ch)
            if out is not None:
                maps[cp] = out
    for ch in HAND:
        if ord(ch) not in maps:
            out = fold_char(ch)
            if out is not None:
                maps[ord(ch)] = out

    pages = sorted({cp >> 8 for cp in maps})
    pool = bytearray(b'\0')      # offset 0 means "no mapping"
    offsets = {}
    for cp in sorted(maps):
        out = maps[cp].encode('ascii')
        if out not in offsets:
            offsets[out] = len(pool)
            pool.append(len(out))
            pool.extend(out)
    if len(pool) > 0xFFFF:
        raise SystemExit('pool too large')

    w = sys.stdout.write
    w('/*\n * asciifold_table.h\n'
      ' *\t  ASCII folding table of the text analyzer: %d code points.\n'
      ' *\n'
      ' * Generated by src/text/gen_asciifold.py (Unicode %s); do not edit.\n'
      ' * fold_page[cp >> 8] is 0 or 1 + the row of fold_index for that\n'
      ' * 256-code-point page; fold_index[row][cp & 0xFF] is 0 (no mapping) or\n'
      ' * the offset in fold_pool of a length byte followed by the ASCII bytes\n'
      ' * (length 0: the code point is dropped).\n */\n'
      % (len(maps), unicodedata.unidata_version))
    w('#define LANCE_FOLD_MAX_OUT %d\n\n' % MAX_OUT)
    w('static const uint8_t fold_page[256] = {\n')
    row = {p: i + 1 for i, p in enumerate(pages)}
    vals = [row.get(p, 0) for p in range(256)]
    for i in range(0, 256, 16):
        w('\t' + ', '.join('%d' % v for v in vals[i:i + 16]) + ',\n')
    w('};\n\n')
    w('static const uint16_t fold_index[%d][256] = {\n' % len(pages))
    for p in pages:
        w('\t/* U+%04X */\n\t{\n' % (p << 8))
        vals = []
        for lo in range(256):
            cp = (p << 8) | lo
            vals.append(offsets[maps[cp].encode('ascii')] if cp in maps else 0)
        for i in range(0, 256, 12):
            w('\t\t' + ', '.join('%d' % v for v in vals[i:i + 12]) + ',\n')
        w('\t},\n')
    w('};\n\n')
    w('static const char fold_pool[%d] =\n' % len(pool))
    for i in range(0, len(pool), 16):
        chunk = pool[i:i + 16]
        w('\t"' + ''.join('\\x%02x' % b for b in chunk) + '"\n')
    w(';\n')


if __name__ == '__main__':
    main()

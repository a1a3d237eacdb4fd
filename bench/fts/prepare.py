#!/usr/bin/env python3
"""Debian package descriptions (apt's Translation-en) -> docs.tsv for COPY.

Each package gives one document: its long description (the synopsis line is
left out, so that the synopsis can serve as a known-item query).  Columns:
id, package, synopsis, body (COPY text format)."""
import subprocess
import sys


def esc(s):
    return s.replace('\\', '\\\\').replace('\t', ' ').replace('\n', ' ').replace('\r', ' ')


def main(src, out):
    data = subprocess.run(['lz4cat', src], check=True, capture_output=True).stdout.decode('utf-8', 'replace')
    n = 0
    seen = set()
    with open(out, 'w', encoding='utf-8') as f:
        for rec in data.split('\n\n'):
            pkg = syn = None
            body = []
            in_desc = False
            for line in rec.split('\n'):
                if line.startswith('Package: '):
                    pkg = line[9:].strip()
                elif line.startswith('Description-en: '):
                    syn = line[16:].strip()
                    in_desc = True
                elif in_desc and line.startswith(' '):
                    t = line[1:]
                    body.append('' if t.strip() == '.' else t.strip())
                else:
                    in_desc = False
            text = ' '.join(x for x in body if x)
            if not pkg or not syn or not text or pkg in seen:
                continue
            seen.add(pkg)
            n += 1
            f.write('%d\t%s\t%s\t%s\n' % (n, esc(pkg), esc(syn), esc(text)))
    print(n, 'documents', file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])

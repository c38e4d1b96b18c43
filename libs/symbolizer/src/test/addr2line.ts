// eu-addr2line (elfutils) as the reference for inline chains: names, innermost first.
import { execFileSync } from 'node:child_process';

/** Whether eu-addr2line is installed. */
export function hasEuAddr2line(): boolean {
  try {
    execFileSync('eu-addr2line', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `eu-addr2line -a -f -i -e file addrs…`: for each address the function names of its inline
 * chain, innermost first ("??" where elfutils knows no function).
 */
export function euAddr2line(file: string, addrs: number[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < addrs.length; i += 500) {
    const batch = addrs.slice(i, i + 500);
    const text = execFileSync('eu-addr2line', ['-a', '-f', '-i', '-e', file, ...batch.map((a) => `0x${a.toString(16)}`)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const lines = text.split('\n');
    let cur: string[] | undefined;
    // The caller named on the first line, for groups where elfutils prints no caller lines.
    let caller: string | undefined;
    const close = () => {
      if (cur && cur.length === 1 && caller) cur.push(caller);
    };
    // Groups: an address line, then (name, location) pairs; the first name may end in
    // " inlined at FILE:LINE in CALLER".
    for (let k = 0; k < lines.length; k++) {
      const l = lines[k]!;
      if (/^0x[0-9a-f]+$/.test(l)) {
        close();
        cur = [];
        caller = undefined;
        out.push(cur);
        continue;
      }
      if (!cur || l === '') continue;
      const m = / inlined at .* in (\S+)$/.exec(l);
      if (m && cur.length === 0) caller = m[1];
      cur.push(m ? l.slice(0, m.index) : l);
      k++; // the location line
    }
    close();
  }
  if (out.length !== addrs.length) throw new Error(`eu-addr2line answered ${out.length} addresses of ${addrs.length}`);
  return out;
}

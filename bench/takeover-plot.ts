// The takeover timeline plot of bench/takeover.ts: an SVG written as text (no plotting library),
// failure at t = 0, one lane per system with its marks, each labelled on a row of its own so that
// marks a millisecond apart stay readable.

/** Mark is one instant of a takeover, in ms after the failure; `kind` picks its colour and shape. */
export interface Mark {
  readonly kind: 'transition' | 'notify' | 'state' | 'vips' | 'garp' | 'first' | 'wire';
  readonly label: string;
  readonly ms: number;
}

/** Lane is one system's takeover: its marks, and the spread of first successful packets (ms). */
export interface Lane {
  readonly title: string;
  readonly subtitle?: string;
  readonly marks: readonly Mark[];
  readonly first?: { readonly min: number; readonly median: number; readonly max: number };
}

const COLOUR: Readonly<Record<Mark['kind'], string>> = {
  transition: '#1f77b4',
  wire: '#17becf',
  notify: '#8c564b',
  state: '#2ca02c',
  vips: '#9467bd',
  garp: '#ff7f0e',
  first: '#d62728',
};

const WIDTH = 980;
const LEFT = 190; // lane titles
const RIGHT = 40;
const ROW = 15; // one label row
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

/** escapeXml makes text safe inside an SVG text node or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** niceStep is 1, 2 or 5 × 10^k, so that `span` gets about `ticks` ticks. */
export function niceStep(span: number, ticks = 8): number {
  const raw = Math.max(span, 1e-6) / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p);
}

const fmt = (ms: number): string => (Math.abs(ms) < 10 ? ms.toFixed(1) : ms.toFixed(0));

/** timelineSvg draws `lanes` on one time axis (ms after the failure) under `title`, with `notes` below. */
export function timelineSvg(title: string, lanes: readonly Lane[], notes: readonly string[]): string {
  const all = lanes.flatMap((l) => [...l.marks.map((m) => m.ms), ...(l.first !== undefined ? [l.first.max] : [])]).filter(Number.isFinite);
  const span = Math.max(1, ...all) * 1.08;
  const step = niceStep(span);
  const xmax = Math.ceil(span / step) * step;
  const x = (ms: number): number => LEFT + ((WIDTH - LEFT - RIGHT) * Math.max(0, ms)) / xmax;
  const out: string[] = [];
  let y = 58;
  out.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold" ${FONT}>${escapeXml(title)}</text>`);
  const top = y;
  for (const lane of lanes) {
    const axisY = y + 22;
    out.push(`<text x="10" y="${axisY + 4}" font-size="13" font-weight="bold" ${FONT}>${escapeXml(lane.title)}</text>`);
    if (lane.subtitle !== undefined) out.push(`<text x="10" y="${axisY + 20}" font-size="10" fill="#555" ${FONT}>${escapeXml(lane.subtitle)}</text>`);
    out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${WIDTH - RIGHT}" y2="${axisY}" stroke="#999"/>`);
    if (lane.first !== undefined) {
      const f = lane.first;
      out.push(`<rect x="${x(f.min)}" y="${axisY - 6}" width="${Math.max(1.5, x(f.max) - x(f.min))}" height="12" fill="${COLOUR.first}" fill-opacity="0.25"/>`);
    }
    const marks = [...lane.marks].filter((m) => Number.isFinite(m.ms)).sort((a, b) => a.ms - b.ms);
    marks.forEach((m, i) => {
      const mx = x(m.ms);
      const ty = axisY + 22 + i * ROW;
      const c = COLOUR[m.kind];
      out.push(`<line x1="${mx}" y1="${axisY}" x2="${mx}" y2="${ty - 4}" stroke="${c}" stroke-dasharray="2,2"/>`);
      out.push(
        m.kind === 'first'
          ? `<path d="M${mx - 6},${axisY} L${mx},${axisY - 7} L${mx + 6},${axisY} L${mx},${axisY + 7} Z" fill="${c}"/>`
          : `<circle cx="${mx}" cy="${axisY}" r="4.5" fill="${c}"/>`,
      );
      const anchor = mx > (LEFT + WIDTH) / 2 ? 'end' : 'start';
      const tx = anchor === 'end' ? mx - 3 : mx + 3;
      out.push(`<text x="${tx}" y="${ty}" font-size="11" text-anchor="${anchor}" fill="${c}" ${FONT}>${escapeXml(`${m.label} +${fmt(m.ms)} ms`)}</text>`);
    });
    y = axisY + 22 + Math.max(marks.length, 2) * ROW + 8;
  }
  // Time axis at the bottom, grid through every lane, the failure at 0.
  const axisY = y + 4;
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${WIDTH - RIGHT}" y2="${axisY}" stroke="#333"/>`);
  for (let t = 0; t <= xmax + 1e-9; t += step) {
    out.push(`<line x1="${x(t)}" y1="${top}" x2="${x(t)}" y2="${axisY + 4}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t)}" y="${axisY + 17}" font-size="10" text-anchor="middle" ${FONT}>${fmt(t)}</text>`);
  }
  out.push(`<text x="${(LEFT + WIDTH - RIGHT) / 2}" y="${axisY + 33}" font-size="11" text-anchor="middle" ${FONT}>ms after the failure (every link of the master down at t = 0)</text>`);
  out.push(`<line x1="${x(0)}" y1="${top - 8}" x2="${x(0)}" y2="${axisY}" stroke="#000" stroke-width="2"/>`);
  out.push(`<text x="${x(0) + 4}" y="${top - 10}" font-size="11" font-weight="bold" ${FONT}>failure</text>`);
  let ny = axisY + 54;
  for (const n of notes) {
    out.push(`<text x="10" y="${ny}" font-size="10.5" fill="#333" ${FONT}>${escapeXml(n)}</text>`);
    ny += 14;
  }
  const height = ny + 6;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
<rect width="100%" height="100%" fill="#fff"/>
${out.join('\n')}
</svg>
`;
}

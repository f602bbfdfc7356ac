/**
 * Draws docs/warmup-cosine.svg: the learning rate of WarmupCosineScheduler (and, for comparison,
 * LinearScheduler) over a run, straight from the library's lrAt(). Plain SVG text, no plotting dependency.
 *
 *   node --import tsx scripts/plot-schedules.ts
 */
import path from 'node:path';
import { LinearScheduler, WarmupCosineScheduler } from '../src/optim/schedulers.js';
import { writeFileAtomic } from '../src/util/atomic.js';

const total = 1000;
const warmup = 100;
const maxLr = 2e-5;
const minLr = 2e-6;
const curves = [
  {
    label: 'WarmupCosineScheduler (minLr 2e-6)',
    color: '#1f77b4',
    s: new WarmupCosineScheduler({ maxLr, minLr, warmupSteps: warmup, totalSteps: total }),
  },
  {
    label: 'LinearScheduler (minLr 0)',
    color: '#ff7f0e',
    s: new LinearScheduler({ maxLr, warmupSteps: warmup, totalSteps: total }),
  },
];

const W = 640;
const H = 320;
const pad = { left: 64, right: 16, top: 16, bottom: 48 };
const x = (step: number) => pad.left + (step / total) * (W - pad.left - pad.right);
const y = (lr: number) => H - pad.bottom - (lr / maxLr) * (H - pad.top - pad.bottom);

const parts: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<line x1="${pad.left}" y1="${y(0)}" x2="${x(total)}" y2="${y(0)}" stroke="black"/>`,
  `<line x1="${pad.left}" y1="${y(0)}" x2="${pad.left}" y2="${y(maxLr)}" stroke="black"/>`,
];
for (const step of [0, 100, 250, 500, 750, 1000]) {
  parts.push(`<line x1="${x(step)}" y1="${y(0)}" x2="${x(step)}" y2="${y(0) + 4}" stroke="black"/>`);
  parts.push(`<text x="${x(step)}" y="${y(0) + 16}" text-anchor="middle">${step}</text>`);
}
for (const lr of [0, 0.5e-5, 1e-5, 1.5e-5, 2e-5]) {
  parts.push(`<line x1="${pad.left - 4}" y1="${y(lr)}" x2="${pad.left}" y2="${y(lr)}" stroke="black"/>`);
  parts.push(
    `<text x="${pad.left - 6}" y="${y(lr) + 4}" text-anchor="end">${lr === 0 ? '0' : lr.toExponential(1)}</text>`,
  );
}
parts.push(
  `<text x="${(pad.left + W - pad.right) / 2}" y="${H - 12}" text-anchor="middle">step (update index, 0-based)</text>`,
);
parts.push(
  `<line x1="${x(warmup)}" y1="${y(0)}" x2="${x(warmup)}" y2="${y(maxLr)}" stroke="#999" stroke-dasharray="3,3"/>`,
);
curves.forEach(({ label, color, s }, i) => {
  const points: string[] = [];
  for (let step = 0; step <= total; step += 5)
    points.push(`${x(step).toFixed(1)},${y(s.lrAt(step)).toFixed(1)}`);
  parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
  parts.push(
    `<line x1="${W - 220}" y1="${pad.top + 10 + i * 16}" x2="${W - 200}" y2="${pad.top + 10 + i * 16}" stroke="${color}" stroke-width="2"/>`,
  );
  parts.push(`<text x="${W - 195}" y="${pad.top + 14 + i * 16}">${label}</text>`);
});
parts.push('</svg>');

const out = path.resolve(import.meta.dirname, '../docs/warmup-cosine.svg');
await writeFileAtomic(out, parts.join('\n') + '\n');
console.log(`wrote ${out}`);

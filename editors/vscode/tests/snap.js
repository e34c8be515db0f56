#!/usr/bin/env node
// Snapshot tests: every example and standard-library module, tokenized by
// vscode-tmgrammar-snap and compared with the snapshot stored in tests/snap/.
//
//   node tests/snap.js           compare (fails on a difference, a missing or a stale snapshot)
//   node tests/snap.js --update  rewrite the snapshots (then review and commit them)
//
// The snap tool keeps `NAME.snap` beside each input, so the inputs and their stored
// snapshots are staged in a temporary folder with the layout of the repository.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const repo = path.join(root, '..', '..');
const snapDir = path.join(__dirname, 'snap');
const update = process.argv.includes('--update');

// The inputs, relative to the repository: every example and stdlib module, and the
// test file that holds every construct of the language.
const inputs = [
  ...['examples', 'stdlib/std'].flatMap((dir) =>
    fs.readdirSync(path.join(repo, dir))
      .filter((f) => f.endsWith('.flow'))
      .map((f) => `${dir}/${f}`)),
  'tests/ui/pass/every_construct.flow',
].sort();

function storedSnapshots(dir, rel = '') {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return storedSnapshots(path.join(dir, e.name), r);
    return e.name.endsWith('.flow.snap') ? [r.slice(0, -'.snap'.length)] : [];
  });
}

const stale = storedSnapshots(snapDir).filter((rel) => !inputs.includes(rel));
const missing = inputs.filter((rel) => !fs.existsSync(path.join(snapDir, `${rel}.snap`)));
if (!update && (stale.length || missing.length)) {
  missing.forEach((rel) => console.error(`ERROR no snapshot for ${rel} (tests/snap/${rel}.snap)`));
  stale.forEach((rel) => console.error(`ERROR tests/snap/${rel}.snap has no input ${rel}`));
  console.error('Run `npm run snap:update` in editors/vscode, review the snapshots and commit them.');
  process.exit(1);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-snap-'));
let status = 1;
try {
  for (const rel of inputs) {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.copyFileSync(path.join(repo, rel), path.join(tmp, rel));
    if (!update) fs.copyFileSync(path.join(snapDir, `${rel}.snap`), path.join(tmp, `${rel}.snap`));
  }
  const tool = path.join(path.dirname(require.resolve('vscode-tmgrammar-test/package.json')), 'dist', 'snapshot.js');
  const args = [tool, '--config', path.join(root, 'package.json')];
  if (update) args.push('--updateSnapshot');
  args.push(...inputs.map((rel) => path.join(tmp, rel)));
  const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
  // Speak of the files by their place in the repository, not in the staging folder.
  const clean = (s) => (s || '').split(tmp + path.sep).join('');
  process.stdout.write(clean(run.stdout));
  process.stderr.write(clean(run.stderr));
  status = run.status === 0 ? 0 : 1;
  if (update && status === 0) {
    for (const rel of stale) fs.rmSync(path.join(snapDir, `${rel}.snap`));
    for (const rel of inputs) {
      fs.mkdirSync(path.dirname(path.join(snapDir, rel)), { recursive: true });
      fs.copyFileSync(path.join(tmp, `${rel}.snap`), path.join(snapDir, `${rel}.snap`));
    }
    console.log(`updated ${inputs.length} snapshots in tests/snap/`);
  } else if (status === 0) {
    // The inputs are valid programs: a token scoped as invalid is the grammar's mistake.
    for (const rel of inputs) {
      const snap = fs.readFileSync(path.join(snapDir, `${rel}.snap`), 'utf8').split('\n');
      snap.forEach((line, i) => {
        if (/^#.*\binvalid\./.test(line)) {
          console.error(`ERROR tests/snap/${rel}.snap:${i + 1}: a token of a valid program is scoped as invalid: ${line}`);
          status = 1;
        }
      });
    }
    if (status === 0) console.log(`snapshots: ${inputs.length} files match tests/snap/`);
  } else if (!update) {
    console.error('Snapshots differ. If the change is intended: `npm run snap:update` in editors/vscode, review, commit.');
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(status);

#!/usr/bin/env node
// Run a WASI preview1 command (e.g. chiwawa.wasm) under Node's built-in WASI, with the calling
// convention of `wasmtime run`:
//
//   node scripts/chiwawa-node.mjs [--dir HOST[::GUEST]]... [--env NAME[=VALUE]]... MODULE.wasm [ARGS]...
//
// The guest's exit code is this process's exit code; a trap prints `error: wasm trap: …` and
// exits 134, like wasmtime.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import v8 from 'node:v8';

// Node 20's V8 segfaults at process exit about half the time after a long wasm run while its
// concurrent GC threads are busy (seen as exit 139 after correct output); one GC thread avoids it.
// Pass `node --single-threaded-gc` (what tests/hosted.rs does): set here, after start-up, the
// flag can make V8 abort in a GC triggered by uvwasi's allocations (`Check failed:
// concurrent_marking_handle_`); it is only the fallback for a plain `node chiwawa-node.mjs`.
if (!process.execArgv.includes('--single-threaded-gc')) v8.setFlagsFromString('--single-threaded-gc');

// Node prints an ExperimentalWarning for node:wasi on stderr; the guest owns stderr.
process.removeAllListeners('warning');
process.on('warning', (w) => { if (w.name !== 'ExperimentalWarning') console.error(w); });
const { WASI } = await import('node:wasi');

const argv = process.argv.slice(2);
const preopens = {};
const env = {};
let i = 0;
for (; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    if (a.includes('=') && a.startsWith('--')) return a.slice(a.indexOf('=') + 1);
    if (i + 1 >= argv.length) { console.error(`error: ${a} needs a value`); process.exit(2); }
    return argv[++i];
  };
  if (a === '--dir' || a.startsWith('--dir=')) {
    const spec = value();
    const [host, guest] = spec.includes('::') ? spec.split('::', 2) : [spec, spec];
    preopens[guest] = host;
  } else if (a === '--env' || a.startsWith('--env=')) {
    const spec = value();
    const eq = spec.indexOf('=');
    if (eq < 0) { if (process.env[spec] !== undefined) env[spec] = process.env[spec]; }
    else env[spec.slice(0, eq)] = spec.slice(eq + 1);
  } else if (a === '--') { i++; break; }
  else if (a.startsWith('--')) { console.error(`error: unknown option ${a}`); process.exit(2); }
  else break;
}
if (i >= argv.length) {
  console.error('usage: node chiwawa-node.mjs [--dir HOST[::GUEST]]... [--env NAME[=VALUE]]... MODULE.wasm [ARGS]...');
  process.exit(2);
}
const modulePath = argv[i];
const args = [basename(modulePath), ...argv.slice(i + 1)];
// returnOnExit: false — proc_exit ends the process with the guest's code right away. (With
// `true`, Node 20.20 was seen to crash in V8's GC at exit after long runs.)
const wasi = new WASI({ version: 'preview1', args, env, preopens, returnOnExit: false });
let code;
try {
  const module = await WebAssembly.compile(await readFile(modulePath));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  wasi.start(instance);
  code = 0; // _start returned without proc_exit
} catch (e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error(`error: wasm trap: ${e.message}`);
    code = 134;
  } else {
    console.error(`error: ${e && e.message ? e.message : e}`);
    code = 1;
  }
}
process.exitCode = code ?? 0;

// SPDX-License-Identifier: LGPL-2.1-or-later
// The contract between data/openapi.yaml and a running gpuvmd, both ways:
//  1. the daemon's route table (its "route ..." debug lines) against the
//     spec's operations: nothing served undocumented, nothing documented
//     unserved, and public routes exactly the ones without admin security;
//  2. a scripted session touching every operation and every error code the
//     routes can return on this host, sent through Prism proxies: "strict"
//     (--errors: a response that violates the spec becomes a 500 with
//     sl-violations) for requests the spec allows, "lenient" (no --errors:
//     the request is forwarded, violations reported in sl-violations) for
//     requests the spec forbids, which must carry a request violation and
//     no response violation. SSE is read directly (Prism holds
//     text/event-stream until the stream ends).
// Run by tests/openapi/run, which starts the daemon and the proxies and
// passes everything in the environment. Exits non-zero on any failure.
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

const env = (name) => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const spec = JSON.parse(readFileSync(env('OA_SPEC_JSON'), 'utf8'));
const daemonLogs = env('OA_DAEMON_LOGS').split(':');
const token = env('OA_TOKEN');
const stateDir = env('OA_STATE_DIR');
const imageFile = env('OA_IMAGE_FILE');
const agentMaxConnections = Number(env('OA_AGENT_MAX_CONNECTIONS'));
const bases = {
  admin: { direct: env('OA_ADMIN_URL'), strict: env('OA_PRISM_ADMIN_STRICT'),
           lenient: env('OA_PRISM_ADMIN_LENIENT') },
  agent: { direct: env('OA_AGENT_URL'), strict: env('OA_PRISM_AGENT_STRICT'),
           lenient: env('OA_PRISM_AGENT_LENIENT') },
};

const failures = [];
const fail = (msg) => { failures.push(msg); console.log(`FAIL ${msg}`); };
const METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options'];

// ---- the spec's operations --------------------------------------------------

const operations = []; // { listener, method, path, op, re }
for (const [path, item] of Object.entries(spec.paths)) {
  for (const m of METHODS) {
    const op = item[m];
    if (op === undefined) continue;
    const listener = (op.tags ?? []).includes('agent') ? 'agent' : 'admin';
    const re = new RegExp('^' + path.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    operations.push({ listener, method: m.toUpperCase(), path, op, re });
  }
}
const opKey = (o) => `${o.listener} ${o.method} ${o.path}`;
// Concrete paths before templates (/v1/devices/available before /{id}).
const findOp = (listener, method, path) =>
  operations
    .filter((o) => o.listener === listener && o.method === method && o.re.test(path))
    .sort((a, b) => (a.path.includes('{') ? 1 : 0) - (b.path.includes('{') ? 1 : 0))[0];

// ---- 1. the route table against the spec ------------------------------------

function checkRouteTable() {
  const served = new Map();
  for (const line of daemonLogs.map((f) => readFileSync(f, 'utf8')).join('\n').split('\n')) {
    const m = line.match(/: route (\S+) (\S+) (\S+)( public)?$/);
    if (m) served.set(`${m[1]} ${m[2]} ${m[3]}`, m[4] !== undefined);
  }
  if (served.size === 0) fail('route table: the daemon logged no routes');
  for (const [key, isPublic] of served) {
    if (key.split(' ')[1] === '*') {
      fail(`route table: ${key} has no method/path table (gvd_api_add_routes)`);
      continue;
    }
    const o = operations.find((x) => opKey(x) === key);
    if (o === undefined) {
      fail(`route table: the daemon serves ${key}, the spec does not document it`);
      continue;
    }
    const security = o.op.security ?? spec.security;
    const needsAdmin = security.some((s) => 'adminToken' in s);
    if (o.listener === 'admin' && isPublic === needsAdmin)
      fail(`route table: ${key} is ${isPublic ? 'public' : 'token-only'} but the spec says otherwise`);
    if (o.listener === 'agent' && (!isPublic || needsAdmin))
      fail(`route table: agent route ${key} must be public to the admin check and use agentToken`);
  }
  for (const o of operations)
    if (!served.has(opKey(o))) fail(`route table: the spec documents ${opKey(o)}, the daemon does not serve it`);
  console.log(`routes: ${served.size} served, ${operations.length} documented`);
  return served.size;
}

// ---- 2. the session -----------------------------------------------------------

let nRequests = 0;
const covered = new Map(); // opKey -> Set of statuses
const codesSeen = new Set();
const violationsSeen = [];

function send(base, method, path, { headers = {}, body, raw, chunked } = {}) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    let data = null;
    if (raw !== undefined) data = Buffer.from(raw);
    else if (body !== undefined) data = Buffer.from(JSON.stringify(body));
    if (data !== null && !chunked) h['Content-Length'] = data.length;
    if (chunked) h['Transfer-Encoding'] = 'chunked';
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(120000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (data !== null) req.write(data);
    req.end();
  });
}

/* One request of the session. via:
 *   strict   the spec allows the request: through Prism --errors;
 *   invalid  the request breaks the spec on purpose: through the Prism
 *            without --errors, which must report a request violation;
 *   lenient  as invalid, for rules OpenAPI cannot state (Content-Type of a
 *            bodiless POST): no request violation needed;
 *   direct   what Prism cannot carry: chunked bodies, unparseable JSON (its
 *            own server answers those), HEAD (it parses the empty body of a
 *            JSON HEAD answer and fails), paths outside the spec.
 * expect: the status; code: the error code. Every proxied answer must
 * have no response violation. */
async function call(listener, via, method, path, opts = {}) {
  const { expect, code, auth = true } = opts;
  const headers = { ...(opts.headers ?? {}) };
  if (auth && listener === 'admin') headers.Authorization = `Bearer ${token}`;
  if ((opts.body !== undefined || opts.raw !== undefined || method === 'POST')
      && headers['Content-Type'] === undefined)
    headers['Content-Type'] = 'application/json';
  const label = `${via} ${listener} ${method} ${path}`;
  const res = await send(bases[listener][via === 'invalid' ? 'lenient' : via], method, path, { ...opts, headers });
  nRequests++;
  const o = findOp(listener, method, path);
  if (o !== undefined && (via === 'strict' || via === 'direct')) {
    // Only requests the spec allows count as answering "as documented".
    if (!covered.has(opKey(o))) covered.set(opKey(o), new Set());
    covered.get(opKey(o)).add(res.status);
  }
  let json;
  if ((res.headers['content-type'] ?? '').startsWith('application/json') && res.text !== '') {
    try { json = JSON.parse(res.text); } catch { fail(`${label}: answer is not JSON`); }
  }
  if (json?.error?.code !== undefined) codesSeen.add(json.error.code);
  const violations = res.headers['sl-violations'] ? JSON.parse(res.headers['sl-violations']) : [];
  const where = (v) => (v.location ?? ['request'])[0];
  const responseViolations = violations.filter((v) => where(v) !== 'request');
  const requestViolations = violations.filter((v) => where(v) === 'request');
  for (const v of responseViolations) {
    violationsSeen.push({ label, v });
    fail(`${label}: response violates the spec: ${(v.location ?? []).join('.')}: ${v.message}`);
  }
  if (via === 'strict' && requestViolations.length > 0)
    fail(`${label}: the session sent a request the spec forbids: ${JSON.stringify(requestViolations)}`);
  if (via === 'invalid' && requestViolations.length === 0)
    fail(`${label}: the daemon refuses this request but the spec allows it (no request violation)`);
  if (expect !== undefined && res.status !== expect)
    fail(`${label}: answered ${res.status}, expected ${expect}: ${res.text.slice(0, 300)}`);
  if (code !== undefined && json?.error?.code !== code)
    fail(`${label}: error code ${json?.error?.code}, expected ${code}`);
  if (o !== undefined && !(String(res.status) in o.op.responses) && !('default' in o.op.responses))
    fail(`${label}: status ${res.status} is not documented for ${opKey(o)}`);
  if (via === 'strict' && res.status === 500 && violations.length > 0)
    fail(`${label}: Prism turned the answer into a 500`);
  if (res.status >= 400 && method !== 'HEAD' && json?.error?.code === undefined)
    fail(`${label}: error ${res.status} without an {"error": {"code", "message"}} body`);
  return { ...res, json };
}
const admin = (via, method, path, opts) => call('admin', via, method, path, opts);
const agent = (via, method, path, opts) => call('agent', via, method, path, opts);

/* Holds @n idle connections to @url open; returns a closer. */
async function holdConnections(url, n) {
  const u = new URL(url);
  const socks = [];
  for (let i = 0; i < n; i++)
    socks.push(await new Promise((resolve, reject) => {
      const s = net.connect(Number(u.port), u.hostname, () => resolve(s));
      s.on('error', reject);
    }));
  await new Promise((r) => setTimeout(r, 200));
  return () => socks.forEach((s) => s.destroy());
}

const readEvents = (headers, until, ms) => readStream('/v1/events', headers, until, ms);

/* Opens a stream directly and reads until @until(text) holds. */
function readStream(path, headers, until, ms = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, bases.admin.direct),
      { headers: { Authorization: `Bearer ${token}`, ...headers }, agent: false }, (res) => {
        let text = '';
        const timer = setTimeout(() => { req.destroy(); resolve({ res, text, timedOut: true }); }, ms);
        res.on('data', (c) => {
          text += c.toString('utf8');
          if (until(text)) { clearTimeout(timer); req.destroy(); resolve({ res, text }); }
        });
      });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    req.end();
  });
}

/* Stream 64 event clients (the bound); returns a closer. */
function openStreams(n) {
  const reqs = [];
  const ready = [];
  for (let i = 0; i < n; i++)
    ready.push(new Promise((resolve, reject) => {
      const req = http.request(new URL('/v1/events', bases.admin.direct),
        { headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
          res.once('data', () => resolve());
        });
      req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
      req.end();
      reqs.push(req);
    }));
  return Promise.all(ready).then(() => () => reqs.forEach((r) => r.destroy()));
}

const EVENT_TYPES = ['instance.created', 'instance.deleted', 'instance.state', 'instance.progress',
                     'instance.resized',
                     'instance.gpu_attached', 'instance.gpu_detached',
                     'device.quarantined',
                     'device.cleared', 'agent.health', 'libvirt.connected', 'libvirt.disconnected',
                     'volume.swept', 'image.progress', 'image.imported', 'image.failed',
                     'image.swept', 'snapshot.created', 'snapshot.reverted', 'snapshot.deleted',
                     'snapshot.failed', 'instance.device_attached', 'instance.device_detached'];

async function session() {
  const image = 'oa-base.raw';
  const inst = 'oa-a';

  // health, metrics, host
  await admin('strict', 'GET', '/healthz', { expect: 200, auth: false });
  await admin('direct', 'HEAD', '/healthz', { expect: 200, auth: false });
  await admin('strict', 'GET', '/healthz', { expect: 403, code: 'forbidden', auth: false,
                                             headers: { Origin: 'http://evil.example' } });
  const m = await admin('strict', 'GET', '/metrics', { expect: 200 });
  if (!m.text.includes('gpuvmd_up 1')) fail('GET /metrics: no gpuvmd_up sample');
  await admin('invalid', 'GET', '/metrics', { expect: 401, code: 'unauthorized', auth: false });
  await admin('strict', 'GET', '/v1/host', { expect: 401, code: 'unauthorized',
                                              auth: false, headers: { Authorization: 'Bearer nope' } });
  await admin('strict', 'GET', '/v1/host', { expect: 200 });
  await admin('direct', 'HEAD', '/v1/host', { expect: 200 });

  // devices
  await admin('strict', 'GET', '/v1/devices/available', { expect: 200 });
  await admin('direct', 'HEAD', '/v1/devices/available', { expect: 200 });
  await admin('strict', 'POST', '/v1/devices', { expect: 201, body: { name: 'gpu0', pci_address: '0000:03:00.0' } });
  await admin('strict', 'POST', '/v1/devices', { expect: 409, code: 'already_exists',
                                                 body: { name: 'gpu0b', pci_address: '0000:03:00.0' } });
  await admin('strict', 'POST', '/v1/devices', { expect: 422, code: 'host_critical',
                                                 body: { name: 'vga', pci_address: '0000:0c:00.0' } });
  await admin('strict', 'POST', '/v1/devices', { expect: 422, code: 'not_passthrough_capable',
                                                 body: { name: 'root', pci_address: '0000:00:00.0' } });
  await admin('strict', 'POST', '/v1/devices', { expect: 404, code: 'device_not_found',
                                                 body: { name: 'ghost', pci_address: '0000:99:00.0' } });
  await admin('strict', 'POST', '/v1/devices', { expect: 400, code: 'invalid_argument',
                                                 body: { name: 'available', pci_address: '0000:04:00.0' } });
  await admin('invalid', 'POST', '/v1/devices', { expect: 400, code: 'invalid_argument',
                                                  body: { name: 'gpu1', pci_address: '0000:04:00.0', x: 1 } });
  await admin('invalid', 'POST', '/v1/devices', { expect: 400, code: 'invalid_argument',
                                                  body: { name: '-bad', pci_address: '0000:04:00.0' } });
  await admin('invalid', 'POST', '/v1/devices', { expect: 415, code: 'unsupported_media_type',
                                                  headers: { 'Content-Type': 'text/plain' }, raw: '{}' });
  await admin('direct', 'POST', '/v1/devices', { expect: 400, code: 'invalid_json', raw: '{"name":' });
  await admin('invalid', 'POST', '/v1/devices', { expect: 413, code: 'payload_too_large',
                                                  body: { name: 'x'.repeat(70000), pci_address: '0000:04:00.0' } });
  await admin('direct', 'POST', '/v1/devices', { expect: 411, code: 'length_required',
                                                 chunked: true, raw: '{}' });
  await admin('strict', 'GET', '/v1/devices', { expect: 200 });
  await admin('direct', 'HEAD', '/v1/devices', { expect: 200 });
  await admin('strict', 'GET', '/v1/devices/gpu0', { expect: 200 });
  await admin('direct', 'HEAD', '/v1/devices/gpu0', { expect: 200 });
  await admin('strict', 'GET', '/v1/devices/0000:03:00.0', { expect: 200 });
  await admin('strict', 'GET', '/v1/devices/ghost', { expect: 404, code: 'device_not_found' });
  await admin('direct', 'HEAD', '/v1/devices/ghost', { expect: 404 });
  await admin('strict', 'POST', '/v1/devices/gpu0/clear', { expect: 409, code: 'invalid_state' });
  await admin('strict', 'POST', '/v1/devices/ghost/clear', { expect: 404, code: 'device_not_found' });
  await admin('invalid', 'POST', '/v1/devices/gpu0/clear', { expect: 400, code: 'invalid_argument', body: { force: true } });
  await admin('lenient', 'POST', '/v1/devices/gpu0/clear', { expect: 415, code: 'unsupported_media_type',
                                                             headers: { 'Content-Type': 'text/plain' } });
  await admin('strict', 'DELETE', '/v1/devices/ghost', { expect: 404, code: 'device_not_found' });

  // plans
  await admin('strict', 'POST', '/v1/plans', { expect: 200, body: { gpus: 2, model: 'A100' } });
  await admin('strict', 'POST', '/v1/plans', { expect: 200, body: { devices: ['gpu0'], include_companions: true } });
  await admin('strict', 'POST', '/v1/plans', { expect: 409, code: 'insufficient_gpus', body: { gpus: 64 } });
  await admin('strict', 'POST', '/v1/plans', { expect: 404, code: 'device_not_found', body: { devices: ['0000:99:00.0'] } });
  await admin('strict', 'POST', '/v1/plans', { expect: 422, code: 'not_passthrough_capable', body: { devices: ['0000:00:00.0'] } });
  await admin('strict', 'POST', '/v1/plans', { expect: 422, code: 'host_critical', body: { devices: ['0000:0c:00.0'] } });
  await admin('strict', 'POST', '/v1/plans', { expect: 422, code: 'plan_refused',
                                               body: { devices: ['0000:0c:00.0', '0000:00:00.0'] } });
  await admin('invalid', 'POST', '/v1/plans', { expect: 400, code: 'invalid_argument', body: { gpus: 0 } });
  await admin('invalid', 'POST', '/v1/plans', { expect: 400, code: 'invalid_argument', body: { gpus: 1, devices: ['gpu0'] } });
  await admin('invalid', 'POST', '/v1/plans', { expect: 400, code: 'invalid_argument', body: { devices: ['gpu0'], model: 'A100' } });
  await admin('invalid', 'POST', '/v1/plans', { expect: 400, code: 'invalid_json', raw: '[1]' });

  // reservations
  const r = await admin('strict', 'POST', '/v1/reservations', { expect: 201, body: { devices: ['gpu0'], ttl_seconds: 600 } });
  const rid = r.json?.id;
  if (r.headers.location !== `/v1/reservations/${rid}`) fail('POST /v1/reservations: Location does not name the reservation');
  await admin('strict', 'GET', '/v1/reservations', { expect: 200 });
  await admin('direct', 'HEAD', '/v1/reservations', { expect: 200 });
  await admin('strict', 'GET', `/v1/reservations/${rid}`, { expect: 200 });
  await admin('direct', 'HEAD', `/v1/reservations/${rid}`, { expect: 200 });
  await admin('strict', 'GET', '/v1/reservations/nope', { expect: 404, code: 'not_found' });
  await admin('direct', 'HEAD', '/v1/reservations/nope', { expect: 404 });
  await admin('strict', 'POST', '/v1/plans', { expect: 409, code: 'device_in_use', body: { devices: ['gpu0'] } });
  await admin('strict', 'POST', '/v1/reservations', { expect: 409, code: 'device_in_use', body: { devices: ['0000:03:00.0'] } });
  await admin('strict', 'DELETE', '/v1/devices/gpu0', { expect: 409, code: 'device_in_use' });
  await admin('strict', 'POST', '/v1/reservations', { expect: 404, code: 'device_not_found', body: { devices: ['ghost'] } });
  await admin('strict', 'POST', '/v1/reservations', { expect: 409, code: 'insufficient_gpus', body: { gpus: 64 } });
  await admin('strict', 'POST', '/v1/reservations', { expect: 422, code: 'host_critical', body: { devices: ['0000:0c:00.0'] } });
  await admin('invalid', 'POST', '/v1/reservations', { expect: 400, code: 'invalid_argument', body: { gpus: 1, ttl_seconds: 0 } });
  await admin('invalid', 'POST', '/v1/reservations', { expect: 400, code: 'invalid_argument', body: {} });
  await admin('strict', 'DELETE', `/v1/reservations/${rid}`, { expect: 204 });
  await admin('strict', 'DELETE', '/v1/reservations/nope', { expect: 404, code: 'not_found' });

  // images
  await admin('strict', 'POST', '/v1/images', { expect: 201, body: { name: image, source_path: imageFile } });
  await admin('strict', 'POST', '/v1/images', { expect: 409, code: 'already_exists', body: { name: image, source_path: imageFile } });
  await admin('strict', 'POST', '/v1/images', { expect: 403, code: 'forbidden', body: { name: 'shadow', source_path: '/etc/shadow' } });
  await admin('strict', 'POST', '/v1/images', { expect: 400, code: 'invalid_argument', body: { name: 'rel', source_path: 'base.raw' } });
  await admin('invalid', 'POST', '/v1/images', { expect: 400, code: 'invalid_argument',
                                                 body: { name: 'x', source_path: imageFile, format: 'vmdk' } });
  await admin('invalid', 'POST', '/v1/images', { expect: 400, code: 'invalid_argument', body: { name: 'x' } });
  // a URL needs a digest and must be below [images] url_allow (http://127.0.0.1:1/oa/ here,
  // where nothing listens: allowed, and the download fails)
  await admin('invalid', 'POST', '/v1/images', { expect: 400, code: 'invalid_argument',
                                                 body: { name: 'u', url: 'https://example.com/x.img' } });
  await admin('strict', 'POST', '/v1/images', { expect: 403, code: 'forbidden',
                                                body: { name: 'u', url: 'https://example.com/x.img', sha256: '0'.repeat(64) } });
  await admin('strict', 'POST', '/v1/images', { expect: 502, code: 'download_failed',
                                                body: { name: 'u', url: 'http://127.0.0.1:1/oa/x.img', sha512: 'f'.repeat(128) } });
  await admin('strict', 'GET', '/v1/images', { expect: 200 });
  await admin('strict', 'GET', `/v1/images/${image}`, { expect: 200 });
  await admin('strict', 'GET', '/v1/images/nope', { expect: 404, code: 'image_not_found' });
  await admin('strict', 'DELETE', '/v1/images/nope', { expect: 404, code: 'image_not_found' });

  // instances
  const create = { name: inst, image, memory_mib: 256, start: false, autostart: false,
                   console: { vnc: true }, labels: { team: 'x' },
                   disks: [{ name: 'data', size_gib: 1, bus: 'scsi', serial: 'OA-1' }] };
  await admin('strict', 'POST', '/v1/instances', { expect: 200, body: { ...create, dry_run: true, gpus: 1 } });
  await admin('strict', 'POST', '/v1/instances', { expect: 201, body: create, headers: { 'Idempotency-Key': 'oa-1' } });
  const replay = await admin('strict', 'POST', '/v1/instances', { expect: 201, body: create, headers: { 'Idempotency-Key': 'oa-1' } });
  if (replay.headers['idempotent-replayed'] !== 'true') fail('idempotent replay without Idempotent-Replayed: true');
  await admin('strict', 'POST', '/v1/instances', { expect: 409, code: 'conflict',
                                                   body: { ...create, vcpus: 2 }, headers: { 'Idempotency-Key': 'oa-1' } });
  await admin('strict', 'POST', '/v1/instances', { expect: 409, code: 'already_exists', body: create });
  await admin('strict', 'POST', '/v1/instances', { expect: 404, code: 'image_not_found', body: { name: 'oa-b', image: 'nope' } });
  await admin('strict', 'POST', '/v1/instances', { expect: 409, code: 'insufficient_gpus',
                                                   body: { name: 'oa-b', image, gpus: 64, dry_run: true } });
  // Dedicated CPUs: the fixture has 2 nodes of 16 CPUs, CPU 0 reserved.
  await admin('strict', 'POST', '/v1/instances', { expect: 200,
    body: { name: 'oa-b', image, vcpus: 4, cpu: { policy: 'dedicated', threads_per_core: 2, sockets: 1 }, dry_run: true } });
  await admin('strict', 'POST', '/v1/instances', { expect: 409, code: 'insufficient_cpus',
    body: { name: 'oa-b', image, vcpus: 64, cpu: { policy: 'dedicated' }, dry_run: true } });
  await admin('strict', 'POST', '/v1/instances', { expect: 404, code: 'not_found',
                                                   body: { name: 'oa-b', image, reservation: 'nope', dry_run: true } });
  await admin('strict', 'POST', '/v1/instances', { expect: 403, code: 'forbidden',
                                                   body: { name: 'oa-b', image, boot: { kernel: '/etc/shadow' }, dry_run: true } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument', body: { name: 'Bad_Name', image } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument', body: { name: 'oa-b', image, vcpus: 0 } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument', body: { name: 'oa-b', image, colour: 'red' } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument',
                                                    body: { name: 'oa-b', image, console: { sound: true } } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument', body: { name: 'oa-b', image },
                                                    headers: { 'Idempotency-Key': 'k'.repeat(129) } });
  // A bridge the operator does not offer ([network] allowed_sources): 403.
  await admin('strict', 'POST', '/v1/instances', { expect: 403, code: 'forbidden',
                                                   body: { name: 'oa-c', image, memory_mib: 256,
                                                           networks: [{ mode: 'user' },
                                                                      { mode: 'bridge', source: 'gvdoa-not-offered' }] } });
  // libvirt refuses a network that does not exist: its error, kept, as 502.
  await admin('strict', 'POST', '/v1/instances', { expect: 502, code: 'libvirt_error',
                                                   body: { name: 'oa-c', image, memory_mib: 256,
                                                           network: { mode: 'network', source: 'gvdoa-no-such-net' } } });
  await admin('strict', 'GET', '/v1/instances', { expect: 200 });
  await admin('strict', 'GET', `/v1/instances/${inst}`, { expect: 200 });
  await admin('strict', 'GET', '/v1/instances/oa-zz', { expect: 404, code: 'not_found' });
  await admin('strict', 'GET', '/v1/instances/NOT_A_NAME', { expect: 404, code: 'not_found' });
  // GPU hot-plug routes (the GPUs themselves: test-vm-gpu-hotplug and the VFIO rig)
  await admin('strict', 'POST', '/v1/instances/oa-zz/gpus', { expect: 404, code: 'not_found', body: { devices: ['0000:03:00.0'] } });
  await admin('strict', 'DELETE', '/v1/instances/oa-zz/gpus/0000:03:00.0', { expect: 404, code: 'not_found' });
  // hot-plug, cold (the instance is stopped): a disk and a NIC in and out
  const hp = await admin('strict', 'POST', `/v1/instances/${inst}/disks`, { expect: 201, body: { name: 'oa_hp', size_gib: 1 } });
  const hpDisk = hp.json?.disks?.find((d) => d.name === 'oa_hp');
  if (!hpDisk) fail('POST disks: the new disk is not in the instance');
  await admin('invalid', 'POST', `/v1/instances/${inst}/disks`, { expect: 400, code: 'invalid_argument', body: { name: 'x', size_gib: 1, bus: 'ide' } });
  await admin('strict', 'POST', `/v1/instances/${inst}/disks`, { expect: 409, code: 'already_exists', body: { name: 'oa_hp', size_gib: 1 } });
  await admin('strict', 'POST', '/v1/instances/oa-zz/disks', { expect: 404, code: 'not_found', body: { name: 'x', size_gib: 1 } });
  await admin('strict', 'DELETE', `/v1/instances/${inst}/disks/${hpDisk?.target}`, { expect: 200 });
  await admin('strict', 'DELETE', `/v1/instances/${inst}/disks/vdq`, { expect: 404, code: 'not_found' });
  await admin('invalid', 'DELETE', `/v1/instances/${inst}/disks/vdq?keep=maybe`, { expect: 400, code: 'invalid_argument' });
  const hn = await admin('strict', 'POST', `/v1/instances/${inst}/networks`, { expect: 201, body: { mode: 'user' } });
  const hnMac = hn.json?.networks?.at(-1)?.mac;
  await admin('invalid', 'POST', `/v1/instances/${inst}/networks`, { expect: 400, code: 'invalid_argument', body: { mode: 'tunnel' } });
  await admin('strict', 'DELETE', `/v1/instances/${inst}/networks/${hnMac}`, { expect: 200 });
  await admin('strict', 'DELETE', `/v1/instances/${inst}/networks/52:54:00:00:00:01`, { expect: 404, code: 'not_found' });
  // snapshots, of the stopped instance
  const snaps = `/v1/instances/${inst}/snapshots`;
  await admin('strict', 'POST', snaps, { expect: 201, body: { name: 'oa-s1' } });
  await admin('strict', 'POST', snaps, { expect: 201, body: { name: 'oa-s2' } });
  await admin('strict', 'POST', snaps, { expect: 409, code: 'already_exists', body: { name: 'oa-s1' } });
  await admin('invalid', 'POST', snaps, { expect: 400, code: 'invalid_argument', body: { name: 'Bad!' } });
  await admin('invalid', 'POST', snaps, { expect: 400, code: 'invalid_argument', body: { name: 'x', keep: true } });
  await admin('strict', 'GET', snaps, { expect: 200 });
  await admin('strict', 'GET', '/v1/instances/oa-zz/snapshots', { expect: 404, code: 'not_found' });
  await admin('strict', 'POST', `${snaps}/oa-s1/revert`, { expect: 409, code: 'conflict' });
  await admin('invalid', 'POST', `${snaps}/oa-s1/revert?discard_newer=maybe`, { expect: 400, code: 'invalid_argument' });
  await admin('strict', 'POST', `${snaps}/oa-s1/revert?discard_newer=true`, { expect: 200 });
  await admin('strict', 'POST', `${snaps}/nope/revert`, { expect: 404, code: 'not_found' });
  await admin('strict', 'DELETE', `${snaps}/oa-s1`, { expect: 204 });
  await admin('strict', 'DELETE', `${snaps}/oa-s1`, { expect: 404, code: 'not_found' });
  await admin('strict', 'POST', `/v1/instances/${inst}/reboot`, { expect: 409, code: 'invalid_state' });
  await admin('strict', 'POST', `/v1/instances/${inst}/qmp`, { expect: 409, code: 'invalid_state', body: { execute: 'query-status' } });
  await admin('strict', 'POST', `/v1/instances/${inst}/resize`, { expect: 200, body: { root_disk_gib: 1, disks: { data: 2 } } });
  await admin('strict', 'POST', `/v1/instances/${inst}/resize`, { expect: 400, code: 'invalid_argument', body: { disks: { data: 1 } } });
  await admin('invalid', 'POST', `/v1/instances/${inst}/resize`, { expect: 400, code: 'invalid_argument', body: { size: 1 } });
  await admin('invalid', 'POST', '/v1/instances', { expect: 400, code: 'invalid_argument',
                                                    body: { name: 'oa-b', image, disks: [{ name: 'x', size_gib: 1, bus: 'ide' }] } });
  await admin('strict', 'POST', `/v1/instances/${inst}/start`, { expect: 200 });
  await admin('strict', 'POST', `/v1/instances/${inst}/resize`, { expect: 409, code: 'invalid_state', body: { root_disk_gib: 2 } });
  // a running instance's snapshot is live; its revert needs it stopped
  await admin('strict', 'POST', snaps, { expect: 201, body: { name: 'oa-s3' } });
  await admin('strict', 'POST', `${snaps}/oa-s3/revert`, { expect: 409, code: 'invalid_state' });
  await admin('strict', 'POST', `/v1/instances/${inst}/qmp`, { expect: 200, body: { execute: 'query-status' } });
  await admin('strict', 'POST', `/v1/instances/${inst}/qmp`, { expect: 403, code: 'forbidden', body: { execute: 'human-monitor-command' } });
  await admin('invalid', 'POST', `/v1/instances/${inst}/qmp`, { expect: 400, code: 'invalid_argument',
                                                               body: { execute: 'query-status', id: 1 } });
  const tail = await admin('strict', 'GET', `/v1/instances/${inst}/console?tail=5`, { expect: 200 });
  if (typeof tail.json?.text !== 'string') fail('GET console: no text');
  await admin('invalid', 'GET', `/v1/instances/${inst}/console?tail=lots`, { expect: 400, code: 'invalid_argument' });
  await admin('invalid', 'GET', `/v1/instances/${inst}/console?follow=maybe`, { expect: 400, code: 'invalid_argument' });
  await admin('strict', 'GET', '/v1/instances/oa-zz/console', { expect: 404, code: 'not_found' });
  {
    const s = await readStream(`/v1/instances/${inst}/console?follow=1&tail=1`, {}, (t) => t.includes('event: console'));
    nRequests++;
    if (s.res.statusCode !== 200 || !(s.res.headers['content-type'] ?? '').startsWith('text/event-stream')
        || !/event: console\ndata: \{/.test(s.text))
      fail(`GET console?follow=1: ${s.res.statusCode} ${JSON.stringify(s.text.slice(0, 200))}`);
  }
  await admin('strict', 'POST', `/v1/instances/${inst}/reboot`, { expect: 200 });
  await admin('strict', 'POST', `/v1/instances/${inst}/reset`, { expect: 200 });
  await admin('invalid', 'POST', `/v1/instances/${inst}/shutdown`, { expect: 400, code: 'invalid_argument', body: { timeout_seconds: 0 } });
  await admin('invalid', 'POST', `/v1/instances/${inst}/start`, { expect: 400, code: 'invalid_argument', body: { force: true } });
  await admin('lenient', 'POST', `/v1/instances/${inst}/stop`, { expect: 415, code: 'unsupported_media_type',
                                                                headers: { 'Content-Type': 'text/plain' } });
  await admin('strict', 'POST', `/v1/instances/${inst}/shutdown`, { expect: 200, body: { timeout_seconds: 1 } });
  await admin('strict', 'POST', `/v1/instances/${inst}/start`, { expect: 200 });

  // the agent listener, while the instance runs
  const uuid = (await admin('strict', 'GET', `/v1/instances/${inst}`, { expect: 200 })).json?.uuid;
  const secret = readFileSync(`${stateDir}/agent-secret`);
  const agentToken = createHmac('sha256', secret).update(uuid).digest('hex');
  const bearer = { Authorization: `Bearer ${agentToken}` };
  await agent('strict', 'POST', '/v1/agent/phone-home', { expect: 200, headers: bearer,
    body: { instance: inst, boot_id: 'b1', agent_version: '1', hostname: inst,
            gpus: [{ index: 0, name: 'A100', utilization_percent: 10, memory_used_mib: 1, memory_total_mib: 80000 }] } });
  await agent('strict', 'POST', '/v1/agent/heartbeat', { expect: 200, headers: bearer,
    body: { instance: inst, boot_id: 'b1', seq: 1, system: { load1: 0.5, mem_total_kib: 262144 } } });
  await agent('strict', 'POST', '/v1/agent/heartbeat', { expect: 401, code: 'unauthorized',
    headers: { Authorization: `Bearer ${'0'.repeat(64)}` }, body: { instance: inst } });
  await agent('invalid', 'POST', '/v1/agent/heartbeat', { expect: 401, code: 'unauthorized', body: { instance: inst } });
  await agent('invalid', 'POST', '/v1/agent/heartbeat', { expect: 400, code: 'invalid_argument', headers: bearer,
    body: { instance: inst, gpus: [{ utilization_percent: 200 }] } });
  await agent('invalid', 'POST', '/v1/agent/phone-home', { expect: 400, code: 'invalid_argument', headers: bearer,
    body: { instance: 'NOT A NAME' } });
  await agent('invalid', 'POST', '/v1/agent/phone-home', { expect: 400, code: 'invalid_argument', headers: bearer, body: {} });
  await agent('direct', 'POST', '/v1/agent/phone-home', { expect: 400, code: 'invalid_json', headers: bearer, raw: '{' });
  await agent('invalid', 'POST', '/v1/agent/phone-home', { expect: 415, code: 'unsupported_media_type',
    headers: { ...bearer, 'Content-Type': 'text/plain' }, raw: '{}' });
  await agent('invalid', 'POST', '/v1/agent/phone-home', { expect: 413, code: 'payload_too_large', headers: bearer,
    body: { instance: inst, kernel: 'k'.repeat(70 * 1024) } });
  await agent('direct', 'POST', '/v1/agent/heartbeat', { expect: 411, code: 'length_required', headers: bearer,
    chunked: true, raw: '{}' });

  // events, read directly
  const ev = await readEvents({ 'Last-Event-ID': '0' }, (t) => t.includes('event: instance.created'));
  if (ev.res.statusCode !== 200 || !(ev.res.headers['content-type'] ?? '').startsWith('text/event-stream'))
    fail(`GET /v1/events: ${ev.res.statusCode} ${ev.res.headers['content-type']}`);
  else {
    nRequests++;
    covered.set('admin GET /v1/events', new Set([200]));
    if (!ev.text.startsWith(': gpuvmd events\n\n')) fail('GET /v1/events: the stream does not open with its comment');
    for (const block of ev.text.split('\n\n').slice(1)) {
      if (block === '') continue;
      const mm = block.match(/^id: (\d+)\nevent: (\S+)\ndata: (.*)$/);
      if (!mm) { fail(`GET /v1/events: malformed event ${JSON.stringify(block)}`); continue; }
      if (!EVENT_TYPES.includes(mm[2])) fail(`GET /v1/events: undocumented event type ${mm[2]}`);
      const data = JSON.parse(mm[3]);
      if (typeof data.time !== 'string') fail(`GET /v1/events: ${mm[2]} without time`);
    }
    if (ev.timedOut) fail('GET /v1/events: no instance.created event replayed');
  }
  await admin('invalid', 'GET', '/v1/events', { expect: 400, code: 'invalid_argument', headers: { 'Last-Event-ID': 'abc' } });
  await admin('invalid', 'GET', '/v1/events', { expect: 401, code: 'unauthorized', auth: false });
  {
    const close = await openStreams(64);
    await admin('strict', 'GET', '/v1/events', { expect: 503, code: 'not_ready' });
    close();
  }

  // the end of the instance and the image
  await admin('strict', 'DELETE', `/v1/images/${image}`, { expect: 409, code: 'conflict' });
  await admin('strict', 'POST', `/v1/instances/${inst}/stop`, { expect: 200 });
  await admin('strict', 'DELETE', `/v1/instances/${inst}`, { expect: 204 });
  await admin('strict', 'DELETE', `/v1/instances/${inst}`, { expect: 404, code: 'not_found' });
  await admin('strict', 'POST', `/v1/instances/${inst}/stop`, { expect: 404, code: 'not_found' });
  await admin('strict', 'DELETE', `/v1/images/${image}`, { expect: 204 });
  await admin('strict', 'DELETE', '/v1/devices/gpu0', { expect: 204 });

  // rate limits and connection caps last: they change what follows
  for (let i = 0; i < 25; i++)
    await send(bases.agent.direct, 'POST', '/v1/agent/heartbeat', { headers: { 'Content-Type': 'application/json',
      Authorization: 'Bearer x' }, body: { instance: 'oa-z' } });
  nRequests += 25;
  const limited = await agent('strict', 'POST', '/v1/agent/heartbeat', { expect: 429, code: 'too_many_requests',
    headers: { Authorization: 'Bearer y' }, body: { instance: 'oa-z' } });
  if (!/^[0-9]+$/.test(limited.headers['retry-after'] ?? '')) fail('429 without Retry-After');
  {
    const close = await holdConnections(bases.agent.direct, agentMaxConnections);
    const full = await agent('strict', 'POST', '/v1/agent/heartbeat', { expect: 503, code: 'unavailable',
      headers: bearer, body: { instance: inst } });
    if (!/^[0-9]+$/.test(full.headers['retry-after'] ?? '')) fail('503 unavailable without Retry-After');
    close();
  }

  // Outside the operations: unknown paths and methods (the route table).
  for (const [method, path, status, allow] of [['GET', '/v1/nope', 404], ['GET', '/v1/instances/', 404],
    ['GET', '/v1/instances/oa-a/start', 405, 'POST'], ['PUT', '/v1/instances', 405, 'GET, POST'],
    ['DELETE', '/healthz', 405, 'GET, HEAD'], ['POST', '/v1/devices/gpu0', 405, 'GET, HEAD, DELETE']]) {
    const res = await admin('direct', method, path, { expect: status,
                                                      code: status === 404 ? 'not_found' : 'method_not_allowed' });
    if (allow !== undefined && res.headers.allow !== allow)
      fail(`${method} ${path}: Allow is ${res.headers.allow}, expected ${allow}`);
  }
}

// Codes this session cannot provoke on a fixture host with a shared
// libvirtd, and why (each is covered by a C test named here).
const UNREACHABLE = {
  internal: 'no route answers it unless the code is broken',
  io_error: 'a failed registry write needs a broken file system (tests/test-api-devices)',
  invalid_config: 'configuration errors stop the daemon before it listens (tests/test-config)',
  libvirt_unavailable: 'needs libvirtd stopped, which is shared here (tests/test-faults)',
  timeout: 'needs libvirtd frozen (tests/test-instances deadline__*)',
  device_busy: 'needs host processes holding a passed-through GPU (tests/test-vfio)',
  device_quarantined: 'needs a GPU failing its post-stop check (tests/test-device-health)',
  group_conflict: 'not on the server-8gpu fixture (tests/test-vfio-plan)',
  weakened_isolation: 'not on the server-8gpu fixture (tests/test-vfio-plan)',
  no_iommu: 'not on the server-8gpu fixture (tests/test-vfio-plan)',
};

async function main() {
  const nServed = checkRouteTable();
  await session();
  for (const o of operations)
    if (!covered.has(opKey(o))) fail(`coverage: ${opKey(o)} was never answered through the strict proxy or directly`);
  const allCodes = spec.components.schemas.ErrorCode.enum;
  const missing = allCodes.filter((c) => !codesSeen.has(c) && !(c in UNREACHABLE));
  for (const c of missing) fail(`coverage: error code ${c} never answered and not listed as unreachable`);
  for (const c of Object.keys(UNREACHABLE))
    if (codesSeen.has(c)) fail(`coverage: ${c} is listed as unreachable but was answered: drop it from the list`);
  console.log(`routes: ${nServed} served, ${operations.length} documented, ${covered.size} exercised`);
  console.log(`session: ${nRequests} requests; error codes answered: ${codesSeen.size} of ${allCodes.length}` +
              ` (${[...codesSeen].sort().join(', ')}); not provoked: ${Object.keys(UNREACHABLE).join(', ')}`);
  console.log(`response violations: ${violationsSeen.length}`);
  if (failures.length > 0) {
    console.log(`openapi contract: ${failures.length} failure(s)`);
    process.exit(1);
  }
  console.log('openapi contract: ok');
}

main().catch((e) => { console.log(`FAIL ${e.stack}`); process.exit(1); });

// End to end: the official `openai` npm client against `switchyard serve`, with the sim
// provider and the stub provider (`switchyard stub-provider`) behind it. Usage:
//   node tests/e2e/gateway.e2e.mjs <switchyard binary> <scratch dir>
// Starts both servers on 127.0.0.1 ephemeral ports, runs the checks, stops them, and
// exits non-zero on the first failure. Bounded: the whole run is killed after 60 s.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const [switchyard, scratch] = process.argv.slice(2);
if (!switchyard || !scratch) {
  console.error('usage: gateway.e2e.mjs <switchyard binary> <scratch dir>');
  process.exit(2);
}

let OpenAI;
try {
  ({ default: OpenAI } = await import('openai'));
} catch (e) {
  console.error(`FAIL: the openai npm package is not installed in ${here}: run ` +
                `scripts/setup (it runs npm ci there). ${e.message}`);
  process.exit(1);
}

const children = [];
const stopAll = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'); };
const watchdog = setTimeout(() => {
  console.error('FAIL: e2e run took longer than 60 s');
  stopAll();
  process.exit(1);
}, 60000);

// Starts `args` and resolves with the first stdout line matching `pattern`.
function startServer(name, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(switchyard, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '', err = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(pattern);
      if (m) resolve(m[1]);
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before it listened:\n${out}\n${err}`)));
  });
}

let passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}\n${e.stack || e}`);
    stopAll();
    process.exit(1);
  }
}

rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });

// 1. The stub provider: its "stub-tools" model calls the first tool it is offered.
const script = join(scratch, 'stub-script.json');
writeFileSync(script, JSON.stringify({ models: { 'stub-tools': { tool_calls: true } } }));
const stubUrl = await startServer('stub-provider',
  ['stub-provider', '--port', '0', '--script', script, '--max-seconds', '60'],
  /listening on (http:\/\/127\.0\.0\.1:\d+)/);

// 2. A config: the default sim catalog plus two models on the stub.
const cfg = JSON.parse(readFileSync(join(here, '../../examples/configs/default.json'), 'utf8'));
// Its relative paths (route examples, support data) are relative to its own folder.
const configDir = join(here, '../../examples/configs');
const absolute = (p) => (isAbsolute(p) ? p : resolve(configDir, p));
for (const route of cfg.router?.routes ?? [])
  if (route.examples_file) route.examples_file = absolute(route.examples_file);
for (const key of ['knowledge_base', 'orders'])
  if (cfg.support?.[key]) cfg.support[key] = absolute(cfg.support[key]);
cfg.providers.push({ name: 'stub', kind: 'openai', base_url: `${stubUrl}/v1`,
                     connect_timeout_ms: 1000, first_byte_timeout_ms: 10000,
                     total_timeout_ms: 20000 });
cfg.models.push(
  { id: 'stub-chat', provider: 'stub', tier: 'frontier', price_in_per_mtok: 1,
    price_out_per_mtok: 2, context_window: 32000, capabilities: [], residency: 'cloud' },
  { id: 'stub-tools', provider: 'stub', tier: 'frontier', price_in_per_mtok: 1,
    price_out_per_mtok: 2, context_window: 32000, capabilities: ['tools'], residency: 'cloud' });
cfg.gateway = { audit: { path: join(scratch, 'audit.jsonl') } };
const cfgPath = join(scratch, 'config.json');
writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));

// 3. A key, then the gateway.
const keysDb = join(scratch, 'keys');
const created = JSON.parse(execFileSync(switchyard,
  ['keys', 'create', '--name', 'e2e', '--db', keysDb, '--json'], { encoding: 'utf8' }));
const gatewayUrl = await startServer('serve',
  ['serve', '--config', cfgPath, '--listen', '127.0.0.1:0', '--no-db', '--keys-db', keysDb,
   '--exit-after', '60', '--log-level', 'warn'],
  /listening on (http:\/\/127\.0\.0\.1:\d+)/);

const client = new OpenAI({ apiKey: created.key, baseURL: `${gatewayUrl}/v1`, maxRetries: 0,
                            timeout: 20000 });
const ask = (text) => [{ role: 'user', content: text }];

await check('a plain completion (sim, pinned by tier) with the x-switchyard headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'local', messages: ask('How do I reset my password?') }).withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.ok(data.choices[0].message.content.length > 0, 'empty content');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.total_tokens > 0);
  assert.equal(response.headers.get('x-switchyard-tier'), 'local');
  assert.equal(response.headers.get('x-switchyard-model'), data.model);
  assert.match(response.headers.get('x-switchyard-cost-usd'), /^\d+\.\d+$/);
});

await check('a streamed completion (stub, real SSE deltas) ends with usage and [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model: 'stub-chat', messages: ask('tell me a story'), stream: true,
    stream_options: { include_usage: true } });
  let text = '', chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.choices[0]) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, '[stub stub-chat] You said: tell me a story');
  assert.ok(chunks >= 5, `only ${chunks} chunks`);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0, 'no usage chunk');
});

await check('a streamed completion\'s headers name the model, tier and route (raw fetch)', async () => {
  const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json',
               'x-switchyard-route': 'track_order' },
    body: JSON.stringify({ model: 'stub-chat', stream: true, messages: ask('where is it?') }) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  // Sent with the status line, before the first delta: from the model service's
  // routed message. Downgraded is only known at the end (final chunk's x_switchyard).
  assert.equal(res.headers.get('x-switchyard-model'), 'stub-chat');
  assert.equal(res.headers.get('x-switchyard-tier'), 'frontier');
  assert.equal(res.headers.get('x-switchyard-route'), 'track_order');
  const body = await res.text();
  assert.ok(body.includes('data: [DONE]'), 'stream did not end');
});

await check('a streamed completion from a provider that answers whole (sim)', async () => {
  const stream = await client.chat.completions.create({
    model: 'auto', messages: ask('hello'), stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0);
});

const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather now',
  parameters: { type: 'object', properties: { input: { type: 'string' } } } } };

await check('a tool call comes back with its name and JSON arguments', async () => {
  const { data, response } = await client.chat.completions.create({
    model: 'stub-tools', messages: ask('weather in Oslo?'), tools: [weatherTool],
  }).withResponse();
  const choice = data.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments),
                   { input: 'weather in Oslo?' });
  assert.equal(response.headers.get('x-switchyard-model'), 'stub-tools');
});

await check('a streamed tool call assembles from its argument fragments', async () => {
  const stream = await client.chat.completions.create({
    model: 'stub-tools', messages: ask('weather in Bergen?'), tools: [weatherTool], stream: true });
  let name = '', args = '', finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    for (const call of choice.delta.tool_calls ?? []) {
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { input: 'weather in Bergen?' });
  assert.equal(finish, 'tool_calls');
});

await check('a request with tools and model auto only goes to a tool-capable model', async () => {
  const { response } = await client.chat.completions.create({
    model: 'auto', messages: ask('weather?'), tools: [weatherTool] }).withResponse();
  const model = response.headers.get('x-switchyard-model');
  const caps = cfg.models.find((m) => m.id === model).capabilities;
  assert.ok(caps.includes('tools'), `${model} lacks tools`);
});

await check('a wrong key gets 401 in OpenAI\'s error format', async () => {
  const bad = new OpenAI({ apiKey: 'sy-000000000000-' + '0'.repeat(64),
                           baseURL: `${gatewayUrl}/v1`, maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'auto', messages: ask('hi') }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 &&
           e.code === 'invalid_api_key' && !String(e.message).includes('0000000000000000'));
});

await check('an invalid request gets 400 naming the field', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'auto', messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'messages');
  await assert.rejects(client.chat.completions.create(
      { model: 'auto', messages: [{ role: 'robot', content: 'x' }] }),
    (e) => e.status === 400 && e.param === 'messages[0].role');
});

await check('models list has auto, the tiers and the catalog', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const id of ['auto', 'local', 'mid', 'frontier', 'stub-chat']) assert.ok(ids.includes(id), id);
});

await check('a workflow run waits for its result; audit has one line per model call', async () => {
  const res = await fetch(`${gatewayUrl}/v1/workflows/hello/runs`, {
    method: 'POST', headers: { authorization: `Bearer ${created.key}` },
    body: JSON.stringify({ input: 'Where is my order?' }) });
  assert.equal(res.status, 200);
  const run = await res.json();
  assert.equal(run.status, 'completed');
  const again = await fetch(`${gatewayUrl}/v1/runs/${run.run_id}`,
                            { headers: { authorization: `Bearer ${created.key}` } });
  assert.equal((await again.json()).status, 'completed');
  const audit = readFileSync(join(scratch, 'audit.jsonl'), 'utf8').trim().split('\n').map(JSON.parse);
  assert.ok(audit.length >= 5, `${audit.length} audit lines`);
  for (const rec of audit) {
    assert.equal(rec.key_id, created.id);
    assert.ok(!JSON.stringify(rec).includes(created.key), 'key in audit');
  }
});

await check('/metrics has the gateway counters and the model service breakers', async () => {
  const res = await fetch(`${gatewayUrl}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /switchyard_model_calls_total\{[^}]*\} [1-9]/);
  assert.match(text, /switchyard_resilience_calls_total [1-9]/);
  assert.match(text, /switchyard_breaker_state\{endpoint="[^"]+",state="closed"\} 1/);
});

// After the audit check: its calls are by another key.
await check('switchyard keys create/list/revoke work while serve holds the key database', async () => {
  const run = (args) => execFileSync(switchyard, ['keys', ...args, '--db', keysDb, '--json'],
                                     { encoding: 'utf8' });
  const live = JSON.parse(run(['create', '--name', 'live', '--rpm', '100']));
  assert.match(live.key, /^sy-[0-9a-f]{12}-[0-9a-f]{64}$/);
  const liveClient = new OpenAI({ apiKey: live.key, baseURL: `${gatewayUrl}/v1`, maxRetries: 0 });
  const reply = await liveClient.chat.completions.create({ model: 'local', messages: ask('hi') });
  assert.equal(reply.object, 'chat.completion');
  const listed = run(['list']).trim().split('\n').map(JSON.parse);
  assert.ok(listed.some((k) => k.id === live.id && !k.revoked), 'new key not listed');
  assert.ok(!JSON.stringify(listed).includes(live.key), 'key in the list');
  execFileSync(switchyard, ['keys', 'revoke', live.id, '--db', keysDb], { encoding: 'utf8' });
  await assert.rejects(liveClient.chat.completions.create({ model: 'local', messages: ask('hi') }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

// Both servers must stop on SIGTERM, promptly: a hang at shutdown is a failure.
await check('switchyard serve and the stub stop within 5 s of SIGTERM', async () => {
  const exited = children.map((c) => (c.exitCode !== null ? Promise.resolve()
                                                           : new Promise((r) => c.on('exit', r))));
  stopAll();
  const late = setTimeout(() => {}, 5000);
  const result = await Promise.race([Promise.all(exited).then(() => 'stopped'),
                                     new Promise((r) => setTimeout(() => r('hung'), 5000))]);
  clearTimeout(late);
  if (result !== 'stopped') for (const c of children) c.kill('SIGKILL');
  assert.equal(result, 'stopped');
  for (const c of children) assert.equal(c.exitCode, 0, `${c.spawnargs[1]} exit code`);
});

clearTimeout(watchdog);
console.log(`e2e: ${passed} checks passed`);

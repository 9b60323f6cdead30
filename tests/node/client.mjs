// tests/node/client.mjs - drives `looplynx serve` with the official openai
// client for Node.js.  tests/test_serve_node.c starts the server and runs
//   node client.mjs BASE_URL API_KEY MODEL_ID MODE [ARGS]
// MODE "api": a completion, a streamed completion, stop sequences, a chat
// request (with ARGS "chat": plain and streamed, a system prompt, a role
// refused; else the 400 of a model without a template), and
// the errors the client maps to its own exception classes.
// MODE "load CLIENTS REQUESTS TOKENS": CLIENTS concurrent streaming clients
// share REQUESTS requests of TOKENS tokens each; every one must finish with
// exactly TOKENS tokens and no error.
// Prints "ok <check>" per passed check; any failure throws (exit 1).
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [base, apiKey, model, mode, ...rest] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 120000 });

function ok(what) {
  console.log(`ok ${what}`);
}

async function collect(stream) {
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text ?? c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}

async function expectError(cls, status, fn, what) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof cls, `${what}: got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, status, what);
    assert.ok(e.error?.message, `${what}: no error message`);
    ok(what);
    return e;
  }
  assert.fail(`${what}: no error`);
}

async function api(chatTemplate) {
  const prompt = 'The engine runs a ring of nodes';
  const plain = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0 });
  assert.equal(plain.object, 'text_completion');
  assert.equal(plain.choices.length, 1);
  assert.equal(plain.choices[0].finish_reason, 'length');
  assert.equal(plain.usage.completion_tokens, 16);
  assert.equal(plain.usage.total_tokens, plain.usage.prompt_tokens + 16);
  assert.ok(plain.choices[0].text.length > 0);
  ok('completion');

  const streamed = await collect(await client.completions.create({
    model, prompt, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
  }));
  assert.equal(streamed.text, plain.choices[0].text);
  assert.equal(streamed.finish, 'length');
  assert.equal(streamed.usage.completion_tokens, 16);
  ok('streamed completion equals the plain one');

  const seeded = { model, prompt, max_tokens: 12, temperature: 1.0, top_p: 0.9, seed: 1234 };
  const s1 = await client.completions.create(seeded);
  const s2 = await client.completions.create(seeded);
  assert.equal(s1.choices[0].text, s2.choices[0].text);
  ok('same seed, same text');

  // a stop sequence from the middle of the greedy text
  const full = plain.choices[0].text;
  const m = /[A-Za-z]{2,}/.exec(full.slice(3));
  assert.ok(m, `no letters to stop on in ${JSON.stringify(full)}`);
  const stop = m[0].slice(0, 2);
  const cut = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, stop: ['\u0001', stop] });
  assert.equal(cut.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
  const cutStream = await collect(await client.completions.create({
    model, prompt, max_tokens: 16, temperature: 0, stop, stream: true,
  }));
  assert.equal(cutStream.text, cut.choices[0].text);
  assert.equal(cutStream.finish, 'stop');
  ok('stop sequences');

  const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Name a ring.' }];
  if (chatTemplate) {
    const chat = await collect(await client.chat.completions.create({
      model, messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
    }));
    assert.equal(chat.usage.completion_tokens <= 10, true);
    assert.ok(chat.finish === 'length' || chat.finish === 'stop');
    const plainChat = await client.chat.completions.create({ model, messages, max_tokens: 10, temperature: 0 });
    assert.equal(plainChat.choices[0].message.role, 'assistant');
    assert.equal(plainChat.choices[0].message.content, chat.text);
    ok('streamed chat');
    assert.equal(plainChat.object, 'chat.completion');
    assert.ok(plainChat.id.startsWith('chatcmpl-'));
    assert.equal(plainChat.usage.total_tokens, plainChat.usage.prompt_tokens + plainChat.usage.completion_tokens);
    assert.ok(!/<\|(im_start|im_end|eot_id|begin_of_text|end_of_text)\|>/.test(plainChat.choices[0].message.content));
    // the system prompt is part of the rendered prompt
    const userOnly = await client.chat.completions.create({ model, messages: messages.slice(1), max_tokens: 1 });
    assert.ok(userOnly.usage.prompt_tokens < plainChat.usage.prompt_tokens);
    ok('chat with a system prompt');
    const e = await expectError(OpenAI.BadRequestError, 400,
      () => client.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'hi' }] }), 'chat roles refused');
    assert.equal(e.code, 'invalid_value');
    assert.equal(e.param, 'messages.role');
  } else {
    const e = await expectError(OpenAI.BadRequestError, 400,
      () => client.chat.completions.create({ model, messages, stream: true }), 'chat without a template is a 400');
    assert.equal(e.code, 'chat_template_missing');
  }

  await expectError(OpenAI.NotFoundError, 404,
    () => client.completions.create({ model: 'no-such-model', prompt, max_tokens: 2 }), 'unknown model is a 404');
  await expectError(OpenAI.BadRequestError, 400,
    () => client.completions.create({ model, prompt, max_tokens: 100000 }), 'max_tokens past the context is a 400');
  await expectError(OpenAI.BadRequestError, 400,
    () => client.completions.create({ model, prompt, temperature: 'warm' }), 'a wrong type is a 400');
  const wrongKey = new OpenAI({ baseURL: `${base}/v1`, apiKey: `${apiKey}x`, maxRetries: 0 });
  await expectError(OpenAI.AuthenticationError, 401,
    () => wrongKey.completions.create({ model, prompt, max_tokens: 2 }), 'a wrong API key is a 401');

  const models = await client.models.list();
  assert.deepEqual(models.data.map((x) => x.id), [model]);
  ok('models');
}

async function load(clients, requests, tokens) {
  let next = 0;
  let done = 0;
  const texts = new Map();
  async function worker(w) {
    while (next < requests) {
      const i = next++;
      const prompt = `request ${i % 8} of the load test`;
      const r = await collect(await client.completions.create({
        model, prompt, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true },
      }));
      assert.equal(r.finish, 'length', `request ${i} (client ${w})`);
      assert.equal(r.usage.completion_tokens, tokens, `request ${i}`);
      // greedy: the same prompt gives the same text whatever ran beside it
      const key = i % 8;
      if (texts.has(key)) assert.equal(r.text, texts.get(key), `request ${i} differs from its twin`);
      else texts.set(key, r.text);
      done++;
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  assert.equal(done, requests);
  ok(`load: ${requests} requests over ${clients} clients, ${tokens} tokens each`);
}

if (mode === 'api') await api(rest[0] === 'chat');
else if (mode === 'load') await load(Number(rest[0]), Number(rest[1]), Number(rest[2]));
else throw new Error(`unknown mode ${mode}`);
